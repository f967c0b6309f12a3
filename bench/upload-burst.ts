// Upload burst benchmark: 1,000 uploads of 4 KiB from 64 concurrent clients
// (REST raw body, the lightest upload path) must all succeed: concurrency
// beyond the database pool (10) queues for a connection, it never fails
// (decision 32). Baseline, in the same run on the same server: the same kind
// of upload from one client at a time; ratio = burst uploads/s / sequential uploads/s
// (above 1 means concurrency adds throughput; it is reported, not judged: all
// uploads of an organization serialize on its usage row).
//
//   npx tsx bench/upload-burst.ts      BENCH_UPLOADS=2000 BENCH_CLIENTS=128 npx tsx bench/upload-burst.ts
//
// Prints uploads/s, p50/p99 latency and errors for both runs and a final JSON
// line; exits 1 when any upload failed or usage does not add up.
import { randomBytes } from "node:crypto";
import { log, round, runBench, secondsSince, type BenchEnv } from "./_support.ts";

const UPLOADS = positiveInt(process.env.BENCH_UPLOADS, 1_000);
const CLIENTS = positiveInt(process.env.BENCH_CLIENTS, 64);
const SEQUENTIAL = 200;
const SIZE = 4 * 1024;

function positiveInt(raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`expected a positive integer, got "${raw}"`);
  return n;
}

type Run = { uploads: number; seconds: number; latenciesMs: number[]; errors: string[] };

/** `count` uploads shared by `clients` clients, each sending its next upload when the previous answered. */
async function burst(env: BenchEnv, prefix: string, count: number, clients: number): Promise<Run> {
  const run: Run = { uploads: count, seconds: 0, latenciesMs: [], errors: [] };
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (let i = next++; i < count; i = next++) {
        const pathId = Buffer.from(`${prefix}/c${i % clients}/f${i}.bin`).toString("base64url");
        const started = performance.now();
        try {
          const res = await fetch(`${env.url}/api/v1/space/${env.spaceId}/storage/${pathId}/upload`, {
            method: "POST",
            headers: { authorization: `Bearer ${env.token}`, "content-type": "application/octet-stream" },
            body: randomBytes(SIZE),
          });
          const text = await res.text();
          if (res.status !== 200) run.errors.push(`HTTP ${res.status}: ${text.slice(0, 200)}`);
        } catch (e) {
          run.errors.push(String(e));
        }
        run.latenciesMs.push(performance.now() - started);
      }
    }),
  );
  run.seconds = secondsSince(t0);
  return run;
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;

function report(label: string, run: Run) {
  const sorted = [...run.latenciesMs].sort((a, b) => a - b);
  const summary = {
    uploadsPerSecond: round(run.uploads / run.seconds, 1),
    p50Ms: round(quantile(sorted, 0.5), 1),
    p99Ms: round(quantile(sorted, 0.99), 1),
    errors: run.errors.length,
    seconds: round(run.seconds, 1),
  };
  log(
    `  ${label.padEnd(34)} ${String(summary.uploadsPerSecond).padStart(7)} uploads/s  p50 ${summary.p50Ms} ms  p99 ${summary.p99Ms} ms  errors ${summary.errors}`,
  );
  for (const e of run.errors.slice(0, 3)) log(`    ${e}`);
  return summary;
}

await runBench("upload-burst", async (env, summary) => {
  await burst(env, "warmup", 50, 8);
  const sequential = report(`${SEQUENTIAL} uploads, 1 client`, await burst(env, "sequential", SEQUENTIAL, 1));
  const concurrent = report(`${UPLOADS} uploads, ${CLIENTS} clients`, await burst(env, "burst", UPLOADS, CLIENTS));
  const ratio = round(concurrent.uploadsPerSecond / sequential.uploadsPerSecond, 2);
  log(`  ratio (burst / sequential uploads per second): ${ratio}`);

  const org = await env.sql.query<{ used: string }>(`SELECT used_bytes::text AS used FROM organizations WHERE name = 'bench'`);
  const expectedBytes = (50 + SEQUENTIAL + UPLOADS - concurrent.errors - sequential.errors) * SIZE;
  const usageOk = org.rows[0]?.used === String(expectedBytes);
  if (!usageOk) log(`  usage ${org.rows[0]?.used} bytes, expected ${expectedBytes}`);
  Object.assign(summary, { uploads: UPLOADS, clients: CLIENTS, sizeBytes: SIZE, sequential, concurrent, ratio, usageOk });
  return concurrent.errors === 0 && sequential.errors === 0 && usageOk;
});
