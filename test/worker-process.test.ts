// An API process with RUN_WORKERS=false and a separate worker process
// (`npm run worker`) on one database and one DATA_DIR (so one disk blob store).
// The API runs no jobs: the overwrite's purge job (the safety net behind the
// purge in the request's wake, decision 43) and an expired two-stage upload stay
// until the worker runs, and the worker's log names the very jobs (by id) it handled.
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import pino from "pino";
import { afterAll, beforeAll, expect, it } from "vitest";
import { freePort } from "../src/free-port.ts";
import { randomToken } from "../src/ids.ts";
import { createJobQueue } from "../src/jobs/queue.ts";
import { createTestDatabase, eventually } from "./harness.ts";
import { startServer, startWorker, type Server, type Worker } from "./support/processes.ts";

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let sql: pg.Client;
let dataDir: string;
let api: Server | undefined;
let worker: Worker | undefined;
const token = `worker-test-${randomToken(16)}`;

beforeAll(async () => {
  db = await createTestDatabase();
  sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
  dataDir = await mkdtemp(path.join(os.tmpdir(), "cabinet-worker-"));
});
afterAll(async () => {
  await worker?.stop();
  await api?.stop();
  await sql?.end();
  await db?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

const env = () => ({
  DATA_DIR: dataDir,
  DATABASE_URL: db.url,
  CABINET_SIGNING_SECRET: randomToken(32).padEnd(32, "x"),
  CABINET_BOOTSTRAP_TOKEN: token,
  LOG_LEVEL: "info",
  // An upload whose URL expired is abandoned at the next sweep.
  UPLOAD_ABANDON_AFTER_SECONDS: "0",
});

async function graphql<T = any>(query: string, variables?: object): Promise<T> {
  const res = await fetch(`${api!.url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: T; errors?: unknown };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data!;
}

const upload = (spaceId: string, filePath: string, body: string) =>
  fetch(`${api!.url}/api/v1/space/${spaceId}/storage/${Buffer.from(filePath).toString("base64")}/upload`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "text/plain" },
    body,
  });

/** Where the disk store keeps an object (storage/disk/disk-blob-store.ts). */
const objectFile = (key: string) => path.join(dataDir, "blobs", key.slice(0, 2), key);
const jobs = async (name: string) =>
  (await sql.query<{ id: string; state: string }>(`SELECT id, state::text FROM pgboss.job WHERE name = $1 ORDER BY created_on`, [name])).rows;
/** The worker's pino lines saying it finished a job. */
const jobsDone = (out: string) =>
  out
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as { msg: string; job?: string; jobId?: string; attempt?: number; output?: Record<string, number> })
    .filter((record) => record.msg === "job done");

it("the API process only enqueues; the worker process purges replaced bytes and sweeps abandoned uploads", async () => {
  const sharedEnv = env();
  api = await startServer({ ...sharedEnv, RUN_WORKERS: "false" }, await freePort());
  expect(api.stdout()).toContain("RUN_WORKERS=false: no job workers or schedules in this process");
  const spaceId = (await graphql(`mutation { createSpace(input: { name: "Jobs" }) { id } }`)).createSpace.id as string;

  // Overwrite a file: the old blob row goes in the same transaction that enqueues its purge.
  expect((await upload(spaceId, "notes/today.txt", "first version")).status).toBe(200);
  const [oldKey] = (await sql.query<{ key: string }>(`SELECT key FROM blobs`)).rows.map((r) => r.key);
  expect(existsSync(objectFile(oldKey!))).toBe(true);
  expect((await upload(spaceId, "notes/today.txt", "second version")).status).toBe(200);
  expect((await sql.query(`SELECT 1 FROM blobs WHERE key = $1`, [oldKey])).rowCount).toBe(0);

  // A two-stage upload whose URL expires in a second, and no bytes ever arrive.
  const created = await graphql(`mutation($input: CreateAssetUploadInput!) { createAssetUpload(input: $input) { asset { id status } } }`, {
    input: { spaceId, path: "notes/never.bin", mimeType: "application/octet-stream", size: 10, expiresIn: 1 },
  });
  expect(created.createAssetUpload.asset.status).toBe("PENDING");
  const pendingUploads = async () => Number((await sql.query(`SELECT count(*) FROM blobs WHERE status = 'PENDING'`)).rows[0].count);
  expect(await pendingUploads()).toBe(1);

  // Enqueue a sweep now rather than wait for the per-minute schedule, through the app's own queue.
  await new Promise((r) => setTimeout(r, 1100));
  const sender = createJobQueue({ databaseUrl: db.url, logger: pino({ level: "silent" }) });
  await sender.start();
  await sender.send("upload.sweep", {});
  await sender.stop();

  // Only the API runs: the jobs wait, the upload stays, and nothing is scheduled. The old
  // bytes went in the overwrite request's wake; its purge job is the safety net.
  await new Promise((r) => setTimeout(r, 3000));
  const [purge] = await jobs("blob.purge");
  const [sweep] = await jobs("upload.sweep");
  expect(purge).toMatchObject({ state: "created" });
  expect(sweep).toMatchObject({ state: "created" });
  expect(existsSync(objectFile(oldKey!))).toBe(false);
  expect(await pendingUploads()).toBe(1);
  expect((await sql.query(`SELECT name FROM pgboss.schedule`)).rows).toEqual([]);

  // The worker runs them.
  worker = await startWorker(sharedEnv);
  await eventually(async () => (await pendingUploads()) === 0, 30_000);
  await eventually(async () => (await jobs("blob.purge"))[0]?.state === "completed" && (await jobs("upload.sweep"))[0]?.state === "completed", 30_000);
  await eventually(() => {
    const ids = jobsDone(worker!.stdout()).map((r) => r.jobId);
    return ids.includes(purge!.id) && ids.includes(sweep!.id);
  }, 10_000);
  const done = jobsDone(worker.stdout());
  expect(done.find((r) => r.jobId === purge!.id)).toMatchObject({ job: "blob.purge", attempt: 1, output: { deleted: 1 } });
  expect(done.find((r) => r.jobId === sweep!.id)).toMatchObject({ job: "upload.sweep", attempt: 1 });
  // Whichever sweep got there first (ours, or the worker's own schedule), one upload was abandoned.
  const abandoned = done.filter((r) => r.job === "upload.sweep").reduce((n, r) => n + (r.output?.abandoned ?? 0), 0);
  expect(abandoned).toBe(1);
  expect(await graphql(`query($spaceId: ID!) { entry(spaceId: $spaceId, path: "notes/never.bin") { id } }`, { spaceId })).toEqual({ entry: null });
  // The worker declared the schedules; the API process never handled a job.
  expect((await sql.query<{ name: string }>(`SELECT name FROM pgboss.schedule ORDER BY name`)).rows.map((r) => r.name)).toEqual([
    "attachment.retention-sweep",
    "attachment.unbound-sweep",
    "blob.reconcile",
    "event.prune",
    "message.complete_stale",
    "upload.sweep",
    "webhook.prune",
  ]);
  expect(jobsDone(api.stdout())).toEqual([]);

  // Both shut down in order on SIGTERM.
  expect(await worker.stop()).toBe(0);
  expect(worker.stdout()).toContain("SIGTERM: shutting down");
  worker = undefined;
  expect(await api.stop()).toBe(0);
  api = undefined;
});
