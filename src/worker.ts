// Worker-only entrypoint (`npm run worker`): embedded defaults if needed ->
// migrate -> deps -> job workers and schedules. No HTTP. Run as many as the job
// load needs, beside API processes started with RUN_WORKERS=false; they share
// the database (jobs live in pg-boss there) and the blob store.
import "./compile-cache.ts";
import { loadConfig } from "./config.ts";
import { createDeps } from "./deps.ts";
import { createLogger } from "./logger.ts";
import { JOBS } from "./jobs/registry.ts";
import { resolveRuntime } from "./runtime.ts";
import { exitOnStartupError, handleSignals, type Signals } from "./shutdown.ts";

let signals: Signals | undefined;

async function main() {
  const config = loadConfig();
  const logger = createLogger({ level: config.log.level });
  // Workers stop first (running jobs finish, up to 5 s, while the database is still there).
  signals = handleSignals(logger);
  const runtime = await resolveRuntime(config, (msg) => logger.info(msg));
  signals.onShutdown("stopping database", () => runtime.stopDatabase());
  const deps = await createDeps(config, runtime, { logger });
  signals.onShutdown("closing deps", () => deps.close());

  // A worker process works whatever RUN_WORKERS says: that setting is for API processes.
  await deps.startWorkers();
  const jobs = JOBS.map((j) => `${j.name} (concurrency ${deps.workerConcurrency[j.name] ?? j.concurrency})`).join(", ");
  logger.info(`worker ready: ${jobs}`);
  logger.info(`storage: ${deps.blobStore.driver}${runtime.embedded ? "; database: embedded PostgreSQL" : ""}`);
  signals.started();
}

main().catch((e) => {
  signals?.started();
  // A signal during start-up stops what had started; a step it cut short fails on its way: not an error.
  if (signals?.stopping) return;
  exitOnStartupError(e, "Cabinet worker");
});
