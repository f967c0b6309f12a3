// Shared by bench/startup.ts and bench/cli.ts: the compiled build, processes started as
// users start them, readiness polling and a process's resident set from /proc.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** What `npm start` does first: compile dist/ if the sources changed. */
export function ensureBuilt(): void {
  const res = spawnSync(process.execPath, ["scripts/build.mjs", "--if-stale"], { cwd: REPO_ROOT, stdio: "inherit" });
  if (res.status !== 0) throw new Error("build failed");
}

export type Started = { child: ChildProcess; ms: number; output: () => string };

/** Spawns `node <script>` and resolves once `url` answers 200; `ms` from spawn to that answer. */
export async function startUntilReady(script: string, env: Record<string, string>, url: string, timeoutMs = 120_000): Promise<Started> {
  const started = performance.now();
  const child = spawn(process.execPath, [script], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (d) => (out = (out + d).slice(-20_000)));
  child.stderr!.on("data", (d) => (out = (out + d).slice(-20_000)));
  for (;;) {
    const res = await fetch(url).catch(() => undefined);
    if (res?.status === 200) {
      await res.arrayBuffer();
      return { child, ms: performance.now() - started, output: () => out };
    }
    if (child.exitCode !== null || performance.now() - started > timeoutMs) throw new Error(`${script} did not get ready:\n${out}`);
    await sleep(20);
  }
}

export function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

/** VmRSS of one process (not its children), in bytes. */
export function rssOf(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  return Number(kb) * 1024;
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
