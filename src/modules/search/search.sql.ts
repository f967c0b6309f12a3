// The search statement (decision 52): entry names and extracted text matched
// with PostgreSQL full-text search, ranked, keyset-paginated by (rank DESC, id
// ASC). One statement: the query is parsed once (websearch_to_tsquery never
// fails on user syntax), both GIN indexes give the matching entries, ranked as
// they are found, the filters (MIME type, folder subtree) apply, and the page
// is the top `limit` rows after the cursor. Every page ranks the same candidate set and keeps a
// bounded top-N, so page 100 costs what page 1 costs (no OFFSET). Snippets are
// made for the page's rows only (ts_headline over a bounded excerpt).
import type { PrismaClient } from "../../db/prisma.ts";
import { Prisma } from "../../generated/prisma/client.ts";

/** Where a hit lies in the ranking: its rank (Postgres `real`, as Postgres prints it) and id. */
export type SearchCursor = { rank: string; id: string };

export type SearchFilter = {
  /** Exact ("application/pdf") or a prefix ("image/*"); parameters (";charset=…") are ignored. */
  mimeType?: string | null;
  /** Only entries below this folder (its whole subtree). */
  folderId?: string | null;
};

export type SearchRequest = { spaceId: string; query: string; filter: SearchFilter; limit: number; cursor: SearchCursor | null };

/** A hit: its snippet from the text when the text matched, and the name's with the matches marked. */
export type SearchRow = { id: string; rank: string; name: string; text_snippet: string | null; name_snippet: string };

/** Characters of extracted text ts_headline reads for a snippet (it re-parses them per hit). */
export const SNIPPET_SOURCE_CHARS = 65_536;

// Snippet markers: control characters that cannot be in a name and are
// escaped out of the text before marking, turned into <mark> after HTML
// escaping (search.service.ts).
export const MARK_START = "\u0002";
export const MARK_END = "\u0003";
const HEADLINE_OPTIONS = `StartSel=${MARK_START}, StopSel=${MARK_END}, MaxWords=24, MinWords=10, MaxFragments=2, FragmentDelimiter=" … "`;

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/** The SQL condition on `b.content_type` for a MIME filter (exact, or `type/*`). */
function mimeCondition(mimeType: string | null | undefined): Prisma.Sql {
  if (!mimeType) return Prisma.sql`TRUE`;
  const base = Prisma.sql`lower(split_part(b."content_type", ';', 1))`;
  if (mimeType.endsWith("/*")) return Prisma.sql`${base} LIKE ${`${escapeLike(mimeType.slice(0, -1).toLowerCase())}%`}`;
  return Prisma.sql`${base} = ${mimeType.toLowerCase()}`;
}

/** The search statement for one page (`limit` rows: the caller asks one more than it shows). */
export function searchSql(r: SearchRequest): Prisma.Sql {
  const { spaceId, query, filter, limit, cursor } = r;
  const folder = filter.folderId
    ? Prisma.sql`, sub(id) AS (
        SELECT f.id FROM entries f WHERE f.id = ${filter.folderId} AND f.space_id = ${spaceId} AND f.kind = 'FOLDER'
        UNION ALL
        SELECT c.id FROM entries c JOIN sub ON c.parent_id = sub.id WHERE c.kind = 'FOLDER'
      )`
    : Prisma.empty;
  const inFolder = filter.folderId ? Prisma.sql`m.parent_id IN (SELECT id FROM sub)` : Prisma.sql`TRUE`;
  const needsBlob = Boolean(filter.mimeType);
  const after = cursor
    ? Prisma.sql`(h.rank < CAST(${cursor.rank} AS real) OR (h.rank = CAST(${cursor.rank} AS real) AND h.id > ${cursor.id}))`
    : Prisma.sql`TRUE`;
  return Prisma.sql`
    WITH RECURSIVE q AS (SELECT websearch_to_tsquery(cabinet_search_config(), ${query}) AS q)${folder}
    -- Each index's matches, ranked where they are found (the vector is at hand): no second read per hit.
    , matched AS (
      SELECT e.id, e.name, e.blob_id, e.parent_id, 'n' AS src, ts_rank(e.search_tsv, q.q) AS r
        FROM entries e, q WHERE e.space_id = ${spaceId} AND e.search_tsv @@ q.q AND e.parent_id IS NOT NULL
      UNION ALL
      SELECT e.id, e.name, e.blob_id, e.parent_id, 't', ts_rank(t.search_tsv, q.q)
        FROM blob_texts t JOIN entries e ON e.blob_id = t.blob_id, q WHERE t.search_tsv @@ q.q AND e.space_id = ${spaceId}
    )
    -- One row per entry: its name rank plus its best text rank. MATERIALIZED: computed once, not per use below.
    , hits AS MATERIALIZED (
      SELECT m.id, m.name, m.blob_id,
             (coalesce(max(m.r) FILTER (WHERE m.src = 'n'), 0) + coalesce(max(m.r) FILTER (WHERE m.src = 't'), 0))::real AS rank
        FROM matched m ${needsBlob ? Prisma.sql`JOIN blobs b ON b.id = m.blob_id` : Prisma.empty}
       WHERE ${inFolder} AND ${mimeCondition(filter.mimeType)}
       GROUP BY m.id, m.name, m.blob_id
    )
    , page AS (
      SELECT h.* FROM hits h WHERE ${after} ORDER BY h.rank DESC, h.id ASC LIMIT ${limit}
    )
    SELECT p.id, p.rank::text AS rank, p.name,
           (SELECT ts_headline(cabinet_search_config(), translate(left(t.text, ${SNIPPET_SOURCE_CHARS}), ${MARK_START + MARK_END}, '  '), q.q, ${HEADLINE_OPTIONS})
              FROM blob_texts t WHERE t.blob_id = p.blob_id AND t.search_tsv @@ q.q ORDER BY t.source LIMIT 1) AS text_snippet,
           -- The name as it was indexed (separators as spaces); search.service.ts puts them back.
           ts_headline(cabinet_search_config(), translate(p.name, '._-', '   '), q.q, ${HEADLINE_OPTIONS}) AS name_snippet
      FROM page p, q
     ORDER BY p.rank DESC, p.id ASC`;
}

export async function runSearch(prisma: PrismaClient, r: SearchRequest): Promise<SearchRow[]> {
  return prisma.$queryRaw<SearchRow[]>(searchSql(r));
}
