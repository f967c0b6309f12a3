// buildTestApp(): the real app on a free port, on its own database (cloned from
// the migrated template) and its own temp blob directory. Tests talk to it
// over real HTTP and WebSocket, like any client.
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { print } from "graphql";
import pg from "pg";
import pino from "pino";
import { inject } from "vitest";
import { buildApp, type App } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";
import { freePort } from "../src/free-port.ts";
import { createDeps, type Deps, type Logger } from "../src/deps.ts";
import { randomToken } from "../src/ids.ts";
import type { BlobStore } from "../src/storage/blob-store.ts";
import { createFactories, type Factories } from "./factories.ts";

export type GraphQLResponse<T> = {
  data?: T | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: { code?: string; [k: string]: unknown } }[];
};

/** A fresh database cloned from the migrated template. */
export async function createTestDatabase(options: { empty?: boolean } = {}): Promise<{ url: string; drop(): Promise<void> }> {
  const adminUrl = inject("pgAdminUrl");
  const name = `test_${randomToken(8)}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name} TEMPLATE ${options.empty ? "template0" : "cabinet_template"}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export type TestAppOptions = {
  env?: Record<string, string>;
  blobStore?: (ctx: { publicUrl: string; signingSecret: string; dataDir: string }) => BlobStore;
  /** Collects every SQL statement Prisma sends (for N+1 assertions). */
  sqlLog?: string[];
  workers?: boolean;
  /** Connections in the app's database pool (default: the app's own). */
  poolSize?: number;
  /** Receives the app's log records (default: silent unless TEST_LOG_LEVEL is set). */
  logger?: Logger;
};

export type TestApp = {
  url: string;
  graphqlUrl: string;
  wsUrl: string;
  deps: Deps;
  app: App;
  factories: Factories;
  dataDir: string;
  gql<TData, TVars>(doc: TypedDocumentNode<TData, TVars> | string, variables?: TVars, token?: string): Promise<GraphQLResponse<TData>>;
  close(): Promise<void>;
};

export async function buildTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const db = await createTestDatabase();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "cabinet-test-data-"));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const signingSecret = randomToken(32);
  const config = loadConfig({
    DATA_DIR: dataDir,
    DATABASE_URL: db.url,
    PUBLIC_URL: url,
    PORT: String(port),
    LOG_LEVEL: "silent",
    CABINET_SIGNING_SECRET: signingSecret,
    ...options.env,
  });
  const runtime = { databaseUrl: db.url, signingSecret, publicUrl: url };
  const logger = options.logger ?? pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });
  const sqlLog = options.sqlLog;
  const deps = await createDeps(config, runtime, {
    logger,
    prisma: { ...(sqlLog ? { onQuery: (sql: string) => sqlLog.push(sql) } : {}), ...(options.poolSize ? { maxConnections: options.poolSize } : {}) },
    blobStore: options.blobStore?.({ publicUrl: url, signingSecret, dataDir }),
  });
  const app = await buildApp(deps);
  await app.start(port, "127.0.0.1");
  if (options.workers !== false) await deps.startWorkers(0.5);

  const graphqlUrl = `${url}/graphql`;
  return {
    url,
    graphqlUrl,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    deps,
    app,
    dataDir,
    factories: createFactories(deps),
    async gql(doc, variables, token) {
      const res = await fetch(graphqlUrl, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/graphql-response+json, application/json",
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify({ query: typeof doc === "string" ? doc : print(doc), variables }),
      });
      return (await res.json()) as GraphQLResponse<never>;
    },
    async close() {
      await app.stop();
      await deps.close();
      await db.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Polls `check` until it returns a truthy value or the time is up. */
export async function eventually<T>(check: () => Promise<T> | T, timeoutMs = 10_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** First error code of a GraphQL response. */
export const errorCode = (res: GraphQLResponse<unknown>) => res.errors?.[0]?.extensions?.code;
