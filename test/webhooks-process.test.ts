// Webhooks across processes and a crash: an API process with RUN_WORKERS=false
// records events but delivers nothing; a worker process (`npm run worker`)
// delivers them from the dispatcher's stored position; after that worker is
// SIGKILLed, the events committed meanwhile reach the receiver once a new
// worker starts, and nothing delivered before is sent again.
import { createHmac } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { freePort } from "../src/free-port.ts";
import { randomToken } from "../src/ids.ts";
import { createTestDatabase, eventually } from "./harness.ts";
import { startServer, startWorker, type Server, type Worker } from "./support/processes.ts";

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let sql: pg.Client;
let dataDir: string;
let api: Server | undefined;
const workers: Worker[] = [];
let receiver: http.Server;
const received: { headers: http.IncomingHttpHeaders; body: string }[] = [];
const token = `webhook-process-${randomToken(16)}`;

beforeAll(async () => {
  db = await createTestDatabase();
  sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
  dataDir = await mkdtemp(path.join(os.tmpdir(), "cabinet-webhooks-"));
  receiver = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      received.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
});
afterAll(async () => {
  for (const w of workers) await w.stop();
  await api?.stop();
  await sql?.end();
  await db?.drop();
  await rm(dataDir, { recursive: true, force: true });
  await new Promise((r) => receiver?.close(r));
});

const env = () => ({
  DATA_DIR: dataDir,
  DATABASE_URL: db.url,
  CABINET_SIGNING_SECRET: randomToken(32),
  CABINET_BOOTSTRAP_TOKEN: token,
  IMPORT_ALLOW_HOSTS: "127.0.0.1",
  LOG_LEVEL: "info",
  EVENTS_POLL_INTERVAL_MS: "500",
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

async function upload(spaceId: string, filePath: string) {
  const res = await fetch(`${api!.url}/api/v1/space/${spaceId}/storage/${Buffer.from(filePath).toString("base64")}/upload`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "text/plain" },
    body: filePath,
  });
  expect(res.status).toBe(200);
}

const names = () => received.map((r) => JSON.parse(r.body).payload.name as string).sort();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it("delivers what the API recorded once a worker runs, and resumes after a worker is killed", async () => {
  const shared = env();
  api = await startServer({ ...shared, RUN_WORKERS: "false" }, await freePort());
  const spaceId = (await graphql(`mutation { createSpace(input: { name: "Hooks" }) { id } }`)).createSpace.id as string;
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const { secret } = (
    await graphql(`mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { secret } }`, { i: { spaceId, url, events: ["entry.created"] } })
  ).createWebhook as { secret: string };

  for (const name of ["a.txt", "b.txt", "c.txt"]) await upload(spaceId, name);
  await sleep(1_500);
  // No worker: nothing dispatched, nothing sent.
  expect(received).toEqual([]);
  expect((await sql.query("SELECT count(*)::int AS n FROM webhook_deliveries")).rows[0].n).toBe(0);

  workers.push(await startWorker(shared));
  await eventually(() => received.length === 3, 30_000);
  expect(names()).toEqual(["a.txt", "b.txt", "c.txt"]);
  for (const r of received) {
    const [t, v1] = String(r.headers["cabinet-signature"])
      .split(",")
      .map((kv) => kv.split("=")[1]);
    expect(createHmac("sha256", secret).update(`${t}.${r.body}`).digest("hex")).toBe(v1);
  }
  await eventually(async () => (await sql.query("SELECT count(*)::int AS n FROM webhook_deliveries WHERE status = 'SUCCEEDED'")).rows[0].n === 3);

  // A crash: no shutdown at all.
  const killed = workers.pop()!;
  const exited = new Promise((r) => killed.child.once("exit", r));
  killed.child.kill("SIGKILL");
  await exited;
  for (const name of ["d.txt", "e.txt"]) await upload(spaceId, name);
  await sleep(1_000);
  expect(received).toHaveLength(3);

  workers.push(await startWorker(shared));
  await eventually(() => received.length >= 5, 30_000);
  await sleep(1_500);
  expect(names()).toEqual(["a.txt", "b.txt", "c.txt", "d.txt", "e.txt"]);
  expect(new Set(received.map((r) => r.headers["cabinet-delivery"])).size).toBe(5);
}, 120_000);
