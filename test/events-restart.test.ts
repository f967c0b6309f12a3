// A PostgreSQL restart under a running server: the event log's tail notices,
// /readyz says so, the tail reconnects, and subscribers miss nothing. Runs on
// its own embedded PostgreSQL (the shared test cluster serves other files in
// parallel and must not be restarted).
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { print } from "graphql";
import { createClient, type Client } from "graphql-ws";
import pino from "pino";
import { afterAll, beforeAll, expect, it } from "vitest";
import WebSocket from "ws";
import { buildApp, type App } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";
import { ensureDatabase, startEmbeddedPostgres, type EmbeddedDatabase } from "../src/db/embedded-postgres.ts";
import { migrate } from "../src/db/migrate.ts";
import { createDeps, type Deps } from "../src/deps.ts";
import { freePort } from "../src/free-port.ts";
import { randomToken } from "../src/ids.ts";
import { CreateFolderSimpleDocument, RevokeApiTokenDocument, SpaceEventsFullDocument, type SpaceEventsFullSubscription } from "./generated/graphql.ts";
import { createFactories } from "./factories.ts";
import { eventually, type GraphQLResponse } from "./harness.ts";

let dir: string;
let pgPort: number;
let database: EmbeddedDatabase;
let deps: Deps;
let app: App;
let url: string;
const clients: Client[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "cabinet-restart-"));
  pgPort = await freePort();
  database = await startEmbeddedPostgres({ dir, fast: true, port: pgPort });
  await ensureDatabase(database.urlFor("postgres"), "cabinet");
  const databaseUrl = database.urlFor("cabinet");
  await migrate(databaseUrl);
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  const signingSecret = randomToken(32);
  const config = loadConfig({
    DATA_DIR: path.join(dir, "data"),
    DATABASE_URL: databaseUrl,
    PUBLIC_URL: url,
    LOG_LEVEL: "silent",
    CABINET_SIGNING_SECRET: signingSecret,
    EVENTS_POLL_INTERVAL_MS: "500",
  });
  deps = await createDeps(config, { databaseUrl, signingSecret, publicUrl: url }, { logger: pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }) });
  app = await buildApp(deps);
  await app.start(port, "127.0.0.1");
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  await app?.stop();
  await deps?.close();
  await database?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function gql<TData>(doc: { kind: "Document" } & object, variables: object, token: string): Promise<GraphQLResponse<TData>> {
  const res = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: print(doc as never), variables }),
  });
  return (await res.json()) as GraphQLResponse<TData>;
}

/** Retries `op` until it answers without errors: the database may still be coming back. */
async function whenDatabaseAnswers<T>(op: () => Promise<GraphQLResponse<T>>): Promise<T> {
  const data = await eventually(
    async () => {
      const res = await op().catch(() => null);
      return res && !res.errors ? res.data : null;
    },
    30_000,
    100,
  );
  return data as T;
}

const readyz = async () => {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, body: (await res.json()) as { checks: Record<string, { ok: boolean; code?: string; message?: string }> } };
};

function subscribe(token: string, spaceId: string) {
  let closed: { code: number; reason: string } | undefined;
  const client = createClient({
    url: `${url.replace("http", "ws")}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
    lazy: true,
    on: {
      closed: (e) => {
        closed = { code: (e as CloseEvent).code, reason: String((e as CloseEvent).reason) };
      },
    },
  });
  clients.push(client);
  const names: string[] = [];
  client.subscribe<SpaceEventsFullSubscription>(
    { query: print(SpaceEventsFullDocument), variables: { spaceId } },
    { next: (r) => void (r.data && names.push(r.data.spaceEvents.name)), error: () => {}, complete: () => {} },
  );
  return { names, closed: () => closed };
}

it("reports the tail down while PostgreSQL restarts, then delivers everything made during and after, and closes a socket whose token was revoked", async () => {
  const f = createFactories(deps);
  const w = await f.world();
  const reader = await f.member(w.org.id, w.space.id, ["assets:read"]);
  const second = await f.token(reader.account.id);
  const sub = subscribe(reader.token, w.space.id);
  const doomed = subscribe(second.secret, w.space.id);
  await eventually(
    async () => {
      await gql(CreateFolderSimpleDocument, { spaceId: w.space.id, path: `probe-${randomUUID()}` }, w.adminToken);
      return sub.names.length > 0 && doomed.names.length > 0;
    },
    8_000,
    150,
  );
  expect((await readyz()).body.checks.events).toEqual({ ok: true });

  await database.stop();
  const down = await eventually(
    async () => {
      const r = await readyz();
      return r.status === 503 && !r.body.checks.events?.ok ? r : null;
    },
    10_000,
    100,
  );
  expect(down!.body.checks.events).toMatchObject({ ok: false, code: "EVENTS_UNAVAILABLE", message: expect.stringContaining("reconnecting") });

  database = await startEmbeddedPostgres({ dir, fast: true, port: pgPort });
  // Right away, while the tail may still be reconnecting: changes, and a revocation.
  const during = ["during-1", "during-2", "during-3"];
  for (const name of during) await whenDatabaseAnswers(() => gql(CreateFolderSimpleDocument, { spaceId: w.space.id, path: name }, w.adminToken));
  await whenDatabaseAnswers(() => gql(RevokeApiTokenDocument, { id: second.id }, w.adminToken));

  const up = await eventually(
    async () => {
      const r = await readyz().catch(() => null);
      return r?.status === 200 ? r : null;
    },
    30_000,
    100,
  );
  expect(up!.body.checks.events).toEqual({ ok: true });
  const after = ["after-1", "after-2"];
  for (const name of after) await whenDatabaseAnswers(() => gql(CreateFolderSimpleDocument, { spaceId: w.space.id, path: name }, w.adminToken));

  await eventually(() => sub.names.includes("after-2"), 10_000, 50);
  const seen = sub.names.filter((n) => !n.startsWith("probe-"));
  expect(seen).toEqual([...during, ...after]);
  await eventually(() => doomed.closed(), 10_000, 50);
  expect(doomed.closed()).toEqual({ code: 4403, reason: "Token revoked" });
  expect(sub.closed()).toBeUndefined();
});
