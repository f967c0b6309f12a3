// The typed job catalogue: every job name, its payload, and its queue policy.
// Handlers live beside their noun (modules/<noun>/<noun>.jobs.ts) and must be
// idempotent: a job may run more than once, or after its row is gone.
import type PgBoss from "pg-boss";

export type JobMap = {
  /** Delete objects from the blob store after the rows that owned them were committed away. */
  "blob.purge": { keys: string[] };
  /** Complete two-stage uploads whose bytes arrived unannounced; abandon expired ones. */
  "upload.sweep": Record<string, never>;
  /** Delete objects nobody owns; mark rows whose object vanished FAILED. */
  "blob.orphans": { dryRun?: boolean };
  /** Delete events older than the retention period (src/events/events.jobs.ts). */
  "event.prune": Record<string, never>;
};

export type JobName = keyof JobMap;

export const QUEUE_OPTIONS: { [K in JobName]: Omit<PgBoss.Queue, "name"> } = {
  "blob.purge": { retryLimit: 10, retryDelay: 5, retryBackoff: true, expireInSeconds: 300 },
  // Periodic and self-healing: a failed run is simply the next run's work.
  "upload.sweep": { retryLimit: 0, expireInSeconds: 300, policy: "singleton" },
  "blob.orphans": { retryLimit: 0, expireInSeconds: 3600, policy: "singleton" },
  "event.prune": { retryLimit: 0, expireInSeconds: 600, policy: "singleton" },
};

/** Jobs run on a clock (cron, UTC). */
export const SCHEDULES: Partial<Record<JobName, string>> = {
  "upload.sweep": "* * * * *",
  "blob.orphans": "17 3 * * *",
  "event.prune": "41 * * * *",
};

export type JobHandlers = { [K in JobName]: (data: JobMap[K]) => Promise<void> };
