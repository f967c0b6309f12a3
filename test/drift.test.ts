// Drift guard: the generated Prisma client (from schema.prisma) and the live
// catalog (from the SQL migrations) must agree on tables, columns, types,
// nullability and enums. Prisma's own `migrate diff` needs an engine we cannot
// download here, so this compares the two directly.
import { readFileSync } from "node:fs";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createPrisma } from "../src/db/prisma.ts";
import { getDatamodel } from "../src/generated/pothos-prisma-types.ts";
import { $Enums } from "../src/generated/prisma/client.ts";
import { createTestDatabase } from "./harness.ts";

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let client: pg.Client;
beforeAll(async () => {
  db = await createTestDatabase();
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
});
afterAll(async () => {
  await client?.end();
  await db?.drop();
});

// Prisma scalar -> Postgres udt_name produced by our migrations.
const PG_TYPE: Record<string, string> = {
  String: "text",
  BigInt: "int8",
  Int: "int4",
  Boolean: "bool",
  Float: "float8",
  DateTime: "timestamptz",
  Json: "jsonb",
};

type RuntimeDataModel = { models: Record<string, { dbName: string | null; fields: { name: string; dbName?: string }[] }> };

/** `table.column` of every Unsupported("…") field in schema.prisma (mapped names as declared). */
function unsupportedColumns(runtime: RuntimeDataModel): string[] {
  const schema = readFileSync(new URL("../prisma/schema.prisma", import.meta.url), "utf8");
  const columns: string[] = [];
  for (const [, model, body] of schema.matchAll(/^model (\w+) \{([\s\S]*?)^\}/gm)) {
    const table = runtime.models[model!]?.dbName ?? model!;
    for (const [, field, map] of body!.matchAll(/^\s+(\w+)\s+Unsupported\("[^"]+"\)\??(?:.*@map\("([^"]+)"\))?/gm)) columns.push(`${table}.${map ?? field}`);
  }
  return columns;
}

type Column = { table_name: string; column_name: string; udt_name: string; is_nullable: "YES" | "NO" };

it("every model field has a matching column, and every column a field", async () => {
  const { rows } = await client.query<Column>(
    `SELECT table_name, column_name, udt_name, is_nullable FROM information_schema.columns
      WHERE table_schema = 'public' AND table_name <> '_prisma_migrations'`,
  );
  const live = new Map(rows.map((c) => [`${c.table_name}.${c.column_name}`, c]));
  const expected = new Set<string>();
  const mismatches: string[] = [];

  // Types and nullability come from the generated Pothos datamodel; table and
  // column names (@map/@@map) from the generated client's runtime data model.
  const prisma = createPrisma(db.url);
  const runtime = (prisma as unknown as { _runtimeDataModel: RuntimeDataModel })._runtimeDataModel;
  await prisma.$disconnect();
  const datamodel = getDatamodel().datamodel;
  expect(Object.keys(datamodel.models).sort()).toEqual(Object.keys(runtime.models).sort());
  for (const [name, model] of Object.entries(datamodel.models)) {
    const names = runtime.models[name]!;
    const table = names.dbName ?? name;
    for (const field of model.fields) {
      if (field.kind === "object") continue;
      const dbName = names.fields.find((f) => f.name === field.name)?.dbName;
      const column = `${table}.${dbName ?? field.name}`;
      expected.add(column);
      const c = live.get(column);
      if (!c) {
        mismatches.push(`missing column ${column}`);
        continue;
      }
      const type = field.kind === "enum" ? field.type : PG_TYPE[field.type];
      const liveType = field.isList ? c.udt_name.replace(/^_/, "") : c.udt_name;
      if (liveType !== type) mismatches.push(`${column}: client ${field.type} -> ${type}, live ${c.udt_name}`);
      if (field.isList !== c.udt_name.startsWith("_")) mismatches.push(`${column}: list-ness differs`);
      // Prisma lists are never null in the client; the column may allow NULL.
      if (!field.isList && field.isRequired !== (c.is_nullable === "NO")) mismatches.push(`${column}: nullability differs`);
    }
  }
  // Unsupported("…") fields (the generated search vectors) are in neither generated model: read them from the schema.
  for (const column of unsupportedColumns(runtime)) {
    if (live.has(column)) expected.add(column);
    else mismatches.push(`missing column ${column}`);
  }
  for (const column of live.keys()) if (!expected.has(column)) mismatches.push(`column ${column} is not in schema.prisma`);
  expect(mismatches).toEqual([]);
});

it("enums have the same values in the client and the database", async () => {
  const { rows } = await client.query<{ name: string; values: string[] }>(
    `SELECT t.typname AS name, array_agg(e.enumlabel ORDER BY e.enumsortorder)::text[] AS values
       FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid JOIN pg_namespace n ON n.oid = t.typnamespace
      WHERE n.nspname = 'public' GROUP BY t.typname`,
  );
  const live = Object.fromEntries(rows.map((r) => [r.name, r.values]));
  // Enum order matters in Postgres (FOLDER sorts before FILE in listings).
  const generated = Object.fromEntries(Object.entries($Enums).map(([name, values]) => [name, Object.values(values)]));
  expect(live).toEqual(generated);
});
