// Every example in README.md runs as written. The README's fenced blocks are
// extracted and run against a running server:
// - ```sh: bash, with TOKEN and SPACE exported (the README says to set them);
//   `npm …` commands run in the repository, the others in a scratch directory
//   holding a profile.png (the curl examples upload it). The server's own
//   environment (DATABASE_URL, DATA_DIR, signing secret) is passed on, as the
//   CLI needs the server's settings. stdout that is JSON must hold no error.
// - ```graphql: each operation of the block is sent with the token; none may
//   answer an error.
// - ```js: run with node as an ES module, TOKEN and SPACE in its environment.
// - ```json: a sample of an answer; it must parse.
// The only substitutions are the documented placeholders: `spc_…` (a space id)
// and the server address `http://localhost:4000` (the test server's own).
// A block preceded by `<!-- not run: reason -->` is skipped; that list is short
// and checked below, and a block of any other language fails.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { parse, print } from "graphql";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTestApp, type TestApp } from "./harness.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const run = promisify(execFile);

type Block = { line: number; lang: string; code: string; notRun?: string };

/** The fenced blocks of a Markdown text, with the `<!-- not run: … -->` mark on the line before, if any. */
function codeBlocks(markdown: string): Block[] {
  const lines = markdown.split("\n");
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    while (++i < lines.length && !/^```\s*$/.test(lines[i]!)) body.push(lines[i]!);
    let j = start - 1;
    while (j >= 0 && lines[j]!.trim() === "") j--;
    const mark = /^<!-- not run: (.+) -->$/.exec(lines[j]?.trim() ?? "");
    blocks.push({ line: start + 1, lang: open[1] ?? "", code: body.join("\n"), ...(mark ? { notRun: mark[1] } : {}) });
  }
  return blocks;
}

const README = await readFile(path.join(ROOT, "README.md"), "utf8");
const blocks = codeBlocks(README);

let t: TestApp;
let token: string;
let spaceId: string;
let scratch: string;

beforeAll(async () => {
  t = await buildTestApp({ workers: false });
  const w = await t.factories.world();
  token = w.adminToken;
  spaceId = w.space.id;
  scratch = await mkdtemp(path.join(os.tmpdir(), "cabinet-readme-"));
  await sharp({ create: { width: 64, height: 48, channels: 3, background: "#3366cc" } })
    .png()
    .toFile(path.join(scratch, "profile.png"));
});
afterAll(async () => {
  await t?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** The documented placeholders, and nothing else. */
const substitute = (code: string) =>
  code
    .replaceAll("http://localhost:4000", t.url)
    .replaceAll("ws://localhost:4000", t.wsUrl.replace(/\/graphql$/, ""))
    .replaceAll("spc_…", spaceId);

function env(): NodeJS.ProcessEnv {
  const { config } = t.deps;
  return {
    ...process.env,
    TOKEN: token,
    SPACE: spaceId,
    DATABASE_URL: config.data.databaseUrl,
    DATA_DIR: config.data.dir,
    CABINET_SIGNING_SECRET: config.storage.signingSecret,
    LOG_LEVEL: "warn",
  };
}

/** Fails on a JSON answer holding an error (GraphQL `errors` or REST `error`). */
function expectNoErrorIn(stdout: string, where: string) {
  for (const chunk of stdout.split(/\n(?=[{[])/)) {
    let value: unknown;
    try {
      value = JSON.parse(chunk);
    } catch {
      continue;
    }
    expect((value as { errors?: unknown }).errors, `${where}: ${chunk}`).toBeUndefined();
    expect((value as { error?: unknown }).error, `${where}: ${chunk}`).toBeUndefined();
  }
}

describe("README examples", () => {
  it("marks only a handful of blocks as not run, each with a reason, and knows every other block's language", () => {
    const notRun = blocks.filter((b) => b.notRun);
    expect(notRun.length).toBeLessThanOrEqual(5);
    for (const b of blocks.filter((x) => !x.notRun)) expect(["sh", "graphql", "js", "json"], `README.md:${b.line}`).toContain(b.lang);
    expect(blocks.filter((b) => !b.notRun).length).toBeGreaterThanOrEqual(5);
  });

  for (const block of blocks.filter((b) => !b.notRun)) {
    const where = `README.md:${block.line} (${block.lang})`;
    it(`runs ${where}`, { timeout: 120_000 }, async () => {
      const code = substitute(block.code);
      if (block.lang === "graphql") {
        const document = parse(code);
        expect(document.definitions.length).toBeGreaterThan(0);
        for (const definition of document.definitions) {
          const res = await t.gql(print({ kind: document.kind, definitions: [definition] }), {}, token);
          expect(res.errors, `${where}: ${print(definition)}`).toBeUndefined();
          expect(res.data, where).toBeTruthy();
        }
      } else if (block.lang === "sh") {
        const cwd = /^\s*npm /.test(code) ? ROOT : scratch;
        const { stdout } = await run("bash", ["-euo", "pipefail", "-c", code], { cwd, env: env(), maxBuffer: 16 * 1024 * 1024 });
        expect(stdout.trim(), where).not.toBe("");
        expectNoErrorIn(stdout, where);
      } else if (block.lang === "json") {
        // A sample of what an operation answers: it must at least be valid JSON.
        expect(() => JSON.parse(code), where).not.toThrow();
      } else if (block.lang === "js") {
        // Under node_modules/.cache, so the example's imports resolve to the project's packages.
        const dir = path.join(ROOT, "node_modules", ".cache", "readme-examples");
        await mkdir(dir, { recursive: true });
        const file = path.join(dir, `line-${block.line}-${process.pid}.mjs`);
        await writeFile(file, code);
        try {
          const { stdout } = await run(process.execPath, [file], { cwd: scratch, env: env() });
          expect(stdout.trim(), where).not.toBe("");
        } finally {
          await rm(file, { force: true });
        }
      }
    });
  }

  it("the examples did what they say", async () => {
    const files = await t.deps.prisma.entry.findMany({ where: { spaceId, kind: "FILE" }, select: { name: true, size: true } });
    expect(files.map((f) => f.name).sort()).toEqual(["hello.txt", "profile.png"]);
    const cli = blocks.find((b) => b.code.includes("create-token --admin") && !b.notRun);
    expect(cli, "the create-token example").toBeDefined();
  });
});
