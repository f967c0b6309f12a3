// Move benchmark: moving a folder with 100,000 descendants must cost what moving
// a folder with 1 descendant costs (paths are derived, never stored, so a move is
// one row update). Both folders are moved back and forth between folders A and B
// through GraphQL (moveEntry) over HTTP, interleaved, in the same run;
// ratio = median(big) / median(small) must be at most LIMIT.
//
//   npx tsx bench/tree-move.ts          BENCH_MOVES=500 npx tsx bench/tree-move.ts
//
// The tree is seeded with SQL (generate_series), not through the API:
//   /a/big/d000..d099/f0000..f0998   (100 folders × 999 entries: 100,000 descendants,
//                                     every 10th entry a folder, the rest files)
//   /a/small/only.txt                (1 descendant)
//   /b
// Prints a short report and a final JSON line; exits 1 when the ratio is over the
// limit or a moved subtree's paths do not follow the move.
import { log, ms, round, runBench, secondsSince, stats, statsJson, timed, type BenchEnv } from "./_support.ts";

const LIMIT = 1.5;
const MOVES = positiveInt(process.env.BENCH_MOVES, 200);
const WARMUP = 20;
const SUBFOLDERS = 100;
const PER_SUBFOLDER = 999;

const ID = { a: "ent_bench_a", b: "ent_bench_b", big: "ent_bench_big", small: "ent_bench_small" };
/** A descendant three levels below `big`'s parent: a/big/d042/f0501. */
const DEEP = { dir: 42, i: 501 };
const deepName = (d: number, i: number) => `d${String(d).padStart(3, "0")}/f${String(i).padStart(4, "0")}`;

function positiveInt(raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`expected a positive integer, got "${raw}"`);
  return n;
}

async function seed({ sql, spaceId, rootId }: BenchEnv): Promise<{ seconds: number; bigDescendants: number; deepId: string }> {
  const t0 = performance.now();
  await sql.query("BEGIN");
  await sql.query(
    `INSERT INTO entries (id, space_id, parent_id, kind, name) VALUES
       ($2, $1, $6, 'FOLDER', 'a'), ($3, $1, $6, 'FOLDER', 'b'),
       ($4, $1, $2, 'FOLDER', 'big'), ($5, $1, $2, 'FOLDER', 'small'),
       ($7, $1, $5, 'FILE', 'only.txt')`,
    [spaceId, ID.a, ID.b, ID.big, ID.small, rootId, `${ID.small}_child`],
  );
  await sql.query(
    `INSERT INTO entries (id, space_id, parent_id, kind, name)
     SELECT 'ent_' || substr(md5('dir/' || d), 1, 26), $1, $2, 'FOLDER', 'd' || lpad(d::text, 3, '0')
       FROM generate_series(0, $3::int - 1) d`,
    [spaceId, ID.big, SUBFOLDERS],
  );
  // Random-looking ids like real ones (md5, not sequential), so the primary key is a realistic btree.
  await sql.query(
    `INSERT INTO entries (id, space_id, parent_id, kind, name, size)
     SELECT 'ent_' || substr(md5('entry/' || d || '/' || i), 1, 26), $1, 'ent_' || substr(md5('dir/' || d), 1, 26),
            (CASE WHEN i % 10 = 0 THEN 'FOLDER' ELSE 'FILE' END)::"EntryKind",
            'f' || lpad(i::text, 4, '0'),
            CASE WHEN i % 10 = 0 THEN 0 ELSE i * 1000 END
       FROM generate_series(0, $2::int - 1) d, generate_series(0, $3::int - 1) i`,
    [spaceId, SUBFOLDERS, PER_SUBFOLDER],
  );
  await sql.query("COMMIT");
  await sql.query("VACUUM (ANALYZE) entries");
  const seconds = secondsSince(t0);

  const counted = await sql.query<{ n: string }>(
    `WITH RECURSIVE sub(id) AS (SELECT id FROM entries WHERE parent_id = $1 UNION ALL SELECT e.id FROM entries e JOIN sub ON e.parent_id = sub.id)
     SELECT count(*) AS n FROM sub`,
    [ID.big],
  );
  const deep = await sql.query<{ id: string }>(`SELECT 'ent_' || substr(md5('entry/' || $1::int || '/' || $2::int), 1, 26) AS id`, [DEEP.dir, DEEP.i]);
  return { seconds, bigDescendants: Number(counted.rows[0]!.n), deepId: deep.rows[0]!.id };
}

const MOVE = `mutation Move($id: ID!, $parentId: ID!) { moveEntry(input: { id: $id, parentId: $parentId }) { id } }`;
const AT = `query At($spaceId: ID!, $path: String!) { entry(spaceId: $spaceId, path: $path) { id path } }`;

async function move(env: BenchEnv, id: string, parentId: string): Promise<number> {
  const [data, t] = await timed(() => env.gql<{ moveEntry: { id: string } }>(MOVE, { id, parentId }));
  if (data.moveEntry.id !== id) throw new Error(`moveEntry returned ${data.moveEntry.id}, expected ${id}`);
  return t;
}

/** The deep descendant is found at its path under `folder` (and its path field says so), and not under the other folder. */
async function checkDeepPath(env: BenchEnv, deepId: string, folder: "a" | "b"): Promise<void> {
  const expected = `${folder}/big/${deepName(DEEP.dir, DEEP.i)}`;
  const other = `${folder === "a" ? "b" : "a"}/big/${deepName(DEEP.dir, DEEP.i)}`;
  const here = await env.gql<{ entry: { id: string; path: string } | null }>(AT, { spaceId: env.spaceId, path: expected });
  if (here.entry?.id !== deepId) throw new Error(`after the move, ${expected} is ${JSON.stringify(here.entry)}, expected entry ${deepId}`);
  if (here.entry.path !== expected) throw new Error(`after the move, the path field of ${deepId} is "${here.entry.path}", expected "${expected}"`);
  const there = await env.gql<{ entry: { id: string } | null }>(AT, { spaceId: env.spaceId, path: other });
  if (there.entry !== null) throw new Error(`after the move, ${other} still resolves to ${there.entry.id}`);
}

await runBench("tree-move", async (env, summary) => {
  log(
    `tree-move: folder with ${(SUBFOLDERS * (PER_SUBFOLDER + 1)).toLocaleString("en")} descendants vs 1 descendant, ${MOVES} moves each over GraphQL, limit ratio ${LIMIT}`,
  );
  const seeded = await seed(env);
  log(`  seeded in ${seeded.seconds.toFixed(1)} s (SQL + VACUUM ANALYZE): big has ${seeded.bigDescendants.toLocaleString("en")} descendants, small has 1`);
  Object.assign(summary, { ratio: null, limit: LIMIT, moves: MOVES, bigDescendants: seeded.bigDescendants, seedSeconds: round(seeded.seconds, 1) });
  if (seeded.bigDescendants !== SUBFOLDERS * (PER_SUBFOLDER + 1)) throw new Error(`seeded ${seeded.bigDescendants} descendants`);

  // Correctness once: the whole subtree follows the move, both ways.
  await move(env, ID.big, ID.b);
  await checkDeepPath(env, seeded.deepId, "b");
  await move(env, ID.big, ID.a);
  await checkDeepPath(env, seeded.deepId, "a");
  log(`  paths follow the move: ${deepName(DEEP.dir, DEEP.i)} resolves under b/big after moving big to b, and back under a/big`);

  // Both folders start in a; the i-th move of each goes to b when i is even, back to a when odd.
  const big: number[] = [];
  const small: number[] = [];
  for (let i = 0; i < WARMUP + MOVES; i++) {
    const to = i % 2 === 0 ? ID.b : ID.a;
    // Alternate which one goes first, so neither always follows the other.
    let tBig: number;
    let tSmall: number;
    if (i % 4 < 2) {
      tBig = await move(env, ID.big, to);
      tSmall = await move(env, ID.small, to);
    } else {
      tSmall = await move(env, ID.small, to);
      tBig = await move(env, ID.big, to);
    }
    if (i >= WARMUP) {
      big.push(tBig);
      small.push(tSmall);
    }
  }
  const where = await env.sql.query<{ id: string; parent_id: string }>(`SELECT id, parent_id FROM entries WHERE id = ANY($1::text[])`, [[ID.big, ID.small]]);
  const expectedParent = (WARMUP + MOVES) % 2 === 1 ? ID.b : ID.a;
  if (where.rows.length !== 2 || where.rows.some((r) => r.parent_id !== expectedParent)) {
    throw new Error(`after the moves, expected both folders under ${expectedParent}: ${JSON.stringify(where.rows)}`);
  }

  const sBig = stats(big);
  const sSmall = stats(small);
  const ratio = sBig.median / sSmall.median;
  Object.assign(summary, { ratio: round(ratio, 3), big: statsJson(sBig), small: statsJson(sSmall) });
  log(`  move big   (100,000 below)  median ${ms(sBig.median)}  p95 ${ms(sBig.p95)}  min ${ms(sBig.min)}  max ${ms(sBig.max)}`);
  log(`  move small (1 below)        median ${ms(sSmall.median)}  p95 ${ms(sSmall.p95)}  min ${ms(sSmall.min)}  max ${ms(sSmall.max)}`);
  log(`  ratio big/small (medians)   ${ratio.toFixed(3)}  (limit ${LIMIT})`);
  if (ratio > LIMIT) {
    summary.error = `moving 100,000 descendants took ${ratio.toFixed(2)}x as long as moving 1 (limit ${LIMIT})`;
    log(`  FAIL: ${summary.error}`);
    return false;
  }
  return true;
});
