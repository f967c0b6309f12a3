// The Dockerfile, replayed without a Docker engine (there is none on the build machines):
// the file is parsed and each stage's steps run in order in a scratch directory that
// stands for the stage's filesystem. COPY copies what the build context holds (minus
// .dockerignore), RUN runs the exact command in the stage's WORKDIR, the final stage's
// CMD runs with its ENV as its non-root USER, and the HEALTHCHECK command must then
// pass. Substitutions, all forced by running on the host: absolute paths of a stage are
// mapped under its scratch root (so RUN steps must use relative paths), the host's Node
// stands for the base image's, PORT is a free port, npm uses its local cache
// (npm_config_prefer_offline), and as root the `node` user is played by `nobody`.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { chmod, chown, mkdir, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../src/free-port.ts";

const ROOT = path.resolve(import.meta.dirname, "..");

type Instruction = { op: string; args: string };
type Stage = { image: string; name?: string; steps: Instruction[] };

/** Instructions per stage; continuation lines joined, comments dropped. */
function parseDockerfile(text: string): Stage[] {
  const lines = text.replace(/\\\n/g, " ").split("\n");
  const stages: Stage[] = [];
  for (const raw of lines) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const [, op, args] = /^(\w+)\s+(.*)$/.exec(line) ?? [];
    if (!op || args === undefined) throw new Error(`unreadable Dockerfile line: ${line}`);
    const upper = op.toUpperCase();
    if (upper === "FROM") {
      const [, image, name] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args) ?? [];
      stages.push({ image: image!, name, steps: [] });
    } else {
      stages.at(-1)!.steps.push({ op: upper, args });
    }
  }
  return stages;
}

/** `--flag=value` options in front of an instruction's arguments. */
function flags(args: string): { flags: Record<string, string>; rest: string } {
  const out: Record<string, string> = {};
  let rest = args;
  for (let m = /^--([\w-]+)=(\S+)\s+/.exec(rest); m; m = /^--([\w-]+)=(\S+)\s+/.exec(rest)) {
    out[m[1]!] = m[2]!;
    rest = rest.slice(m[0].length);
  }
  return { flags: out, rest };
}

/** ENV k=v k2=v2 (values without spaces, as this Dockerfile writes them). */
function parseEnv(args: string): Record<string, string> {
  return Object.fromEntries(args.split(/\s+/).map((kv) => kv.split("=", 2) as [string, string]));
}

const dockerignore = readFileSync(path.join(ROOT, ".dockerignore"), "utf8")
  .split("\n")
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith("#"));

function ignored(rel: string): boolean {
  return dockerignore.some((p) => {
    if (p.startsWith("*")) return path.basename(rel).endsWith(p.slice(1));
    return rel === p || rel.startsWith(`${p}/`);
  });
}

function sh(command: string, args: string[], options: { cwd: string; env: Record<string, string> }): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(" ")} exited with ${code}:\n${out.slice(-4000)}`))));
  });
}

const asRoot = process.getuid?.() === 0;
const uidOf = (flag: "-u" | "-g", user: string) =>
  new Promise<number>((resolve, reject) => {
    const child = spawn("id", [flag, user]);
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.once("exit", (code) => (code === 0 ? resolve(Number(out)) : reject(new Error(`no user ${user}`))));
  });

describe("Dockerfile", () => {
  const text = readFileSync(path.join(ROOT, "Dockerfile"), "utf8");
  const stages = parseDockerfile(text);
  const final = stages.at(-1)!;
  const stepsOf = (op: string) => final.steps.filter((s) => s.op === op);

  it("builds on a current LTS Node, runs compiled JavaScript as a non-root user, checks /readyz, keeps data in a volume", () => {
    expect(stages.length).toBeGreaterThan(1);
    for (const s of stages) expect(s.image).toMatch(/^node:(22|24)(\.\d+)*-bookworm-slim$/);
    const cmd = JSON.parse(stepsOf("CMD")[0]!.args) as string[];
    expect(cmd[0]).toBe("node");
    expect(cmd.at(-1)).toMatch(/^dist\/.*\.js$/);
    expect(text).not.toMatch(/\btsx\b/);
    expect(stepsOf("USER").at(-1)?.args).toBe("node");
    expect(stepsOf("HEALTHCHECK")[0]?.args).toContain("/readyz");
    const env = parseEnv(
      stepsOf("ENV")
        .map((s) => s.args)
        .join(" "),
    );
    expect(JSON.parse(stepsOf("VOLUME")[0]!.args)).toEqual([env.DATA_DIR]);
    // The runtime stage holds no sources: only what the build stage produced.
    for (const copy of stepsOf("COPY")) expect(flags(copy.args).flags.from).toBe(stages[0]!.name);
  });

  describe("replayed step by step", () => {
    let scratch: string;
    let server: ChildProcess | undefined;
    const timings: string[] = [];
    afterAll(async () => {
      console.log(`docker replay: ${timings.join("; ")}`);
      if (server && server.exitCode === null) server.kill("SIGKILL");
      if (scratch) await rm(scratch, { recursive: true, force: true });
    });

    it("builds, prunes dev dependencies, starts with the image's CMD and ENV, and answers ready", { timeout: 600_000 }, async () => {
      scratch = await mkdtemp(path.join(os.tmpdir(), "cabinet-docker-"));
      // Others (the non-root user) must be able to enter it, as in an image's filesystem.
      await chmod(scratch, 0o755);
      const runUser = asRoot ? { uid: await uidOf("-u", "nobody"), gid: await uidOf("-g", "nobody") } : undefined;
      const home = path.join(scratch, "home");
      await mkdir(home);
      const roots = new Map<string, string>();
      const workdirs = new Map<string, string>();
      const hostEnv = { PATH: process.env.PATH ?? "", HOME: home };

      let runtimeEnv: Record<string, string> = {};
      for (const [i, stage] of stages.entries()) {
        const root = path.join(scratch, `stage${i}`);
        await mkdir(root);
        await chmod(root, 0o755);
        const inStage = (p: string) => path.join(root, p);
        let workdir = inStage("/");
        let env: Record<string, string> = {};
        const volumes: string[] = [];
        for (const step of stage.steps) {
          const started = Date.now();
          switch (step.op) {
            case "WORKDIR":
              workdir = inStage(step.args);
              await mkdir(workdir, { recursive: true });
              break;
            case "ENV":
              env = { ...env, ...parseEnv(step.args) };
              break;
            case "COPY": {
              const { flags: f, rest } = flags(step.args);
              const parts = rest.split(/\s+/);
              const dest = path.resolve(workdir, parts.at(-1)!.startsWith("/") ? inStage(parts.at(-1)!) : parts.at(-1)!);
              const from = f.from;
              const sources = parts.slice(0, -1).map((s) => (from ? path.join(roots.get(from)!, s) : path.join(ROOT, s)));
              const intoDir = parts.at(-1)!.endsWith("/") || sources.length > 1;
              for (const src of sources) {
                const target = intoDir ? path.join(dest, path.basename(src)) : dest;
                await mkdir(path.dirname(target), { recursive: true });
                // A directory source copies its contents; .dockerignore applies to the build context only.
                // Between stages, hard links (the source stage is not used again); chown needs own copies.
                const how = from && !f.chown ? "-al" : "-a";
                await sh("cp", [how, `${src}${statSync(src).isDirectory() && !intoDir ? "/." : ""}`, target], { cwd: ROOT, env: hostEnv });
                if (!from) {
                  for (const rel of [...(await listFiles(target))]) {
                    const relToContext = path.relative(ROOT, path.join(src, path.relative(target, rel)));
                    if (ignored(relToContext)) await rm(rel, { recursive: true, force: true });
                  }
                }
                if (f.chown && runUser) await chownTree(target, runUser.uid, runUser.gid);
              }
              break;
            }
            case "RUN":
              expect(step.args, "RUN steps use relative paths (the replay maps no absolute paths)").not.toMatch(/(^|\s)\//);
              await sh("sh", ["-c", step.args], {
                cwd: workdir,
                env: { ...hostEnv, ...env, npm_config_prefer_offline: "true", npm_config_update_notifier: "false" },
              });
              break;
            case "VOLUME":
              volumes.push(...(JSON.parse(step.args) as string[]));
              break;
            default:
              break; // USER, EXPOSE, HEALTHCHECK, CMD: used below, for the final stage.
          }
          if (Date.now() - started > 1000) timings.push(`${step.op} ${step.args.slice(0, 40)}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
        }
        if (stage.name) roots.set(stage.name, root);
        workdirs.set(String(i), workdir);
        if (stage === final) {
          // Paths the image's settings name (the data volume) are mapped under the stage root.
          runtimeEnv = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, volumes.includes(v) ? inStage(v) : v]));
        }
      }

      const app = workdirs.get(String(stages.length - 1))!;
      // Production dependencies only: no compiler, no tsx, no Prisma CLI; no sources.
      for (const dev of ["typescript", "tsx", "prisma", "vitest", "@biomejs/biome"]) expect(existsSync(path.join(app, "node_modules", dev)), dev).toBe(false);
      expect(existsSync(path.join(app, "src"))).toBe(false);
      expect(existsSync(path.join(app, "dist", "main.js"))).toBe(true);

      const port = await freePort();
      const env = { PATH: process.env.PATH ?? "", HOME: home, ...runtimeEnv, PORT: String(port) };
      const as = runUser ?? {};
      const runNode = (args: string[]) =>
        new Promise<{ code: number | null; out: string }>((resolve) => {
          const child = spawn("node", args, { cwd: app, env, ...as, stdio: ["ignore", "pipe", "pipe"] });
          let out = "";
          child.stdout.on("data", (d) => (out += d));
          child.stderr.on("data", (d) => (out += d));
          child.once("exit", (code) => resolve({ code, out }));
        });

      // Native parts with production dependencies only: sharp renders, the bundled ffmpeg runs.
      const media = await runNode([
        "--input-type=module",
        "-e",
        `const sharp = (await import("sharp")).default;
         const png = await sharp({ create: { width: 4, height: 4, channels: 3, background: "red" } }).png().toBuffer();
         const { bundledMediaTools, runTool } = await import("./dist/processing/media-tools.js");
         const tools = await bundledMediaTools();
         const v = await runTool(tools.ffmpeg, ["-version"], { signal: AbortSignal.timeout(20000), maxStdoutBytes: 65536 });
         console.log("png", png.length, String(v.stdout).split("\\n")[0]);`,
      ]);
      expect(media.out).toMatch(/png \d+ ffmpeg version/);
      expect(media.code).toBe(0);

      const cmd = JSON.parse(stepsOf("CMD")[0]!.args) as string[];
      const cmdStarted = Date.now();
      const child = spawn(cmd[0]!, cmd.slice(1), { cwd: app, env, ...as, stdio: ["ignore", "pipe", "pipe"] });
      server = child;
      let log = "";
      child.stdout!.on("data", (d) => (log += d));
      child.stderr!.on("data", (d) => (log += d));
      const deadline = Date.now() + 120_000;
      let ready: { status: number; body: any } | undefined;
      while (Date.now() < deadline && child.exitCode === null) {
        const res = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
        if (res?.status === 200) {
          ready = { status: res.status, body: await res.json() };
          break;
        }
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(ready, log).toBeDefined();
      timings.push(`CMD to ready: ${((Date.now() - cmdStarted) / 1000).toFixed(1)} s`);
      expect(ready!.body).toMatchObject({ status: "ready" });

      // The image's own HEALTHCHECK command, in the container's environment.
      const health = stepsOf("HEALTHCHECK")[0]!.args;
      const healthCmd = JSON.parse(health.slice(health.indexOf("CMD") + 3).trim()) as string[];
      expect(healthCmd[0]).toBe("node");
      expect((await runNode(healthCmd.slice(1))).code).toBe(0);

      // `docker stop` sends SIGTERM: an orderly exit, no error lines.
      const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      const errors = log
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as { level: number })
        .filter((l) => l.level >= 50);
      expect(errors).toEqual([]);
    });
  });
});

async function listFiles(dir: string): Promise<string[]> {
  const { readdir, stat } = await import("node:fs/promises");
  if (!(await stat(dir)).isDirectory()) return [dir];
  const out: string[] = [];
  for (const d of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, d.name);
    out.push(p);
    if (d.isDirectory()) out.push(...(await listFiles(p)));
  }
  return out;
}

async function chownTree(p: string, uid: number, gid: number): Promise<void> {
  for (const f of await listFiles(p)) await chown(f, uid, gid);
  await chown(p, uid, gid);
}
