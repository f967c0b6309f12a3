// SEARCH_LANGUAGE (decision 52): the text search configuration of the stored
// search vectors and of the queries. Both call cabinet_search_config(), an
// IMMUTABLE function (a generated column needs an immutable expression). When
// the setting differs from the function's answer, startup replaces the
// function and recomputes both generated columns in one transaction
// (ALTER COLUMN … SET EXPRESSION rewrites the tables: minutes on a large
// database, once per change). An advisory lock lets one of several starting
// processes do it; the others see it done.
import pg from "pg";
import { errors } from "../../errors.ts";

const ENTRY_EXPRESSION = `setweight(to_tsvector(cabinet_search_config(), translate("name", '._-', '   ')), 'A')`;
const TEXT_EXPRESSION = `to_tsvector(cabinet_search_config(), left("text", 262144))`;

/** Makes the stored vectors use `language`; true when they were recomputed. */
export async function ensureSearchLanguage(databaseUrl: string, language: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const current = async () => (await client.query<{ cfg: string }>(`SELECT cabinet_search_config()::text AS cfg`)).rows[0]!.cfg;
    if ((await current()) === language) return false;
    const known = await client.query(`SELECT 1 FROM pg_ts_config WHERE cfgname = $1`, [language]);
    if (!known.rowCount) throw errors.badInput(`SEARCH_LANGUAGE: "${language}" is not a text search configuration of this database (see \\dF)`);
    await client.query("BEGIN");
    try {
      await client.query(`SELECT pg_advisory_xact_lock(hashtextextended('cabinet_search_config', 0))`);
      if ((await current()) === language) {
        await client.query("COMMIT");
        return false;
      }
      // `language` is a known configuration name (checked above), quoted as a literal.
      const literal = `'${language.replaceAll("'", "''")}'`;
      await client.query(`CREATE OR REPLACE FUNCTION cabinet_search_config() RETURNS regconfig
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT ${literal}::regconfig $$`);
      await client.query(`ALTER TABLE "entries" ALTER COLUMN "search_tsv" SET EXPRESSION AS (${ENTRY_EXPRESSION})`);
      await client.query(`ALTER TABLE "blob_texts" ALTER COLUMN "search_tsv" SET EXPRESSION AS (${TEXT_EXPRESSION})`);
      await client.query("COMMIT");
      return true;
    } catch (err) {
      await client.query("ROLLBACK");
      throw err;
    }
  } finally {
    await client.end();
  }
}
