// Job queue over pg-boss on the application database. `send` can join a Prisma
// transaction, so a job is enqueued exactly when the change that needs it commits.
//
// Two pg-boss instances, so that only a process that works does job work:
//   - the sender (every process) creates the queues and sends; it runs no
//     workers, no cron clock and no maintenance;
//   - the worker (started by `work()`, in processes with RUN_WORKERS or in
//     `npm run worker`) runs the job workers, the cron clock (pg-boss's
//     timekeeper is itself a worker) and maintenance (expiry, retention).
import PgBoss from "pg-boss";
import type { Tx } from "../db/prisma.ts";
import type { Logger } from "../deps.ts";
import { checkJobSpecs, type JobSpec } from "./job-spec.ts";
import { type JobDeps, type JobMap, type JobName, JOBS } from "./registry.ts";

export type JobQueue = {
  /** Creates (or brings in step with the specs) every job's queue and dead letter queue. */
  start(): Promise<void>;
  /** Lets running jobs finish (up to 5 s), then closes both pools. */
  stop(): Promise<void>;
  send<K extends JobName>(name: K, data: JobMap[K], options?: { tx?: Tx; startAfterSeconds?: number }): Promise<void>;
  /** Starts this process's workers (`concurrency` per job) and declares the schedules. */
  work(deps: JobDeps, options?: { pollingIntervalSeconds?: number; concurrency?: Partial<Record<JobName, number>> }): Promise<void>;
};

const SCHEMA = "pgboss";
const SPECS: readonly JobSpec<JobName, object, JobDeps>[] = JOBS;

/** pg-boss's `db` hook, routed through an open Prisma transaction. */
function transactionDb(tx: Tx): PgBoss.Db {
  return {
    executeSql: async (text, values) => ({ rows: await tx.$queryRawUnsafe<unknown[]>(text, ...values) }),
  };
}

/** Runs one fetched job through its spec's handler; logs the outcome with the job's id. */
async function runJob(spec: JobSpec<JobName, object, JobDeps>, job: PgBoss.JobWithMetadata<object>, deps: JobDeps, logger: Logger) {
  // pg-boss counts retries from 0 on the first run; handlers see attempts from 1.
  const attempt = job.retryCount + 1;
  const fields = { job: spec.name, jobId: job.id, attempt };
  const started = Date.now();
  try {
    const output = await spec.handle({ id: job.id, attempt, data: job.data }, deps);
    logger.info({ ...fields, ms: Date.now() - started, ...(output ? { output } : {}) }, "job done");
    return output;
  } catch (err) {
    const last = job.retryCount >= job.retryLimit;
    logger[last ? "error" : "warn"]({ ...fields, err }, last ? `job failed; dead-lettered to ${spec.queue.deadLetter}` : "job failed; will retry");
    throw err;
  }
}

/**
 * pg-boss completes or fails a fetched batch as a whole; so that each job of a batch
 * completes, retries or dead-letters on its own, each is settled here by id. pg-boss's own
 * completion afterwards only touches jobs still active, which none are.
 */
async function runBatch(boss: PgBoss, spec: JobSpec<JobName, object, JobDeps>, jobs: PgBoss.JobWithMetadata<object>[], deps: JobDeps, logger: Logger) {
  if (jobs.length === 1) return runJob(spec, jobs[0]!, deps, logger);
  for (const job of jobs) {
    try {
      const output = await runJob(spec, job, deps, logger);
      await boss.complete(spec.name, job.id, output);
    } catch (err) {
      await boss.fail(spec.name, job.id, err as object);
    }
  }
  return undefined;
}

export function createJobQueue(options: { databaseUrl: string; logger: Logger }): JobQueue {
  const { logger } = options;
  checkJobSpecs(SPECS);
  const onError = (err: unknown) => logger.error({ err }, "pg-boss error");
  const sender = new PgBoss({ connectionString: options.databaseUrl, schema: SCHEMA, max: 4, schedule: false, supervise: false });
  sender.on("error", onError);
  let worker: PgBoss | undefined;
  let started = false;
  let starting: Promise<void> | undefined;
  const start = () => {
    starting ??= (async () => {
      await sender.start();
      started = true;
      for (const spec of SPECS) {
        const queue = { name: spec.name, ...spec.queue };
        // A queue's dead letter must exist first (a foreign key).
        await sender.createQueue(queue.deadLetter, { name: queue.deadLetter });
        await sender.createQueue(queue.name, queue);
        // createQueue leaves an existing queue as it was; this applies a changed spec.
        await sender.updateQueue(queue.name, queue);
      }
    })();
    return starting;
  };

  return {
    start,
    async stop() {
      // The worker first: its running jobs may still send.
      if (worker) await worker.stop({ graceful: true, wait: true, timeout: 5000 });
      worker = undefined;
      await starting?.catch(() => {});
      if (started) await sender.stop({ graceful: true, wait: true, timeout: 5000 });
      started = false;
      starting = undefined;
    },
    async send(name, data, sendOptions = {}) {
      // A process that did not start the queue (a CLI command) starts it on its first job.
      await start();
      await sender.send(name, data, {
        ...(sendOptions.tx ? { db: transactionDb(sendOptions.tx) } : {}),
        ...(sendOptions.startAfterSeconds ? { startAfter: sendOptions.startAfterSeconds } : {}),
      });
    },
    async work(deps, workOptions = {}) {
      if (worker) throw new Error("workers already started");
      const boss = new PgBoss({ connectionString: options.databaseUrl, schema: SCHEMA, max: 4 });
      worker = boss;
      worker.on("error", onError);
      await worker.start();
      const pollingIntervalSeconds = workOptions.pollingIntervalSeconds ?? 2;
      for (const spec of SPECS) {
        const fetchOptions = { batchSize: spec.batchSize ?? 1, includeMetadata: true as const, pollingIntervalSeconds };
        // `concurrency` units (see JobSpec.concurrency), each fetching up to batchSize jobs.
        // A configured concurrency (processing pools) overrides the spec's default.
        const units = workOptions.concurrency?.[spec.name] ?? spec.concurrency;
        for (let i = 0; i < units; i++) {
          await worker.work<object>(spec.name, fetchOptions, (jobs) => runBatch(boss, spec, jobs, deps, logger));
        }
      }
      // pg-boss keeps one schedule per name across processes, so every worker may (re)declare
      // it; schedules no spec declares any more (a renamed job) are dropped.
      const declared = new Map(SPECS.flatMap((s) => (s.schedule ? [[s.name as string, s.schedule] as const] : [])));
      for (const schedule of await worker.getSchedules()) {
        if (!declared.has(schedule.name)) await worker.unschedule(schedule.name);
      }
      for (const [name, cron] of declared) await worker.schedule(name, cron, {}, { tz: "UTC" });
    },
  };
}
