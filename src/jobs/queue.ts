// Job queue over pg-boss on the application database. `send` can join a Prisma
// transaction, so a job is enqueued exactly when the change that needs it commits.
import PgBoss from "pg-boss";
import type { Tx } from "../db/prisma.ts";
import { type JobHandlers, type JobMap, type JobName, QUEUE_OPTIONS, SCHEDULES } from "./catalogue.ts";

export type JobQueue = {
  start(): Promise<void>;
  stop(): Promise<void>;
  send<K extends JobName>(name: K, data: JobMap[K], options?: { tx?: Tx; startAfterSeconds?: number }): Promise<void>;
  /** Starts workers for every job in the catalogue, and the clock for scheduled ones. */
  work(handlers: JobHandlers, options?: { pollingIntervalSeconds?: number }): Promise<void>;
};

/** pg-boss's `db` hook, routed through an open Prisma transaction. */
function transactionDb(tx: Tx): PgBoss.Db {
  return {
    executeSql: async (text, values) => ({ rows: await tx.$queryRawUnsafe<unknown[]>(text, ...values) }),
  };
}

export function createJobQueue(options: { databaseUrl: string; log?: (msg: string, err?: unknown) => void }): JobQueue {
  const boss = new PgBoss({ connectionString: options.databaseUrl, schema: "pgboss", max: 4 });
  boss.on("error", (e) => options.log?.("pg-boss error", e));
  let started = false;

  return {
    async start() {
      await boss.start();
      started = true;
      for (const name of Object.keys(QUEUE_OPTIONS) as JobName[]) {
        await boss.createQueue(name, { name, ...QUEUE_OPTIONS[name] });
      }
    },
    async stop() {
      if (started) await boss.stop({ graceful: true, wait: true, timeout: 5000 });
      started = false;
    },
    async send(name, data, sendOptions = {}) {
      await boss.send(name, data as object, {
        ...(sendOptions.tx ? { db: transactionDb(sendOptions.tx) } : {}),
        ...(sendOptions.startAfterSeconds ? { startAfter: sendOptions.startAfterSeconds } : {}),
      });
    },
    async work(handlers, workOptions = {}) {
      for (const name of Object.keys(handlers) as JobName[]) {
        const handler = handlers[name] as (data: unknown) => Promise<void>;
        await boss.work<unknown>(name, { pollingIntervalSeconds: workOptions.pollingIntervalSeconds ?? 2 }, async (jobs) => {
          for (const job of jobs) await handler(job.data);
        });
      }
      // pg-boss keeps one schedule per name across processes, so every worker may (re)declare it.
      for (const [name, cron] of Object.entries(SCHEDULES)) await boss.schedule(name, cron, {}, { tz: "UTC" });
    },
  };
}
