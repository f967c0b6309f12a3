// Ctrl-C in a terminal signals the whole foreground process group. The server, started
// the way `npm start` runs it (the compiled dist/main.js), must then stop in order and
// exit 0 with no error-level log line; the embedded PostgreSQL runs in its own process
// group, so it is not signalled with it and stops last, when the server stops it.
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { freePort } from "../src/free-port.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
let dataDir: string;

beforeAll(async () => {
  // What `prestart` does: compile dist/ if the sources changed since the last build.
  const build = spawnSync(process.execPath, ["scripts/build.mjs", "--if-stale"], { cwd: ROOT, encoding: "utf8" });
  expect(build.status, build.stderr).toBe(0);
  dataDir = await mkdtemp(path.join(os.tmpdir(), "cabinet-sigint-"));
}, 300_000); // a first build (after `npm ci`) compiles everything
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

it("SIGINT to the server's process group: orderly stop, exit 0, no error lines, PostgreSQL stopped", { timeout: 120_000 }, async () => {
  const port = await freePort();
  const child = spawn(process.execPath, ["dist/main.js"], {
    cwd: ROOT,
    // Its own process group, as a shell gives a foreground job; SIGINT goes to the group.
    detached: true,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", DATA_DIR: dataDir, PORT: String(port), HOST: "127.0.0.1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  const deadline = Date.now() + 90_000;
  for (;;) {
    // Started: ready, and past its last start-up step (the workers), which it logs.
    const res = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
    if (res?.status === 200 && out.includes("GraphQL (with GraphiQL) at")) break;
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`server did not get ready:\n${out}\n${err}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  process.kill(-child.pid!, "SIGINT");
  expect(await exited).toBe(0);

  const lines = out
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as { level: number; msg: string });
  expect(lines.filter((l) => l.level >= 50)).toEqual([]);
  expect(lines.filter((l) => l.msg === "SIGINT: shutting down")).toHaveLength(1);
  expect(err).toBe("");
  // The cluster was stopped by the server (its pid file goes when it has shut down).
  expect(existsSync(path.join(dataDir, "postgres", "postmaster.pid"))).toBe(false);
});
