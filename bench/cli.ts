// How fast a CLI command answers while the server runs: `node dist/cli.js usage` (what
// `npm run --silent cli -- usage` runs after its up-to-date check) against a baseline
// node process that connects to the same PostgreSQL with node-postgres and runs one
// query, interleaved, median of ROUNDS. `npm run` itself is timed once per round too
// (its own start-up is npm's, not Cabinet's).
//
//   npx tsx bench/cli.ts             BENCH_ROUNDS=9 npx tsx bench/cli.ts
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { freePort } from "../src/free-port.ts";
import { ensureBuilt, median, REPO_ROOT, startUntilReady, stop } from "./_process.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

ensureBuilt();
const dataDir = await mkdtemp(path.join(os.tmpdir(), "cabinet-bench-cli-"));
const port = await freePort();
const env = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", DATA_DIR: dataDir, PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "warn" };
const server = await startUntilReady("dist/main.js", env, `http://127.0.0.1:${port}/readyz`);

function timed(command: string, args: string[]): number {
  const started = performance.now();
  const res = spawnSync(command, args, { cwd: REPO_ROOT, env, encoding: "utf8" });
  if (res.status !== 0) throw new Error(`${command} ${args.join(" ")} failed:\n${res.stderr}`);
  return performance.now() - started;
}

try {
  const pgPort = readFileSync(path.join(dataDir, "postgres", "postmaster.pid"), "utf8").split("\n")[3];
  const password = readFileSync(path.join(dataDir, "postgres.password"), "utf8").trim();
  const url = `postgresql://cabinet:${password}@127.0.0.1:${pgPort}/cabinet`;
  const baseline = `const pg = (await import("pg")).default; const c = new pg.Client(${JSON.stringify(url)}); await c.connect(); await c.query("SELECT 1"); await c.end();`;
  const cli: number[] = [];
  const bare: number[] = [];
  const npm: number[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    cli.push(timed(process.execPath, ["dist/cli.js", "usage"]));
    bare.push(timed(process.execPath, ["--input-type=module", "-e", baseline]));
    npm.push(timed("npm", ["run", "--silent", "cli", "--", "usage"]));
    process.stdout.write(`round ${round}: cli ${cli.at(-1)!.toFixed(0)} ms, node+pg ${bare.at(-1)!.toFixed(0)} ms, npm run cli ${npm.at(-1)!.toFixed(0)} ms\n`);
  }
  const [c, b, n] = [median(cli), median(bare), median(npm)];
  process.stdout.write(
    `median of ${ROUNDS}: node dist/cli.js usage ${c.toFixed(0)} ms; npm run --silent cli -- usage ${n.toFixed(0)} ms; node + one pg query ${b.toFixed(0)} ms\n`,
  );
  process.stdout.write(`ratio (cli / node+pg): ${(c / b).toFixed(2)}x\n`);
  process.stdout.write(`${JSON.stringify({ bench: "cli", rounds: ROUNDS, cliMs: c, npmMs: n, baselineMs: b, ratio: c / b })}\n`);
} finally {
  await stop(server.child);
  await rm(dataDir, { recursive: true, force: true });
}
