// Runs Cabinet's real entrypoints (server, worker, CLI) as child processes, the way a
// user would after `npm install`.
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "../..");

export function spawnTs(script: string, args: string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ["--import", "tsx", script, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

export type Server = { child: ChildProcess; stdout: () => string; stderr: () => string; url: string; stop(): Promise<number | null> };
export type Worker = Omit<Server, "url">;

/** Spawns `script` and resolves once its stdout contains `ready`; stop() sends SIGTERM. */
async function startProcess(script: string, env: Record<string, string>, ready: string, timeoutMs: number): Promise<Worker> {
  const child = spawnTs(script, [], env);
  let out = "";
  let err = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (err += d));
  await new Promise<void>((resolve, reject) => {
    // A process that did not get ready is killed: nobody would stop it otherwise.
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${script} did not start:\n${out}\n${err}`));
    }, timeoutMs);
    const check = () => {
      if (out.includes(ready)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on("data", check);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited with ${code}:\n${out}\n${err}`));
    });
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        child.once("exit", (code) => resolve(code));
        child.kill("SIGTERM");
      }),
  };
}

/** Starts src/main.ts and resolves once it logs where GraphQL lives. */
export async function startServer(env: Record<string, string>, port: number, timeoutMs = 60_000): Promise<Server> {
  const server = await startProcess("src/main.ts", { PORT: String(port), HOST: "127.0.0.1", ...env }, "GraphQL (with GraphiQL) at", timeoutMs);
  return { ...server, url: `http://127.0.0.1:${port}` };
}

/** Starts src/worker.ts (`npm run worker`) and resolves once its workers run. */
export function startWorker(env: Record<string, string>, timeoutMs = 60_000): Promise<Worker> {
  return startProcess("src/worker.ts", env, "worker ready", timeoutMs);
}

/** Runs src/cli.ts to completion. */
export async function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawnTs("src/cli.ts", args, env);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  return { code, stdout, stderr };
}
