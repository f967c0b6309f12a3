// Resolves what Config leaves open at start-up: the database (embedded when no
// DATABASE_URL), the URL signing secret (generated once and kept in DATA_DIR)
// and the public URL. Shared by the server (main.ts) and the CLI.
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Config } from "./config.ts";
import { ensureDatabase, startEmbeddedPostgres } from "./db/embedded-postgres.ts";
import { migrate } from "./db/migrate.ts";
import { ensureSearchLanguage } from "./modules/search/search-language.ts";
import type { Runtime } from "./deps.ts";

const EMBEDDED_DATABASE = "cabinet";

async function signingSecret(config: Config): Promise<string> {
  if (config.storage.signingSecret) return config.storage.signingSecret;
  const file = path.join(config.data.dir, "signing-secret");
  if (existsSync(file)) return (await readFile(file, "utf8")).trim();
  await mkdir(config.data.dir, { recursive: true });
  const secret = randomBytes(32).toString("hex");
  await writeFile(file, `${secret}\n`, { mode: 0o600, flag: "wx" }).catch(async (e) => {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  });
  return (await readFile(file, "utf8")).trim();
}

export type StartedRuntime = Runtime & { embedded: boolean; stopDatabase(): Promise<void> };

/** Starts the embedded database if needed and applies migrations. */
export async function resolveRuntime(config: Config, log: (msg: string) => void): Promise<StartedRuntime> {
  let databaseUrl = config.data.databaseUrl;
  let stopDatabase = async () => {};
  if (!databaseUrl) {
    const started = Date.now();
    const pg = await startEmbeddedPostgres({ dir: config.data.dir });
    await ensureDatabase(pg.urlFor("postgres"), EMBEDDED_DATABASE);
    databaseUrl = pg.urlFor(EMBEDDED_DATABASE);
    stopDatabase = () => pg.stop();
    log(`embedded PostgreSQL ready in ${Date.now() - started} ms (data in ${path.join(config.data.dir, "postgres")})`);
  }
  const applied = await migrate(databaseUrl);
  if (applied.length) log(`applied migrations: ${applied.join(", ")}`);
  if (await ensureSearchLanguage(databaseUrl, config.search.language)) log(`search vectors recomputed for SEARCH_LANGUAGE=${config.search.language}`);
  return {
    databaseUrl,
    signingSecret: await signingSecret(config),
    publicUrl: config.http.publicUrl ?? `http://localhost:${config.http.port}`,
    embedded: !config.data.databaseUrl,
    stopDatabase,
  };
}
