// Deep pagination benchmark: the 1,000th page of a 100,000-entry folder must cost
// what the first page costs (keyset pagination: every page is an index range scan
// starting right after the cursor). Over GraphQL (Folder.children, first: 100),
// for several orders, page 1 and page 1,000 are fetched alternately in the same
// run; ratio = median(page 1,000) / median(page 1) must be at most LIMIT for
// every order.
//
//   npx tsx bench/listing-pages.ts        BENCH_REPEATS=300 BENCH_EXPLAIN=full npx tsx bench/listing-pages.ts
//
// The folder /big is seeded with SQL: 10,000 folders and 90,000 files with varied
// names, sizes (many ties; all folders have size 0) and modification times (ties
// too), so the id tie-break is exercised. The cursor of page 1,000 comes from
// walking pages 1..999 once (untimed; the walk also checks every entry shows up
// exactly once). Page 1 and page 1,000 are compared with SQL using the same order
// (kind, FOLDER first; then the field; then id). The EXPLAIN (ANALYZE, BUFFERS) of
// the listing SQL the server runs (built by entry-listing.ts itself) is printed
// for both pages as extra information.
//
// Prints a short report and a final JSON line; exits 1 when a ratio is over the
// limit or a page is wrong.
import type { PrismaClient } from "../src/db/prisma.ts";
import { Prisma } from "../src/generated/prisma/client.ts";
import { decodeCursor, listChildren, type EntryOrder } from "../src/modules/entry/entry-listing.ts";
import { log, ms, round, runBench, secondsSince, stats, statsJson, timed, type BenchEnv } from "./_support.ts";

const LIMIT = 1.5;
const FOLDERS = 10_000;
const FILES = 90_000;
const TOTAL = FOLDERS + FILES;
const PAGE = 100;
const LAST_PAGE = TOTAL / PAGE; // 1,000
const REPEATS = positiveInt(process.env.BENCH_REPEATS, 100);
const WARMUP = 10;
const EXPLAIN_FULL = process.env.BENCH_EXPLAIN === "full";
const ORDERS: EntryOrder[] = [
  { field: "NAME", direction: "ASC" },
  { field: "SIZE", direction: "DESC" },
  { field: "UPDATED_AT", direction: "ASC" },
];
const COLUMN = { NAME: "name", SIZE: "size", UPDATED_AT: "updated_at" } as const;
const BIG_ID = "ent_bench_listing_big";

function positiveInt(raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`expected a positive integer, got "${raw}"`);
  return n;
}

async function seed({ sql, spaceId, rootId }: BenchEnv): Promise<number> {
  const t0 = performance.now();
  await sql.query("BEGIN");
  await sql.query(`INSERT INTO entries (id, space_id, parent_id, kind, name) VALUES ($1, $2, $3, 'FOLDER', 'big')`, [BIG_ID, spaceId, rootId]);
  // i in 1..FOLDERS are folders, the rest files. Names: an md5 prefix of varying
  // length (every 7th upper-cased), unique by the _i suffix, files with an extension.
  // Sizes: 40,000 distinct values over 90,000 files; modification times: 50,000
  // distinct minutes (a third with milliseconds), so both have ties.
  await sql.query(
    `INSERT INTO entries (id, space_id, parent_id, kind, name, size, updated_at)
     SELECT 'ent_' || substr(md5('entry/' || i), 1, 26), $1, $2,
            (CASE WHEN folder THEN 'FOLDER' ELSE 'FILE' END)::"EntryKind",
            (CASE WHEN i % 7 = 0 THEN upper(stem) ELSE stem END) || '_' || i
              || CASE WHEN folder THEN '' ELSE '.' || (ARRAY['jpg', 'pdf', 'txt', 'png', 'docx'])[1 + i % 5] END,
            CASE WHEN folder THEN 0 ELSE ((hashint4(i)::bigint & 2147483647) % 40000) * 1024 END,
            timestamptz '2025-01-01 00:00:00+00'
              + ((hashint4(i + 1000003)::bigint & 2147483647) % 50000) * interval '1 minute'
              + CASE WHEN i % 3 = 0 THEN (i % 1000) * interval '1 millisecond' ELSE interval '0' END
       FROM generate_series(1, $3::int) i,
            LATERAL (SELECT i <= $4::int AS folder, substr(md5('name/' || i), 1, 3 + i % 10) AS stem) x`,
    [spaceId, BIG_ID, TOTAL, FOLDERS],
  );
  await sql.query("COMMIT");
  await sql.query("VACUUM (ANALYZE) entries");
  return secondsSince(t0);
}

type Page = { pageInfo: { endCursor: string | null; hasNextPage: boolean }; edges: { node: { id: string; name: string } }[] };

const PAGE_QUERY = `
  query Page($spaceId: ID!, $after: String, $field: EntryOrderField!, $direction: OrderDirection!) {
    entry(spaceId: $spaceId, path: "big") {
      ... on Folder {
        children(first: ${PAGE}, after: $after, orderBy: { field: $field, direction: $direction }) {
          pageInfo { endCursor hasNextPage }
          edges { node { id name } }
        }
      }
    }
  }`;

async function fetchPage(env: BenchEnv, order: EntryOrder, after: string | null): Promise<Page> {
  const data = await env.gql<{ entry: { children?: Page } | null }>(PAGE_QUERY, {
    spaceId: env.spaceId,
    after,
    field: order.field,
    direction: order.direction,
  });
  if (!data.entry?.children) throw new Error(`entry(path: "big") returned ${JSON.stringify(data.entry)}`);
  return data.entry.children;
}

/** Ids of rows offset..offset+count of the folder in `order`, straight from SQL. */
async function expectedIds(env: BenchEnv, order: EntryOrder, offset: number, count: number): Promise<string[]> {
  const dir = order.direction;
  const rows = await env.sql.query<{ id: string }>(
    `SELECT id FROM entries WHERE parent_id = $1 ORDER BY kind, ${COLUMN[order.field]} ${dir}, id ${dir} OFFSET $2 LIMIT $3`,
    [BIG_ID, offset, count],
  );
  return rows.rows.map((r) => r.id);
}

function comparePage(what: string, page: Page, expected: string[]): void {
  const got = page.edges.map((e) => e.node.id);
  if (got.length !== expected.length || got.some((id, i) => id !== expected[i])) {
    const at = got.findIndex((id, i) => id !== expected[i]);
    throw new Error(`${what}: ${got.length} rows, expected ${expected.length}; first difference at row ${at}: got ${got[at]}, expected ${expected[at]}`);
  }
}

/** Walks every page once; returns the cursor that leads to the last page. */
async function walk(env: BenchEnv, order: EntryOrder): Promise<{ lastPageCursor: string; seconds: number }> {
  const t0 = performance.now();
  const seen = new Set<string>();
  let after: string | null = null;
  let lastPageCursor: string | undefined;
  for (let n = 1; n <= LAST_PAGE; n++) {
    const page: Page = await fetchPage(env, order, after);
    for (const e of page.edges) seen.add(e.node.id);
    if (page.edges.length !== PAGE) throw new Error(`page ${n} has ${page.edges.length} rows, expected ${PAGE}`);
    if (page.pageInfo.hasNextPage !== n < LAST_PAGE) throw new Error(`page ${n}: hasNextPage is ${page.pageInfo.hasNextPage}`);
    if (n === LAST_PAGE - 1) lastPageCursor = page.pageInfo.endCursor!;
    after = page.pageInfo.endCursor;
  }
  if (seen.size !== TOTAL) throw new Error(`walking all pages returned ${seen.size} distinct entries, expected ${TOTAL}`);
  return { lastPageCursor: lastPageCursor!, seconds: secondsSince(t0) };
}

/**
 * The SQL listChildren() sends for one page, run under EXPLAIN (ANALYZE, BUFFERS)
 * on the bench's own connection. listChildren is given a stand-in client that
 * only records the statement, so the bench explains exactly what the server runs.
 */
async function explainPage(env: BenchEnv, order: EntryOrder, cursor: string | null): Promise<string[]> {
  let statement: Prisma.Sql | undefined;
  const recorder = {
    $queryRaw: async (strings: TemplateStringsArray, ...values: unknown[]) => {
      statement = Prisma.sql(strings, ...values);
      return [];
    },
  } as unknown as PrismaClient;
  await listChildren(recorder, [BIG_ID], order, { size: PAGE, cursor: cursor ? decodeCursor(cursor, order.field) : null, backward: false });
  if (!statement) throw new Error("listChildren sent no SQL");
  // The fastest of a few runs: a single run on a busy machine is mostly noise.
  let best: { plan: string[]; ms: number } | undefined;
  for (let i = 0; i < 5; i++) {
    const res = await env.sql.query<{ "QUERY PLAN": string }>(`EXPLAIN (ANALYZE, BUFFERS) ${statement.text}`, statement.values as unknown[]);
    const plan = res.rows.map((r) => r["QUERY PLAN"]);
    const executionMs = planSummary(plan).executionMs ?? Infinity;
    if (!best || executionMs < best.ms) best = { plan, ms: executionMs };
  }
  return best!.plan;
}

type PlanSummary = { executionMs: number | null; indexes: string[]; seqScan: boolean; heapFetches: number; buffers: string | null };

function planSummary(plan: string[]): PlanSummary {
  const execution = plan.find((l) => l.startsWith("Execution Time"));
  const indexes = [...new Set(plan.flatMap((l) => /Index (?:Only )?Scan(?: Backward)? using (\S+)/.exec(l)?.[0] ?? []))];
  return {
    executionMs: execution ? Number(/([\d.]+) ms/.exec(execution)?.[1]) : null,
    indexes,
    seqScan: plan.some((l) => l.includes("Seq Scan on entries")),
    heapFetches: plan.reduce((sum, l) => sum + Number(/Heap Fetches: (\d+)/.exec(l)?.[1] ?? 0), 0),
    // The top node's line (the first one), which covers the whole statement.
    buffers: plan.find((l) => l.trim().startsWith("Buffers:"))?.trim() ?? null,
  };
}

await runBench("listing-pages", async (env, summary) => {
  log(
    `listing-pages: page 1 vs page ${LAST_PAGE.toLocaleString("en")} (first: ${PAGE}) of a ${TOTAL.toLocaleString("en")}-entry folder over GraphQL, ${REPEATS} fetches each, limit ratio ${LIMIT}`,
  );
  Object.assign(summary, { ratio: null, limit: LIMIT, entries: TOTAL, pageSize: PAGE, repeats: REPEATS });
  const seedSeconds = await seed(env);
  summary.seedSeconds = round(seedSeconds, 1);
  log(`  seeded ${FOLDERS.toLocaleString("en")} folders + ${FILES.toLocaleString("en")} files in ${seedSeconds.toFixed(1)} s (SQL + VACUUM ANALYZE)`);

  const results: Record<string, unknown>[] = [];
  let pass = true;
  for (const order of ORDERS) {
    const label = `${order.field} ${order.direction}`;
    const { lastPageCursor, seconds } = await walk(env, order);
    log(`  ${label}: walked ${LAST_PAGE} pages in ${seconds.toFixed(1)} s, each of the ${TOTAL.toLocaleString("en")} entries exactly once`);

    comparePage(`${label} page 1`, await fetchPage(env, order, null), await expectedIds(env, order, 0, PAGE));
    const last = await fetchPage(env, order, lastPageCursor);
    comparePage(`${label} page ${LAST_PAGE}`, last, await expectedIds(env, order, TOTAL - PAGE, PAGE));
    if (last.pageInfo.hasNextPage) throw new Error(`${label} page ${LAST_PAGE}: hasNextPage is true`);

    const first: number[] = [];
    const deep: number[] = [];
    for (let i = 0; i < WARMUP + REPEATS; i++) {
      // Alternate which page goes first in each pair.
      const pair = i % 2 === 0 ? [null, lastPageCursor] : [lastPageCursor, null];
      for (const after of pair) {
        const [, t] = await timed(() => fetchPage(env, order, after));
        if (i >= WARMUP) (after === null ? first : deep).push(t);
      }
    }
    const s1 = stats(first);
    const sN = stats(deep);
    const ratio = sN.median / s1.median;
    const ok = ratio <= LIMIT;
    if (!ok) pass = false;

    const plan1 = planSummary(await explainPage(env, order, null));
    const planNLines = await explainPage(env, order, lastPageCursor);
    const planN = planSummary(planNLines);

    log(`    page 1      median ${ms(s1.median)}  p95 ${ms(s1.p95)}`);
    log(`    page ${LAST_PAGE}   median ${ms(sN.median)}  p95 ${ms(sN.p95)}`);
    log(`    ratio ${ratio.toFixed(3)}  (limit ${LIMIT})${ok ? "" : "  FAIL"}`);
    log(
      `    listing SQL execution: page 1 ${plan1.executionMs} ms, page ${LAST_PAGE} ${planN.executionMs} ms; ${planN.indexes.join(", ") || "no index scan"}${planN.seqScan ? "; SEQ SCAN" : ""}`,
    );
    const io = (p: PlanSummary) => `${p.buffers ?? "(no buffers line)"}, heap fetches ${p.heapFetches}`;
    log(`    page 1 ${io(plan1)}; page ${LAST_PAGE} ${io(planN)}`);
    if (EXPLAIN_FULL || !ok) log(`    EXPLAIN (ANALYZE, BUFFERS), page ${LAST_PAGE}:\n      ${planNLines.join("\n      ")}`);
    results.push({
      order: label,
      ratio: round(ratio, 3),
      page1: statsJson(s1),
      [`page${LAST_PAGE}`]: statsJson(sN),
      sqlExecutionMs: { page1: plan1.executionMs, [`page${LAST_PAGE}`]: planN.executionMs },
      walkSeconds: round(seconds, 1),
      pass: ok,
    });
  }
  const worst = Math.max(...results.map((r) => r.ratio as number));
  Object.assign(summary, { ratio: worst, orders: results });
  log(`  worst ratio ${worst.toFixed(3)} (limit ${LIMIT})`);
  if (!pass)
    summary.error = `page ${LAST_PAGE} took more than ${LIMIT}x page 1 for ${results
      .filter((r) => !r.pass)
      .map((r) => r.order)
      .join(", ")}`;
  return pass;
});
