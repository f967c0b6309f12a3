// Start-up time and idle memory of the compiled server (`npm start` runs `node dist/main.js`)
// against a bare graphql-yoga server started the same way (bench/_bare-yoga.mjs), in
// interleaved rounds, median of ROUNDS. Cabinet starts on a data directory initialised
// once beforehand (a restart: the embedded PostgreSQL starts, migrations are checked,
// pg-boss and the event tail connect, workers start); "ready" is /readyz answering 200
// (for yoga, its /graphql answering a query). Idle RSS is the node process's own VmRSS
// IDLE_MS after ready (the PostgreSQL processes are not counted). The first start, with
// initdb, is reported on its own.
//
//   npx tsx bench/startup.ts          BENCH_ROUNDS=5 npx tsx bench/startup.ts
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "../src/free-port.ts";
import { ensureBuilt, median, rssOf, startUntilReady, stop } from "./_process.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const IDLE_MS = 3000;
const MiB = 1024 * 1024;

ensureBuilt();
const dataDir = await mkdtemp(path.join(os.tmpdir(), "cabinet-bench-startup-"));

async function cabinet() {
  const port = await freePort();
  const s = await startUntilReady(
    "dist/main.js",
    { DATA_DIR: dataDir, PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "warn" },
    `http://127.0.0.1:${port}/readyz`,
  );
  await sleep(IDLE_MS);
  const rss = rssOf(s.child.pid!);
  await stop(s.child);
  return { ms: s.ms, rss };
}

async function yoga() {
  const port = await freePort();
  const s = await startUntilReady("bench/_bare-yoga.mjs", { PORT: String(port) }, `http://127.0.0.1:${port}/graphql?query=%7Bhello%7D`);
  await sleep(IDLE_MS);
  const rss = rssOf(s.child.pid!);
  await stop(s.child);
  return { ms: s.ms, rss };
}

try {
  const first = await cabinet();
  process.stdout.write(`first start (initdb included): ${(first.ms / 1000).toFixed(2)} s\n`);
  const results = { cabinet: [] as { ms: number; rss: number }[], yoga: [] as { ms: number; rss: number }[] };
  for (let round = 1; round <= ROUNDS; round++) {
    // Alternate which goes first, so neither always runs on a warmer machine.
    const order = round % 2 ? [yoga, cabinet] : [cabinet, yoga];
    for (const run of order) {
      const r = await run();
      results[run === cabinet ? "cabinet" : "yoga"].push(r);
      process.stdout.write(
        `round ${round} ${run === cabinet ? "cabinet" : "yoga   "}: ready in ${(r.ms / 1000).toFixed(2)} s, idle RSS ${(r.rss / MiB).toFixed(0)} MiB\n`,
      );
    }
  }
  const c = { ms: median(results.cabinet.map((r) => r.ms)), rss: median(results.cabinet.map((r) => r.rss)) };
  const y = { ms: median(results.yoga.map((r) => r.ms)), rss: median(results.yoga.map((r) => r.rss)) };
  process.stdout.write(
    `median of ${ROUNDS}: cabinet ready in ${(c.ms / 1000).toFixed(2)} s, idle RSS ${(c.rss / MiB).toFixed(0)} MiB; ` +
      `bare yoga ${(y.ms / 1000).toFixed(2)} s, ${(y.rss / MiB).toFixed(0)} MiB\n` +
      `ratio (cabinet / bare yoga): start ${(c.ms / y.ms).toFixed(2)}x, idle RSS ${(c.rss / y.rss).toFixed(2)}x\n`,
  );
  process.stdout.write(`${JSON.stringify({ bench: "startup", rounds: ROUNDS, cabinet: c, yoga: y, startRatio: c.ms / y.ms, rssRatio: c.rss / y.rss })}\n`);
} finally {
  await rm(dataDir, { recursive: true, force: true });
}
