// The production build: the Prisma client (prisma generate), then src/ compiled to dist/
// by tsc (types stripped, `.ts` import specifiers rewritten to `.js`; typechecking is
// `npm run typecheck`'s job, run by `npm test`). Plain JavaScript, so it runs before
// anything is built and without tsx.
//
//   node scripts/build.mjs              generate and compile (npm run build)
//   node scripts/build.mjs --if-stale   only what is out of date (npm start, worker, cli)
//
// "Out of date" is decided by content hashes kept beside the outputs: the schema (and the
// Prisma version) for src/generated, every compiled input for dist/. An up-to-date check
// reads about 2 MB and takes a few milliseconds; nothing runs when nothing changed.
// Without src/ (a production image holds only dist/) there is nothing to build.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const at = (...p) => path.join(ROOT, ...p);
const SCHEMA_STAMP = at("src", "generated", ".schema-hash");
const BUILD_STAMP = at("dist", ".build-hash");

const ifStale = process.argv.includes("--if-stale");

function sha(parts) {
  const h = createHash("sha256");
  for (const p of parts) h.update(p).update("\0");
  return h.digest("hex");
}

const readStamp = (file) => (existsSync(file) ? readFileSync(file, "utf8").trim() : undefined);

function files(dir) {
  const out = [];
  for (const d of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, d.name);
    if (d.isDirectory()) out.push(...files(p));
    else out.push(p);
  }
  return out;
}

function schemaHash() {
  const prismaPkg = at("node_modules", "prisma", "package.json");
  const version = existsSync(prismaPkg) ? JSON.parse(readFileSync(prismaPkg, "utf8")).version : "";
  return sha([readFileSync(at("prisma", "schema.prisma")), version]);
}

function sourceHash() {
  const inputs = files(at("src"))
    .filter((f) => f.endsWith(".ts") || f.endsWith(".json"))
    .sort();
  const parts = [readFileSync(at("tsconfig.json")), readFileSync(at("tsconfig.build.json"))];
  for (const f of inputs) parts.push(path.relative(ROOT, f), readFileSync(f));
  return sha(parts);
}

function run(what, command, args, env = {}) {
  if (ifStale) process.stderr.write(`cabinet: ${what}…\n`);
  const bin = at("node_modules", ".bin", command);
  if (!existsSync(bin)) {
    process.stderr.write(`cabinet: ${what} needs the dev dependencies (${command} is not installed): run npm install\n`);
    process.exit(1);
  }
  const res = spawnSync(bin, args, {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, PATH: `${at("node_modules", ".bin")}${path.delimiter}${process.env.PATH ?? ""}`, ...env },
  });
  if (res.status !== 0) {
    process.stdout.write(res.stdout ?? "");
    process.stderr.write(`cabinet: ${what} failed\n`);
    process.exit(res.status ?? 1);
  }
}

/**
 * One build at a time per checkout: two processes starting at once (a server and a CLI
 * command, or two test files) must not both delete and rewrite dist/. The lock is a
 * directory (mkdir is atomic) holding the owner's pid; a dead owner's lock is taken over.
 */
function lock() {
  const dir = at("node_modules", ".cache", "cabinet-build.lock");
  mkdirSync(path.dirname(dir), { recursive: true });
  for (;;) {
    try {
      mkdirSync(dir);
      break;
    } catch (e) {
      if (e.code !== "EEXIST") throw e;
      const pid = Number(existsSync(path.join(dir, "pid")) ? readFileSync(path.join(dir, "pid"), "utf8") : 0);
      if (pid && !alive(pid)) {
        rmSync(dir, { recursive: true, force: true });
        continue;
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  writeFileSync(path.join(dir, "pid"), String(process.pid));
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === "EPERM";
  }
}

if (!existsSync(at("src"))) process.exit(0);

const schemaStale = () => readStamp(SCHEMA_STAMP) !== schemaHash() || !existsSync(at("src", "generated", "prisma", "client.ts"));
const distStale = () => readStamp(BUILD_STAMP) !== sourceHash() || !existsSync(at("dist", "main.js"));
// The common case, up to date, takes no lock.
if (ifStale && !schemaStale() && !distStale()) process.exit(0);
lock();

// 1. The Prisma client (src/generated), when the schema or Prisma changed or it is missing.
if (!ifStale || schemaStale()) {
  // Prisma's CLI would download a schema engine it does not need for generate (decision 2).
  run("generating the Prisma client", "prisma", ["generate"], { PRISMA_SCHEMA_ENGINE_BINARY: "/bin/false" });
  writeFileSync(SCHEMA_STAMP, `${schemaHash()}\n`);
}

// 2. dist/, when any compiled input changed (checked again: another process may just have built it).
if (!ifStale || distStale()) {
  const source = sourceHash();
  rmSync(at("dist"), { recursive: true, force: true });
  run(ifStale ? "compiling src/ to dist/ (the sources changed)" : "compiling", "tsc", ["-p", "tsconfig.build.json", "--noCheck"]);
  writeFileSync(BUILD_STAMP, `${source}\n`);
}
