// Large-upload throughput (issue 11, goal 4): a BENCH_UPLOAD_MB (default 1024) MB
// body through each upload path, against a plain Node HTTP server that hashes the
// body (sha256) and writes it to a file on the same disk, interleaved, ROUNDS
// times. Paths: REST raw body, REST multipart, GraphQL multipart (the upload
// spec), two-stage (JSON spec, then PUT to the presigned disk URL) and two-stage
// with a declared sha256. Servers and client share this process; the client is
// node:http writing one reused 1 MiB chunk with backpressure, so every case pays
// the same client cost. CPU is this process's user+system time per GiB.
// Goal: every path >= 0.9 of the baseline's MB/s with CPU per GiB <= 1.3x.
//
//   npx tsx bench/upload-throughput.ts      BENCH_UPLOAD_MB=256 npx tsx bench/upload-throughput.ts
import { createHash, randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { freePort } from "../src/free-port.ts";
import { type BenchEnv, log, round, runBench } from "./_support.ts";

const MiB = 1024 * 1024;
const SIZE_MB = Number(process.env.BENCH_UPLOAD_MB ?? 1024);
const ROUNDS = Number(process.env.BENCH_UPLOAD_ROUNDS ?? 3);
const GOAL_SPEED = 0.9;
const GOAL_CPU = 1.3;
const CHUNK = randomBytes(MiB);
const SIZE = SIZE_MB * MiB;
const BODY_SHA256 = (() => {
  const h = createHash("sha256");
  for (let i = 0; i < SIZE_MB; i++) h.update(CHUNK);
  return h.digest("hex");
})();

type Sample = { mbPerS: number; cpuMsPerGiB: number };
type Request = { method: string; url: string; headers: Record<string, string>; prefix?: Buffer; suffix?: Buffer };

/** Sends prefix + SIZE bytes + suffix with Content-Length and backpressure; resolves with the answer. */
function send(req: Request): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const prefix = req.prefix ?? Buffer.alloc(0);
    const suffix = req.suffix ?? Buffer.alloc(0);
    const r = http.request(
      req.url,
      { method: req.method, headers: { ...req.headers, "content-length": String(prefix.length + SIZE + suffix.length) } },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    r.on("error", reject);
    (async () => {
      const write = (b: Buffer) => (r.write(b) ? Promise.resolve() : new Promise<void>((ok) => r.once("drain", () => ok())));
      if (prefix.length) await write(prefix);
      for (let i = 0; i < SIZE_MB; i++) await write(CHUNK);
      r.end(suffix.length ? suffix : undefined);
    })().catch(reject);
  });
}

async function measure(run: () => Promise<void>): Promise<Sample> {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await run();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { mbPerS: SIZE_MB / seconds, cpuMsPerGiB: (cpu.user + cpu.system) / 1000 / (SIZE / (1024 * MiB)) };
}

/** The baseline: what a bare Node server does for an upload, hash + write to disk. */
async function startPlainServer(dir: string) {
  let n = 0;
  const server = http.createServer(async (req, res) => {
    const file = path.join(dir, `upload-${n++}`);
    const hash = createHash("sha256");
    req.on("data", (chunk: Buffer) => hash.update(chunk));
    await pipeline(req, createWriteStream(file));
    res.end(JSON.stringify({ sha256: hash.digest("hex") }));
    await rm(file, { force: true });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${port}/upload`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const multipart = (fields: [string, string][], fileField: string) => {
  const boundary = `----cabinet${randomBytes(8).toString("hex")}`;
  const head = fields.map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`).join("");
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    prefix: Buffer.from(
      `${head}--${boundary}\r\nContent-Disposition: form-data; name="${fileField}"; filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`,
    ),
    suffix: Buffer.from(`\r\n--${boundary}--\r\n`),
  };
};

function cabinetCases(env: BenchEnv) {
  const auth = { authorization: `Bearer ${env.token}` };
  let n = 0;
  const storage = () => `${env.url}/api/v1/space/${env.spaceId}/storage/${Buffer.from(`big/${n++}.bin`).toString("base64url")}`;
  const expectOk = (what: string, res: { status: number; body: string }) => {
    if (res.status !== 200) throw new Error(`${what}: HTTP ${res.status} ${res.body.slice(0, 300)}`);
    return JSON.parse(res.body || "{}") as Record<string, unknown>;
  };
  // Each stored file is deleted at once (its bytes purged in the request's wake): the disk does not fill up.
  const remove = async (url: string) => {
    const res = await fetch(url, { method: "DELETE", headers: auth });
    if (res.status !== 200) throw new Error(`delete: HTTP ${res.status}`);
  };
  const twoStage = async (sha256?: string) => {
    const url = storage();
    const spec = await fetch(`${url}/upload`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ file: { type: "application/octet-stream", size: SIZE, ...(sha256 ? { sha256 } : {}) } }),
    });
    const { uploadRequest } = (await spec.json()) as { uploadRequest: { method: string; url: string; headers: Record<string, string> } };
    const headers = Object.fromEntries(Object.entries(uploadRequest.headers).filter(([k]) => k.toLowerCase() !== "content-length"));
    expectOk("two-stage PUT", await send({ method: uploadRequest.method, url: uploadRequest.url, headers }));
    await remove(url);
  };
  return {
    "REST raw": async () => {
      const url = storage();
      expectOk("REST raw", await send({ method: "POST", url: `${url}/upload`, headers: { ...auth, "content-type": "application/octet-stream" } }));
      await remove(url);
    },
    "REST multipart": async () => {
      const url = storage();
      const form = multipart([], "file");
      expectOk("REST multipart", await send({ method: "POST", url: `${url}/upload`, headers: { ...auth, "content-type": form.contentType }, ...form }));
      await remove(url);
    },
    "GraphQL multipart": async () => {
      const file = `big/${n++}.bin`;
      const operations = JSON.stringify({
        query: "mutation($input: UploadAssetInput!) { uploadAsset(input: $input) { id size } }",
        variables: { input: { spaceId: env.spaceId, path: file, file: null } },
      });
      const form = multipart(
        [
          ["operations", operations],
          ["map", JSON.stringify({ 0: ["variables.input.file"] })],
        ],
        "0",
      );
      const res = await send({ method: "POST", url: `${env.url}/graphql`, headers: { ...auth, "content-type": form.contentType }, ...form });
      const body = expectOk("GraphQL multipart", res) as { errors?: unknown; data?: { uploadAsset: { id: string } } };
      if (body.errors) throw new Error(`GraphQL multipart: ${JSON.stringify(body.errors)}`);
      await remove(`${env.url}/api/v1/space/${env.spaceId}/storage/${Buffer.from(file).toString("base64url")}`);
    },
    "two-stage": () => twoStage(),
    "two-stage + sha256": () => twoStage(BODY_SHA256),
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

await runBench("upload-throughput", async (env, summary) => {
  await env.sql.query(`UPDATE organizations SET quota_bytes = $1, max_file_size_bytes = $1`, [String(64 * 1024 * MiB)]);
  const dir = await mkdtemp(path.join(path.dirname(env.deps.config.data.dir), "plain-"));
  const plain = await startPlainServer(dir);
  // BENCH_UPLOAD_CASES="REST raw,two-stage" measures only those paths (for profiling one).
  const only = process.env.BENCH_UPLOAD_CASES?.split(",").map((c) => c.trim());
  const cases = Object.fromEntries(Object.entries(cabinetCases(env)).filter(([name]) => !only || only.includes(name)));
  const samples: Record<string, Sample[]> = { baseline: [], ...Object.fromEntries(Object.keys(cases).map((k) => [k, []])) };
  try {
    for (let r = 0; r < ROUNDS; r++) {
      // The baseline runs before every case, so each ratio compares neighbours in time.
      for (const [name, run] of Object.entries(cases)) {
        samples.baseline!.push(await measure(async () => void expectSha(await send({ method: "POST", url: plain.url, headers: {} }))));
        samples[name]!.push(await measure(run));
      }
    }
  } finally {
    await plain.close();
    await rm(dir, { recursive: true, force: true });
  }
  const base = { mbPerS: median(samples.baseline!.map((s) => s.mbPerS)), cpu: median(samples.baseline!.map((s) => s.cpuMsPerGiB)) };
  log(`  baseline (Node hash-to-disk): ${base.mbPerS.toFixed(0)} MB/s, CPU ${base.cpu.toFixed(0)} ms/GiB`);
  let pass = true;
  for (const name of Object.keys(cases)) {
    const s = samples[name]!;
    const speed = median(s.map((x) => x.mbPerS));
    const cpu = median(s.map((x) => x.cpuMsPerGiB));
    const ratio = speed / base.mbPerS;
    const cpuRatio = cpu / base.cpu;
    const ok = ratio >= GOAL_SPEED && cpuRatio <= GOAL_CPU;
    if (!ok) pass = false;
    log(
      `  ${name}: ${speed.toFixed(0)} MB/s, ratio ${ratio.toFixed(2)} (goal >= ${GOAL_SPEED}); CPU ${cpu.toFixed(0)} ms/GiB, ${cpuRatio.toFixed(2)}x (goal <= ${GOAL_CPU}) ${ok ? "" : "MISSED"}`,
    );
    summary[name] = { MBps: round(speed, 1), ratio: round(ratio, 3), cpuRatio: round(cpuRatio, 3) };
  }
  summary.baselineMBps = round(base.mbPerS, 1);
  summary.sizeMB = SIZE_MB;
  return pass;
});

function expectSha(res: { status: number; body: string }) {
  if (res.status !== 200 || (JSON.parse(res.body) as { sha256: string }).sha256 !== BODY_SHA256) throw new Error(`baseline: HTTP ${res.status}`);
}
