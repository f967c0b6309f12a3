// The migration runner: applies prisma/migrations in order, once, recording
// them the way Prisma does, and refuses migrations edited after the fact.
import { cp, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { MIGRATIONS_DIR, migrate, readMigrations } from "../src/db/migrate.ts";
import { createTestDatabase } from "./harness.ts";

let db: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  db = await createTestDatabase({ empty: true });
});
afterAll(() => db?.drop());

it("applies every migration once and records it like Prisma", async () => {
  const all = (await readMigrations()).map((m) => m.name);
  expect(all.length).toBeGreaterThan(0);
  expect(await migrate(db.url)).toEqual(all);
  expect(await migrate(db.url)).toEqual([]);

  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  const { rows } = await client.query(`SELECT migration_name, checksum, finished_at, applied_steps_count FROM "_prisma_migrations" ORDER BY migration_name`);
  await client.end();
  expect(rows.map((r) => r.migration_name)).toEqual(all);
  for (const r of rows) {
    expect(r.checksum).toMatch(/^[0-9a-f]{64}$/);
    expect(r.finished_at).toBeInstanceOf(Date);
    expect(r.applied_steps_count).toBe(1);
  }
});

it("runs concurrent starters safely (advisory lock)", async () => {
  const fresh = await createTestDatabase({ empty: true });
  try {
    const results = await Promise.all([migrate(fresh.url), migrate(fresh.url), migrate(fresh.url)]);
    expect(results.flat().length).toBe((await readMigrations()).length);
  } finally {
    await fresh.drop();
  }
});

it("refuses a migration that changed after it was applied", async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), "cabinet-migrations-"));
  try {
    await cp(MIGRATIONS_DIR, dir, { recursive: true });
    const first = (await readdir(dir, { withFileTypes: true })).find((d) => d.isDirectory())!.name;
    await writeFile(path.join(dir, first, "migration.sql"), "-- edited\nSELECT 1;");
    await expect(migrate(db.url, dir)).rejects.toThrow(/checksum mismatch/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

it("rolls back a failing migration and records nothing for it", async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), "cabinet-migrations-"));
  try {
    await cp(MIGRATIONS_DIR, dir, { recursive: true });
    await mkdir(path.join(dir, "99999999999999_broken"));
    await writeFile(path.join(dir, "99999999999999_broken", "migration.sql"), "CREATE TABLE half_done (id int);\nSELECT * FROM no_such_table;");
    await expect(migrate(db.url, dir)).rejects.toThrow(/99999999999999_broken failed/);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const table = await client.query(`SELECT to_regclass('half_done') AS t`);
    const recorded = await client.query(`SELECT 1 FROM "_prisma_migrations" WHERE migration_name = '99999999999999_broken'`);
    await client.end();
    expect(table.rows[0].t).toBeNull();
    expect(recorded.rowCount).toBe(0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
