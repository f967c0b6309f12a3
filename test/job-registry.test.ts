// The job registry: queues and dead letter queues are created from the module
// specs, each job runs `concurrency` at a time per process, handlers see their
// attempt (from 1), and a job that fails its last attempt lands in its dead
// letter queue. `queue.send` only compiles for a known job name with its data.
import { Writable } from "node:stream";
import PgBoss from "pg-boss";
import pino from "pino";
import { afterAll, beforeAll, expect, it } from "vitest";
import { randomToken } from "../src/ids.ts";
import type { JobQueue } from "../src/jobs/queue.ts";
import { checkJobSpecs } from "../src/jobs/job-spec.ts";
import { JOBS } from "../src/jobs/registry.ts";
import { purgeJob } from "../src/modules/blob/blob.jobs.ts";
import { DiskBlobStore } from "../src/storage/disk/disk-blob-store.ts";
import { buildTestApp, eventually, type TestApp } from "./harness.ts";

/** A disk store whose deletes can be held (to watch concurrency) or made to fail. */
class ControlledStore extends DiskBlobStore {
  held = new Set<string>();
  inFlight = 0;
  maxInFlight = 0;
  failing = new Set<string>();
  private release?: () => void;
  private gate = Promise.resolve();
  hold() {
    this.gate = new Promise((r) => (this.release = r));
  }
  letGo() {
    this.release?.();
  }
  override async delete(key: string) {
    if (this.failing.has(key)) throw new Error(`refusing to delete ${key}`);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await this.gate;
      await super.delete(key);
    } finally {
      this.inFlight--;
    }
  }
}

type LogRecord = { level: number; msg: string; job?: string; jobId?: string; attempt?: number };
const logs: LogRecord[] = [];
const logger = pino(
  { level: "info" },
  new Writable({
    write(chunk, _enc, done) {
      logs.push(JSON.parse(String(chunk)) as LogRecord);
      done();
    },
  }),
);

let t: TestApp;
let store: ControlledStore;
beforeAll(async () => {
  t = await buildTestApp({
    logger,
    blobStore: (ctx) => (store = new ControlledStore({ root: `${ctx.dataDir}/blobs`, publicUrl: ctx.publicUrl, signingSecret: ctx.signingSecret })),
  });
});
afterAll(() => t?.close());

const jobRows = (name: string, key: string) =>
  t.deps.prisma.$queryRaw<{ id: string; state: string }[]>`SELECT id, state::text FROM pgboss.job WHERE name = ${name} AND data->'keys' ? ${key}`;

it("creates every job's queue with its spec's policy, and its dead letter queue", async () => {
  const queues = await t.deps.prisma.$queryRaw<{ name: string; policy: string; retry_limit: number; expire_seconds: number; dead_letter: string | null }[]>`
    SELECT name, policy, retry_limit, expire_seconds, dead_letter FROM pgboss.queue`;
  for (const spec of JOBS) {
    expect(queues.find((q) => q.name === spec.name)).toMatchObject({
      policy: spec.queue.policy ?? "standard",
      retry_limit: spec.queue.retryLimit,
      expire_seconds: spec.queue.expireInSeconds,
      dead_letter: spec.queue.deadLetter,
    });
    expect(queues.map((q) => q.name)).toContain(spec.queue.deadLetter);
  }
  expect(JOBS.map((j) => j.name).sort()).toEqual([
    "attachment.retention-sweep",
    "attachment.unbound-sweep",
    "blob.analyze.documents",
    "blob.analyze.images",
    "blob.analyze.media",
    "blob.purge",
    "blob.reconcile",
    "event.prune",
    "message.complete_stale",
    "upload.sweep",
    "webhook.deliver",
    "webhook.prune",
  ]);
});

it("runs at most `concurrency` jobs of a name at once in a process", async () => {
  store.hold();
  // Enough jobs that every unit fetches a batch, and two more that must wait.
  const keys = Array.from({ length: purgeJob.concurrency * (purgeJob.batchSize ?? 1) + 2 }, () => randomToken(20));
  for (const key of keys) await t.deps.queue.send("blob.purge", { keys: [key] });
  await eventually(() => store.inFlight === purgeJob.concurrency);
  // Several polls later the others still wait for a free slot.
  await new Promise((r) => setTimeout(r, 1500));
  expect(store.inFlight).toBe(purgeJob.concurrency);
  store.letGo();
  for (const key of keys) await eventually(async () => (await jobRows("blob.purge", key))[0]?.state === "completed");
  expect(store.maxInFlight).toBe(purgeJob.concurrency);
});

it("tells handlers their attempt, and dead-letters a job after its last attempt", async () => {
  const key = randomToken(20);
  store.failing.add(key);
  // Two attempts without delay (overriding the queue's 10 retries with backoff, to keep the test short).
  const boss = new PgBoss({ connectionString: t.deps.runtime.databaseUrl, schema: "pgboss", schedule: false, supervise: false });
  await boss.start();
  const id = await boss.send("blob.purge", { keys: [key] }, { retryLimit: 1, retryDelay: 0, retryBackoff: false });
  await boss.stop({ graceful: false });

  await eventually(async () => (await jobRows("blob.purge.dead", key)).length === 1, 15_000);
  expect(await jobRows("blob.purge", key)).toEqual([{ id, state: "failed" }]);
  const failures = logs.filter((r) => r.jobId === id).map((r) => [r.attempt, r.msg]);
  expect(failures).toEqual([
    [1, "job failed; will retry"],
    [2, "job failed; dead-lettered to blob.purge.dead"],
  ]);
});

it("settles each job of a fetched batch on its own: one failing job does not fail the others", async () => {
  const bad = randomToken(20);
  const good = Array.from({ length: 5 }, () => randomToken(20));
  store.failing.add(bad);
  const boss = new PgBoss({ connectionString: t.deps.runtime.databaseUrl, schema: "pgboss", schedule: false, supervise: false });
  await boss.start();
  // One insert, so the units fetch them together.
  await boss.insert([bad, ...good].map((key) => ({ name: "blob.purge", data: { keys: [key] }, retryLimit: 0 })));
  await boss.stop({ graceful: false });
  for (const key of good) await eventually(async () => (await jobRows("blob.purge", key))[0]?.state === "completed", 15_000);
  await eventually(async () => (await jobRows("blob.purge", bad))[0]?.state === "failed", 15_000);
  expect(await jobRows("blob.purge.dead", bad)).toHaveLength(1);
  for (const key of good) expect(await jobRows("blob.purge.dead", key)).toHaveLength(0);
});

it("refuses specs the queue could not honour", () => {
  const [a] = JOBS;
  expect(() => checkJobSpecs([a, a])).toThrow(/declared twice/);
  expect(() => checkJobSpecs([{ ...a, concurrency: 0 }])).toThrow(/concurrency/);
  expect(() => checkJobSpecs([{ ...a, batchSize: 0 }])).toThrow(/batchSize/);
  expect(() => checkJobSpecs([{ ...a, queue: { ...a.queue, policy: "singleton" } }])).toThrow(/singleton/);
  expect(() => checkJobSpecs([{ ...a, queue: { ...a.queue, deadLetter: a.name } }])).toThrow(/dead letter/);
  expect(() => checkJobSpecs(JOBS)).not.toThrow();
});

// Compile-time contract (tsc runs over the tests): the job map is derived from the specs.
function sendTypes(queue: JobQueue) {
  void queue.send("blob.purge", { keys: ["k"] });
  void queue.send("blob.reconcile", { dryRun: true });
  void queue.send("upload.sweep", {});
  // @ts-expect-error an unknown job name
  void queue.send("blob.orphans", {});
  // @ts-expect-error the wrong data for the job
  void queue.send("blob.purge", { key: "k" });
  // @ts-expect-error data is required
  void queue.send("blob.purge");
}

void sendTypes; // only compiled, never called
