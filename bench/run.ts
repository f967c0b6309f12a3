// Runs every bench/*.ts except this file and files starting with "_", one at a
// time, each in its own node process (so each measures itself in isolation),
// streaming their output. Exits non-zero when any bench failed.
//
//   npm run bench                  all benches
//   npm run bench -- upload        only benches whose file name contains "upload"
import { spawn } from "node:child_process";
import { readdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(BENCH_DIR, "..");
const SELF = path.basename(fileURLToPath(import.meta.url));

const filters = process.argv.slice(2);
const files = (await readdir(BENCH_DIR))
  .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts") && f !== SELF && !f.startsWith("_"))
  .filter((f) => filters.length === 0 || filters.some((needle) => f.includes(needle)))
  .sort();

if (files.length === 0) {
  process.stderr.write(`no benches found in ${BENCH_DIR}${filters.length ? ` matching ${filters.join(", ")}` : ""}\n`);
  process.exit(1);
}

// Ctrl-C reaches the running bench too (same process group); let it clean up
// (stop its server, remove temp dirs) and then stop instead of starting the next.
let interrupted = false;
const onSignal = () => {
  interrupted = true;
};
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);

function run(file: string): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(BENCH_DIR, file)], {
      cwd: REPO_ROOT,
      stdio: "inherit",
    });
    child.once("error", (e) => {
      process.stderr.write(`could not start ${file}: ${e.message}\n`);
      resolve({ code: 1, signal: null });
    });
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });
}

const results: { file: string; ok: boolean; seconds: number; how: string }[] = [];
for (const file of files) {
  if (interrupted) break;
  process.stdout.write(`\n=== bench/${file}\n`);
  const started = performance.now();
  const { code, signal } = await run(file);
  const seconds = (performance.now() - started) / 1000;
  const ok = code === 0;
  results.push({ file, ok, seconds, how: signal ? `killed by ${signal}` : `exit ${code}` });
}

process.stdout.write("\n=== summary\n");
for (const r of results) {
  process.stdout.write(`  ${r.ok ? "ok  " : "FAIL"}  bench/${r.file}  (${r.seconds.toFixed(1)} s${r.ok ? "" : `, ${r.how}`})\n`);
}
const skipped = files.length - results.length;
if (skipped > 0) process.stdout.write(`  ${skipped} not run (interrupted)\n`);

process.exitCode = interrupted || results.some((r) => !r.ok) ? 1 : 0;
