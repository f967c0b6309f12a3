// The CLI's command line: what cannot run as given is refused before anything starts
// (no configuration read, no database, no data directory), with one line saying what is
// wrong, the usage, and exit code 2. How fast a command answers is bench/cli.ts's job.
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "./support/processes.ts";

const dataDir = path.join(os.tmpdir(), `cabinet-cli-never-created-${process.pid}`);
const env = { DATA_DIR: dataDir };

describe("CLI command line", () => {
  it.each([
    [["create-org", "--name", "Acme", "--quota", "10GB"], '--quota must be a positive whole number of bytes, got "10GB"'],
    [["set-quota", "--org", "org_1", "--quota", "1e6"], '--quota must be a positive whole number of bytes, got "1e6"'],
    [["set-quota", "--quota", "100"], "set-quota needs --org and --quota"],
    [["create-org", "--name", "Acme", "--max-file-size", "-5"], "--max-file-size"],
    [["usage", "--bogus"], "Unknown option '--bogus'"],
    [["create-space", "--name"], "argument missing"],
    [["usage", "--quota", "5"], "usage does not take --quota"],
    [["reconcile", "--min-age", "soon"], '--min-age must be a whole number of seconds, got "soon"'],
    [["create-token"], "create-token needs --admin"],
    [["usage", "extra"], "Unexpected argument 'extra'"],
    [["frobnicate"], 'unknown command "frobnicate"'],
  ])("%j: one line, the usage, exit 2", async (args, message) => {
    const res = await runCli(args, env);
    expect(res.code).toBe(2);
    expect(res.stdout).toBe("");
    const [first, blank, usage] = res.stderr.split("\n");
    expect(first).toMatch(/^error: /);
    expect(first).toContain(message);
    expect(blank).toBe("");
    expect(usage).toMatch(/^Usage: npm run --silent cli -- <command>/);
    // No stack trace, and nothing was started.
    expect(res.stderr).not.toMatch(/^\s+at /m);
    expect(existsSync(dataDir)).toBe(false);
  });

  it("--help prints the usage on stdout and exits 0", async () => {
    const res = await runCli(["--help"], env);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^Usage: /);
    expect(res.stderr).toBe("");
  });
});
