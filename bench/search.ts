// Search paging benchmark (issue 12 point 8, decision 52): page 100 of a
// search over 100,000 files must cost what page 1 costs. Every page ranks the
// same candidate set (both GIN indexes) and keeps a bounded top-N after the
// keyset cursor (rank, id), never an OFFSET, so the ratio should stay flat.
//
//   npx tsx bench/search.ts        BENCH_REPEATS=100 npx tsx bench/search.ts
//
// Seeded with SQL in 10 folders: 100,000 READY files (blobs, entries) and one
// blob_texts row per file, each ~40 words drawn from a 5,000-word vocabulary;
// the word "zebrafish" is in the text of every 10th file (10,000 hits, with
// several ranks and many ties) and in the name of every 1,000th one. Over
// GraphQL (Query.search, first: 50) page 1 and page 100 (rows 4,951..5,000; its
// cursor comes from walking pages 1..99 once, untimed, checking no hit repeats)
// are fetched alternately; ratio = median(page 100) / median(page 1). The
// EXPLAIN (ANALYZE, BUFFERS) of the search SQL (built by search.sql.ts itself)
// is always printed for page 100.
//
// Prints a short report and a final JSON line; exits 1 when the ratio is over
// the limit or a page is wrong.
import { type SearchCursor, searchSql } from "../src/modules/search/search.sql.ts";
import { decodeSearchCursor } from "../src/modules/search/search.service.ts";
import { log, ms, round, runBench, secondsSince, stats, statsJson, timed, type BenchEnv } from "./_support.ts";

const LIMIT = 1.5;
const FILES = 100_000;
const PAGE = 50;
const DEEP_PAGE = 100;
const TERM = "zebrafish";
const REPEATS = positiveInt(process.env.BENCH_REPEATS, 40);
const WARMUP = 5;

function positiveInt(raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`expected a positive integer, got "${raw}"`);
  return n;
}

async function seed({ sql, spaceId, rootId }: BenchEnv): Promise<number> {
  const t0 = performance.now();
  const org = (await sql.query<{ organization_id: string }>(`SELECT organization_id FROM spaces WHERE id = $1`, [spaceId])).rows[0]!.organization_id;
  await sql.query("BEGIN");
  await sql.query(
    `INSERT INTO entries (id, space_id, parent_id, kind, name)
     SELECT 'ent_bench_dir_' || d, $1, $2, 'FOLDER', 'dir-' || d FROM generate_series(0, 9) d`,
    [spaceId, rootId],
  );
  await sql.query(
    `INSERT INTO blobs (id, organization_id, space_id, key, status, size, content_type)
     SELECT 'blob_bench_' || i, $1, $2, 'bench/' || i, 'READY', 1000,
            (ARRAY['text/plain', 'application/pdf', 'image/png', 'text/markdown'])[1 + i % 4]
       FROM generate_series(1, $3::int) i`,
    [org, spaceId, FILES],
  );
  await sql.query(
    `INSERT INTO entries (id, space_id, parent_id, kind, name, blob_id, size)
     SELECT 'ent_bench_' || i, $1, 'ent_bench_dir_' || (i % 10), 'FILE',
            substr(md5('name/' || i), 1, 8) || CASE WHEN i % 1000 = 0 THEN '-${TERM}' ELSE '' END || '_' || i || '.txt',
            'blob_bench_' || i, 1000
       FROM generate_series(1, $2::int) i`,
    [spaceId, FILES],
  );
  // ~40 words of 'w' || hash % 5000; the term 1..3 times in every 10th file (ranks differ, many tie).
  await sql.query(
    `INSERT INTO blob_texts (blob_id, source, text, bytes)
     SELECT 'blob_bench_' || i, 'text', t, octet_length(t)
       FROM generate_series(1, $1::int) i,
            LATERAL (SELECT string_agg('w' || ((hashint4(i * 64 + k)::bigint & 2147483647) % 5000), ' ')
                            || CASE WHEN i % 10 = 0 THEN repeat(' ${TERM} filler', 1 + i % 3) ELSE '' END AS t
                       FROM generate_series(1, 40) k) x`,
    [FILES],
  );
  await sql.query("COMMIT");
  await sql.query("VACUUM (ANALYZE) entries, blobs, blob_texts");
  return secondsSince(t0);
}

type Page = { pageInfo: { endCursor: string | null; hasNextPage: boolean }; edges: { rank: number; node: { id: string } }[] };
const QUERY = `query($s: ID!, $q: String!, $after: String) {
  search(spaceId: $s, query: $q, first: ${PAGE}, after: $after) { pageInfo { endCursor hasNextPage } edges { rank snippet node { id name } } }
}`;
const fetchPage = async (env: BenchEnv, after: string | null) => (await env.gql<{ search: Page }>(QUERY, { s: env.spaceId, q: TERM, after })).search;

/** Walks pages 1..DEEP_PAGE-1 once; returns the cursor leading to DEEP_PAGE. */
async function walk(env: BenchEnv): Promise<{ cursor: string; seconds: number }> {
  const t0 = performance.now();
  const seen = new Set<string>();
  let after: string | null = null;
  let lastRank = Infinity;
  for (let n = 1; n < DEEP_PAGE; n++) {
    const page: Page = await fetchPage(env, after);
    if (page.edges.length !== PAGE || !page.pageInfo.hasNextPage) throw new Error(`page ${n} has ${page.edges.length} hits`);
    for (const e of page.edges) {
      if (seen.has(e.node.id)) throw new Error(`page ${n}: ${e.node.id} was on an earlier page`);
      if (e.rank > lastRank) throw new Error(`page ${n}: rank ${e.rank} after ${lastRank}`);
      seen.add(e.node.id);
      lastRank = e.rank;
    }
    after = page.pageInfo.endCursor;
  }
  return { cursor: after!, seconds: secondsSince(t0) };
}

async function explain(env: BenchEnv, cursor: SearchCursor | null): Promise<string[]> {
  const statement = searchSql({ spaceId: env.spaceId, query: TERM, filter: {}, limit: PAGE + 1, cursor });
  let best: { plan: string[]; ms: number } | undefined;
  for (let i = 0; i < 3; i++) {
    const res = await env.sql.query<{ "QUERY PLAN": string }>(`EXPLAIN (ANALYZE, BUFFERS) ${statement.text}`, statement.values as unknown[]);
    const plan = res.rows.map((r) => r["QUERY PLAN"]);
    const t = Number(/([\d.]+) ms/.exec(plan.find((l) => l.startsWith("Execution Time")) ?? "")?.[1] ?? Infinity);
    if (!best || t < best.ms) best = { plan, ms: t };
  }
  return best!.plan;
}

await runBench("search", async (env, summary) => {
  log(
    `search: page 1 vs page ${DEEP_PAGE} (first: ${PAGE}) of "${TERM}" over ${FILES.toLocaleString("en")} files over GraphQL, ${REPEATS} fetches each, limit ratio ${LIMIT}`,
  );
  Object.assign(summary, { ratio: null, limit: LIMIT, files: FILES, pageSize: PAGE, repeats: REPEATS });
  const seedSeconds = await seed(env);
  summary.seedSeconds = round(seedSeconds, 1);
  const hits = Number(
    (await env.sql.query<{ n: string }>(`SELECT count(*) AS n FROM blob_texts WHERE search_tsv @@ websearch_to_tsquery(cabinet_search_config(), $1)`, [TERM]))
      .rows[0]!.n,
  );
  log(
    `  seeded ${FILES.toLocaleString("en")} files with text in ${seedSeconds.toFixed(1)} s (SQL + VACUUM ANALYZE); "${TERM}" is in ${hits.toLocaleString("en")} texts`,
  );

  const { cursor, seconds } = await walk(env);
  log(`  walked pages 1..${DEEP_PAGE - 1} in ${seconds.toFixed(1)} s: ${(DEEP_PAGE - 1) * PAGE} distinct hits, ranks never increasing`);

  const first: number[] = [];
  const deep: number[] = [];
  for (let i = 0; i < WARMUP + REPEATS; i++) {
    const pair = i % 2 === 0 ? [null, cursor] : [cursor, null];
    for (const after of pair) {
      const [page, t] = await timed(() => fetchPage(env, after));
      if (page.edges.length !== PAGE) throw new Error(`a page had ${page.edges.length} hits`);
      if (i >= WARMUP) (after === null ? first : deep).push(t);
    }
  }
  const s1 = stats(first);
  const sN = stats(deep);
  const ratio = sN.median / s1.median;
  const ok = ratio <= LIMIT;
  const plan1 = await explain(env, null);
  const planN = await explain(env, decodeSearchCursor(cursor));
  const execution = (plan: string[]) => plan.find((l) => l.startsWith("Execution Time")) ?? "?";
  log(`    page 1      median ${ms(s1.median)}  p95 ${ms(s1.p95)}`);
  log(`    page ${DEEP_PAGE}    median ${ms(sN.median)}  p95 ${ms(sN.p95)}`);
  log(`    ratio ${ratio.toFixed(3)}  (limit ${LIMIT})${ok ? "" : "  FAIL"}`);
  log(`    search SQL: page 1 ${execution(plan1)}; page ${DEEP_PAGE} ${execution(planN)}`);
  const indexes = [...new Set(planN.flatMap((l) => /Bitmap Index Scan on (\S+)/.exec(l)?.[1] ?? []))];
  log(`    indexes used: ${indexes.join(", ") || "none"}${planN.some((l) => /Seq Scan on (entries|blob_texts)/.test(l)) ? "; SEQ SCAN" : ""}`);
  log(`    EXPLAIN (ANALYZE, BUFFERS), page ${DEEP_PAGE}:\n      ${planN.join("\n      ")}`);
  Object.assign(summary, { ratio: round(ratio, 3), hits, page1: statsJson(s1), [`page${DEEP_PAGE}`]: statsJson(sN), indexes, walkSeconds: round(seconds, 1) });
  if (!ok) summary.error = `page ${DEEP_PAGE} took ${ratio.toFixed(2)}x page 1`;
  return ok;
});
