// The typed job catalogue: every job name, its payload, and its queue policy.
// Handlers live beside their noun (modules/<noun>/<noun>.jobs.ts) and must be
// idempotent: a job may run more than once, or after its row is gone.
import type PgBoss from "pg-boss";

export type JobMap = {
  /** Delete objects from the blob store after the rows that owned them were committed away. */
  "blob.purge": { keys: string[] };
};

export type JobName = keyof JobMap;

export const QUEUE_OPTIONS: { [K in JobName]: Omit<PgBoss.Queue, "name"> } = {
  "blob.purge": { retryLimit: 10, retryDelay: 5, retryBackoff: true, expireInSeconds: 300 },
};

export type JobHandlers = { [K in JobName]: (data: JobMap[K]) => Promise<void> };
