// Server entrypoint: embedded defaults if needed -> migrate -> deps -> app + workers.
// Job workers run here unless RUN_WORKERS=false (then `npm run worker` runs them).
import "./compile-cache.ts";
import { loadConfig } from "./config.ts";
import { createLogger } from "./logger.ts";
import { resolveRuntime } from "./runtime.ts";
import { exitOnStartupError, handleSignals, type Signals } from "./shutdown.ts";

let signals: Signals | undefined;

async function main() {
  const config = loadConfig();
  const logger = createLogger({ level: config.log.level });
  // Parts stop in reverse order of start: the app (no new requests), then connections and
  // workers, then the database.
  signals = handleSignals(logger);
  // The application's modules (most of start-up: Fastify, yoga, Pothos, Prisma) load while
  // the embedded PostgreSQL starts, not after it.
  const modules = Promise.all([import("./app.ts"), import("./deps.ts")]);
  modules.catch(() => {}); // awaited below; a failure surfaces there
  const runtime = await resolveRuntime(config, (msg) => logger.info(msg));
  const [{ buildApp }, { createDeps }] = await modules;
  signals.onShutdown("stopping database", () => runtime.stopDatabase());
  const deps = await createDeps(config, runtime, { logger });
  signals.onShutdown("closing deps", () => deps.close());

  const bootstrap = await deps.services.organizations.ensureBootstrapAdmin(config.bootstrap.token);
  if (bootstrap?.generated) {
    // Printed once, on the first start only; it is stored hashed.
    process.stdout.write(
      `\nCreated the first organization-admin token (shown only this once):\n\n  ${bootstrap.secret}\n\n` +
        `Use it as "Authorization: Bearer <token>". More: npm run --silent cli -- create-token --admin\n\n`,
    );
  } else if (bootstrap) {
    logger.info("CABINET_BOOTSTRAP_TOKEN is now the first organization-admin token");
  }

  const app = await buildApp(deps);
  signals.onShutdown("stopping app", () => app.stop());
  const port = await app.start();
  if (config.workers.run) await deps.startWorkers();
  else logger.info("RUN_WORKERS=false: no job workers or schedules in this process");
  const base = config.http.publicUrl ?? `http://localhost:${port}`;
  logger.info(`GraphQL (with GraphiQL) at ${base}/graphql; subscriptions over graphql-ws and SSE on the same path`);
  logger.info(`storage: ${deps.blobStore.driver}${runtime.embedded ? "; database: embedded PostgreSQL" : ""}`);
  signals.started();
}

main().catch((e) => {
  signals?.started();
  // A signal during start-up stops what had started; a step it cut short fails on its way: not an error.
  if (signals?.stopping) return;
  exitOnStartupError(e, "Cabinet");
});
