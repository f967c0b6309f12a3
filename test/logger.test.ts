// Logs are JSON lines when stdout is a pipe or a file, readable lines on a terminal.
// The terminal case runs under a real pseudo-terminal (`script`), so the choice is the
// factory's own isatty check, not a flag the test passes.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { prettyFormatter } from "../src/logger.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const PROGRAM = `import("./src/logger.ts").then(({ createLogger }) => {
  const log = createLogger({ level: "info" });
  log.info({ reqId: "req_1", res: { statusCode: 200 } }, "request completed");
  log.error({ err: new Error("boom") }, "it broke");
})`;

describe("logger", () => {
  it("writes JSON lines to a pipe", () => {
    const res = spawnSync(process.execPath, ["--import", "tsx", "-e", PROGRAM], { cwd: ROOT, encoding: "utf8" });
    const lines = res.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines).toMatchObject([
      { level: 30, msg: "request completed", reqId: "req_1", res: { statusCode: 200 } },
      { level: 50, msg: "it broke", err: { message: "boom" } },
    ]);
  });

  it("writes readable lines to a terminal", () => {
    const command = [process.execPath, "--import", "tsx", "-e", PROGRAM].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
    const res = spawnSync("script", ["-q", "-e", "-c", command, "/dev/null"], { cwd: ROOT, encoding: "utf8" });
    expect(res.status, res.stderr).toBe(0);
    // Colours are on for a terminal.
    const plain = res.stdout.replace(/\u001b\[\d+m/g, "").replace(/\r/g, "");
    expect(res.stdout).toContain("\u001b[");
    expect(plain).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}request completed reqId=req_1 res=\{ statusCode: 200 \}$/m);
    expect(plain).toMatch(/^\d\d:\d\d:\d\d\.\d{3} ERROR it broke$/m);
    expect(plain).toMatch(/^ {4}Error: boom$/m);
    expect(plain).not.toContain('{"level"');
  });

  it("formats an entry without colours when asked", () => {
    const format = prettyFormatter({ colors: false });
    const line = format(JSON.stringify({ level: 40, time: Date.UTC(2026, 0, 2, 3, 4, 5, 6), pid: 1, hostname: "h", msg: "slow", ms: 12 }));
    expect(line).toBe("03:04:05.006 WARN  slow ms=12\n");
    expect(format("not json\n")).toBe("not json\n");
  });
});
