// Deep browse (issue 11, goal 2): one GraphQL query three levels deep with 50
// children per level (50 folders, 2,500 sub-folders, 2,500 files with name, size,
// mimeType and downloadUrl: 5,050 nodes). Goal: <= 0.25 s of server time, with a
// constant number of SQL statements. The baseline, interleaved in the same run,
// is the flat listing of 100 files with the same fields; the report gives both
// and the cost per node of each (the ratio shows what depth adds per node).
//
//   npx tsx bench/deep-browse.ts        BENCH_ROUNDS=9 npx tsx bench/deep-browse.ts
import { log, round, runBench, type BenchEnv } from "./_support.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const WIDTH = 50;
const GOAL_MS = 250;

const FILE_FIELDS = "name ... on Asset { size mimeType downloadUrl }";
/** `levels` nested children(first: WIDTH) selections under the "deep" folder, files at the bottom. */
function deepQuery(levels: number): string {
  let selection = FILE_FIELDS;
  for (let i = 0; i < levels; i++) selection = `name ... on Folder { children(first: ${WIDTH}) { edges { node { ${selection} } } } }`;
  return `query($s: ID!) { entry(spaceId: $s, path: "deep") { ${selection} } }`;
}
const DEEP = deepQuery(3);
const FLAT = `query($s: ID!) { entry(spaceId: $s, path: "flat") { ... on Folder { children(first: 100) { edges { node { ${FILE_FIELDS} } } } } } }`;

async function seed({ sql, spaceId, rootId }: BenchEnv) {
  const org = (await sql.query<{ organization_id: string }>(`SELECT organization_id FROM spaces WHERE id = $1`, [spaceId])).rows[0]!.organization_id;
  await sql.query("BEGIN");
  await sql.query(
    `INSERT INTO entries (id, space_id, parent_id, kind, name) VALUES ('ent_deep', $1, $2, 'FOLDER', 'deep'), ('ent_flat', $1, $2, 'FOLDER', 'flat')`,
    [spaceId, rootId],
  );
  await sql.query(
    `INSERT INTO entries (id, space_id, parent_id, kind, name) SELECT 'ent_l1_' || a, $1, 'ent_deep', 'FOLDER', 'a' || a FROM generate_series(1, $2::int) a`,
    [spaceId, WIDTH],
  );
  await sql.query(
    `INSERT INTO entries (id, space_id, parent_id, kind, name)
     SELECT 'ent_l2_' || a || '_' || b, $1, 'ent_l1_' || a, 'FOLDER', 'b' || b FROM generate_series(1, $2::int) a, generate_series(1, $2::int) b`,
    [spaceId, WIDTH],
  );
  // One file per sub-folder (2,500) and 100 in the flat folder; keys have the blob-key shape.
  await sql.query(
    `INSERT INTO blobs (id, organization_id, space_id, key, status, size, content_type)
     SELECT 'blob_deep_' || i, $1, $2, md5('deep' || i), 'READY', 1000, 'text/plain' FROM generate_series(1, $3::int) i`,
    [org, spaceId, WIDTH * WIDTH + 100],
  );
  await sql.query(
    `INSERT INTO entries (id, space_id, parent_id, kind, name, blob_id, size)
     SELECT 'ent_f_' || i, $1,
            CASE WHEN i <= $2::int THEN 'ent_l2_' || (1 + (i - 1) / $3::int) || '_' || (1 + (i - 1) % $3::int) ELSE 'ent_flat' END,
            'FILE', 'file-' || i || '.txt', 'blob_deep_' || i, 1000
       FROM generate_series(1, $2::int + 100) i`,
    [spaceId, WIDTH * WIDTH, WIDTH],
  );
  await sql.query("COMMIT");
  await sql.query("VACUUM (ANALYZE) entries, blobs");
}

/** Counts the nodes of a deep answer (every level), to check the query returned all 5,050. */
function countNodes(value: unknown): number {
  if (!value || typeof value !== "object") return 0;
  let n = 0;
  for (const [k, v] of Object.entries(value)) {
    if (k === "node") n++;
    n += Array.isArray(v) ? v.reduce((s: number, x) => s + countNodes(x), 0) : countNodes(v);
  }
  return n;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

await runBench("deep-browse", async (env, summary) => {
  await seed(env);
  const deepMs: number[] = [];
  const flatMs: number[] = [];
  const time = async (query: string) => {
    const t0 = performance.now();
    const data = await env.gql<unknown>(query, { s: env.spaceId });
    return { ms: performance.now() - t0, data };
  };
  const first = await time(DEEP);
  const nodes = countNodes(first.data);
  if (nodes !== WIDTH + 2 * WIDTH * WIDTH) throw new Error(`the deep query returned ${nodes} nodes`);
  await time(FLAT);
  for (let r = 0; r < ROUNDS; r++) {
    deepMs.push((await time(DEEP)).ms);
    flatMs.push((await time(FLAT)).ms);
  }
  const deep = median(deepMs);
  const flat = median(flatMs);
  const perNodeDeep = deep / nodes;
  const perNodeFlat = flat / 100;
  log(`  deep browse, ${nodes} nodes: ${deep.toFixed(0)} ms (goal <= ${GOAL_MS} ms), ${(perNodeDeep * 1000).toFixed(0)} µs per node`);
  log(
    `  flat listing, 100 files: ${flat.toFixed(1)} ms, ${(perNodeFlat * 1000).toFixed(0)} µs per node; per-node ratio deep/flat ${(perNodeDeep / perNodeFlat).toFixed(2)}`,
  );
  summary.deepMs = round(deep, 1);
  summary.flatMs = round(flat, 2);
  summary.perNodeRatio = round(perNodeDeep / perNodeFlat, 3);
  return deep <= GOAL_MS;
});
