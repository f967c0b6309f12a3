// Download throughput from the disk store (issue 11, goal 5): a BENCH_DOWNLOAD_MB
// (default 1024) MB file fetched through Cabinet's presigned disk URL, whole and
// as a Range of its second half, against a plain Node HTTP server streaming the
// same file with fs.createReadStream on the same machine, interleaved, ROUNDS
// times. Both servers run in this process with the client (node:http, body
// discarded), so each figure includes the same client cost; CPU is this
// process's user+system time per GiB. Goal: Cabinet >= 0.9 of the plain server.
//
//   npx tsx bench/download.ts            BENCH_DOWNLOAD_MB=256 npx tsx bench/download.ts
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import http from "node:http";
import { freePort } from "../src/free-port.ts";
import { DiskBlobStore } from "../src/storage/disk/disk-blob-store.ts";
import { type BenchEnv, log, round, runBench } from "./_support.ts";

const MiB = 1024 * 1024;
const SIZE_MB = Number(process.env.BENCH_DOWNLOAD_MB ?? 1024);
const ROUNDS = Number(process.env.BENCH_DOWNLOAD_ROUNDS ?? 3);
const GOAL = 0.9;

type Sample = { mbPerS: number; cpuMsPerGiB: number };

/** GETs `url` and discards the body; throughput and this process's CPU per GiB. */
function download(url: string, headers: Record<string, string> = {}): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    http
      .get(url, { headers }, (res) => {
        if (res.statusCode !== 200 && res.statusCode !== 206) return reject(new Error(`HTTP ${res.statusCode} from ${url}`));
        let bytes = 0;
        res.on("data", (chunk: Buffer) => (bytes += chunk.length));
        res.on("end", () => {
          const seconds = (performance.now() - t0) / 1000;
          const cpu = process.cpuUsage(cpu0);
          resolve({ mbPerS: bytes / MiB / seconds, cpuMsPerGiB: (cpu.user + cpu.system) / 1000 / (bytes / (1024 * MiB)) });
        });
        res.on("error", reject);
      })
      .on("error", reject);
  });
}

/** The plain baseline: stat, headers, Range, createReadStream piped to the response. */
async function startPlainServer(file: string): Promise<{ url: string; close: () => Promise<void> }> {
  const size = (await stat(file)).size;
  const server = http.createServer((req, res) => {
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
    const start = m ? Number(m[1]) : 0;
    const end = m?.[2] ? Number(m[2]) : size - 1;
    res.writeHead(m ? 206 : 200, { "content-type": "application/octet-stream", "content-length": String(end - start + 1) });
    createReadStream(file, { start, end }).pipe(res);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${port}/file`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

async function seedFile(env: BenchEnv): Promise<{ url: string; file: string }> {
  // Uploaded as a raw body from a generator, never a whole buffer in memory.
  const chunk = Buffer.alloc(MiB, 7);
  async function* body() {
    for (let i = 0; i < SIZE_MB; i++) yield chunk;
  }
  const pathId = Buffer.from("big.bin").toString("base64url");
  const base = `${env.url}/api/v1/space/${env.spaceId}/storage/${pathId}`;
  const auth = { authorization: `Bearer ${env.token}` };
  const up = await fetch(`${base}/upload`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/octet-stream" },
    body: body() as unknown as BodyInit,
    duplex: "half",
  } as RequestInit);
  if (up.status !== 200) throw new Error(`upload failed: ${up.status} ${await up.text()}`);
  const { url } = (await (await fetch(base, { headers: { ...auth, accept: "application/json" } })).json()) as { url: string };
  const { rows } = await env.sql.query<{ key: string }>(
    `SELECT b.key FROM entries e JOIN blobs b ON b.id = e.blob_id WHERE e.space_id = $1 AND e.name = 'big.bin'`,
    [env.spaceId],
  );
  const store = env.deps.blobStore;
  if (!(store instanceof DiskBlobStore)) throw new Error("this bench measures the disk store");
  return { url, file: store.pathFor(rows[0]!.key) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

await runBench("download", async (env, summary) => {
  const { url, file } = await seedFile(env);
  const plain = await startPlainServer(file);
  const half = { range: `bytes=${(SIZE_MB * MiB) / 2}-` };
  const cases = {
    whole: { cabinet: [] as Sample[], plain: [] as Sample[] },
    range: { cabinet: [] as Sample[], plain: [] as Sample[] },
  };
  try {
    for (let r = 0; r < ROUNDS; r++) {
      // Interleaved, and the order alternates, so drift on a shared machine hits both alike.
      const order = r % 2 ? (["plain", "cabinet"] as const) : (["cabinet", "plain"] as const);
      for (const who of order) {
        const target = who === "cabinet" ? url : plain.url;
        cases.whole[who].push(await download(target));
        cases.range[who].push(await download(target, half));
      }
    }
  } finally {
    await plain.close();
  }
  let pass = true;
  for (const [name, c] of Object.entries(cases)) {
    const cab = median(c.cabinet.map((s) => s.mbPerS));
    const base = median(c.plain.map((s) => s.mbPerS));
    const cabCpu = median(c.cabinet.map((s) => s.cpuMsPerGiB));
    const baseCpu = median(c.plain.map((s) => s.cpuMsPerGiB));
    const ratio = cab / base;
    log(
      `  ${name}: Cabinet ${cab.toFixed(0)} MB/s, plain Node ${base.toFixed(0)} MB/s: ratio ${ratio.toFixed(2)} (goal >= ${GOAL}); CPU ${cabCpu.toFixed(0)} vs ${baseCpu.toFixed(0)} ms/GiB (${(cabCpu / baseCpu).toFixed(2)}x)`,
    );
    summary[name] = { cabinetMBps: round(cab, 1), plainMBps: round(base, 1), ratio: round(ratio, 3), cpuRatio: round(cabCpu / baseCpu, 3) };
    if (ratio < GOAL) pass = false;
  }
  summary.sizeMB = SIZE_MB;
  return pass;
});
