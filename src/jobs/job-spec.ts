// What one job declares beside its handler (modules/<noun>/<noun>.jobs.ts): its
// name, queue policy, worker concurrency, schedule and handler. The registry
// (registry.ts) derives the job map, queues, schedules and workers from these.

/** The job a handler receives. `attempt` counts from 1 (a first retry is attempt 2). */
export type Job<Data> = { id: string; attempt: number; data: Data };

/** The pg-boss queue of a job (pg-boss 10 `createQueue` options). */
export type QueuePolicy = {
  /** Retries after the first attempt; 0 = a failed job goes straight to the dead letter queue. */
  retryLimit: number;
  /** Seconds before a retry; with retryBackoff, the base of an exponential, jittered delay. */
  retryDelay?: number;
  retryBackoff?: boolean;
  /** An attempt running longer than this fails (and is retried, or dead-lettered). Under 24 h. */
  expireInSeconds: number;
  /** Queue that receives a copy of the job once it failed for the last time. Nothing consumes
   *  it: dead letters wait there (pg-boss retention applies) for an operator to look at. */
  deadLetter: string;
  /** "singleton": at most one job of this name is active at a time, across all processes. */
  policy?: "standard" | "singleton";
};

export type JobSpec<Name extends string = string, Data extends object = object, Needs = unknown> = {
  /** `noun.verb` */
  name: Name;
  queue: QueuePolicy;
  /**
   * How many jobs of this name one worker process runs at once: each unit is its own pg-boss
   * worker fetching one job at a time, so a slow job never holds back a finished one's slot,
   * and each job completes, retries or dead-letters on its own. With W worker processes up
   * to concurrency × W run at once (a singleton queue: still one).
   */
  concurrency: number;
  /**
   * How many jobs each unit fetches per poll (default 1). pg-boss waits its polling interval
   * between fetches, so a queue of many small jobs (purges) drains at batchSize × concurrency
   * per interval. A batch runs one job after another, and each job still completes, retries
   * or dead-letters on its own.
   */
  batchSize?: number;
  /** Cron (UTC). Scheduled runs carry `{}` as data. */
  schedule?: string;
  /**
   * Thin and idempotent: a job may run again after a crash, or after its rows are gone.
   * `needs` is what this handler uses, no more; deps.ts supplies it. A returned object is
   * stored as the job's output and logged with it.
   */
  handle(job: Job<Data>, needs: Needs): Promise<object | undefined>;
};

/** Declares a job. Name, data and needs are inferred from the literal and the handler's types. */
export function defineJob<const Name extends string, Data extends object, Needs>(spec: JobSpec<Name, Data, Needs>): JobSpec<Name, Data, Needs> {
  return spec;
}

/** Throws on specs the queue could not honour, before anything reaches pg-boss. */
export function checkJobSpecs(specs: readonly JobSpec<string, never, never>[]): void {
  const names = new Set<string>();
  for (const spec of specs) {
    if (names.has(spec.name)) throw new Error(`job "${spec.name}" is declared twice`);
    names.add(spec.name);
  }
  for (const spec of specs) {
    const where = `job "${spec.name}"`;
    if (!Number.isInteger(spec.concurrency) || spec.concurrency < 1) throw new Error(`${where}: concurrency must be an integer >= 1`);
    // A second worker could only collide with the first on pg-boss's singleton index.
    if (spec.batchSize !== undefined && (!Number.isInteger(spec.batchSize) || spec.batchSize < 1))
      throw new Error(`${where}: batchSize must be an integer >= 1`);
    if (spec.queue.policy === "singleton" && (spec.batchSize ?? 1) !== 1) throw new Error(`${where}: a singleton queue fetches one job at a time`);
    if (spec.queue.policy === "singleton" && spec.concurrency !== 1) throw new Error(`${where}: a singleton queue runs one job at a time`);
    if (names.has(spec.queue.deadLetter) || spec.queue.deadLetter === spec.name) {
      throw new Error(`${where}: dead letter queue "${spec.queue.deadLetter}" is a job's queue`);
    }
    if (spec.queue.expireInSeconds < 1 || spec.queue.expireInSeconds >= 24 * 3600) throw new Error(`${where}: expireInSeconds must be 1 s .. 24 h`);
  }
}
