// A folder's children, keyset-paginated: folders first, then files, each
// ordered by name, modification time or size (ties broken by id). A page is two
// index range scans (one per kind) starting right after the cursor, so page
// 1,000 costs what page 1 costs. Backward pages (last/before) are the same
// scans with the comparison and the order reversed, read from the cursor
// towards the start; their rows are turned back into listing order. Pages for
// many folders (nested connections) load in one statement via LATERAL, batched
// per request by a DataLoader.
import DataLoader from "dataloader";
import type { PrismaClient } from "../../db/prisma.ts";
import { Prisma } from "../../generated/prisma/client.ts";
import { errors } from "../../errors.ts";

export type EntryOrderField = "NAME" | "UPDATED_AT" | "SIZE";
export type OrderDirection = "ASC" | "DESC";
export type EntryOrder = { field: EntryOrderField; direction: OrderDirection };
type Kind = "FOLDER" | "FILE";

/** Position of a row in a listing: its kind segment, sort value and id. */
export type ListingCursor = { kind: Kind; value: string; id: string };

export type ListingRow = { id: string; parentId: string; kind: Kind; value: string };

/**
 * Which page: `size` rows after `cursor` (forward, first/after), or the `size`
 * rows before it (backward, last/before). No cursor: from the start, or the end.
 */
export type PageWindow = { size: number; cursor: ListingCursor | null; backward: boolean };

export type ListingRequest = { parentId: string; order: EntryOrder } & PageWindow;

export const MAX_PAGE_SIZE = 500;
export const DEFAULT_PAGE_SIZE = 50;

/**
 * The size of a listing page: `first`, or the default, between 1 and
 * MAX_PAGE_SIZE. One rule for GraphQL, REST and the dashboard.
 */
export function pageSize(first: number | null | undefined, fallback = DEFAULT_PAGE_SIZE): number {
  const size = first ?? fallback;
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) throw errors.badInput(`first must be between 1 and ${MAX_PAGE_SIZE}`);
  return size;
}

const COLUMN: Record<EntryOrderField, { sql: string; cast: string }> = {
  NAME: { sql: `e."name"`, cast: "text" },
  UPDATED_AT: { sql: `e."updated_at"`, cast: "timestamptz" },
  SIZE: { sql: `e."size"`, cast: "bigint" },
};
const KIND_ORDER: Record<Kind, number> = { FOLDER: 0, FILE: 1 };

export function encodeCursor(c: ListingCursor): string {
  return Buffer.from(JSON.stringify([c.kind, c.value, c.id])).toString("base64url");
}

/**
 * The cursor `raw`, for a listing ordered by `field`. Its value is cast to the
 * order column's type in SQL, so it must read as that type (a NAME cursor
 * handed to a SIZE listing is refused here, not by Postgres); anything else
 * is BAD_USER_INPUT "Invalid cursor".
 */
export function decodeCursor(raw: string, field: EntryOrderField): ListingCursor {
  try {
    const [kind, value, id] = JSON.parse(Buffer.from(raw, "base64url").toString("utf8")) as unknown[];
    if ((kind === "FOLDER" || kind === "FILE") && typeof value === "string" && typeof id === "string" && VALID_VALUE[field](value)) {
      return { kind, value, id };
    }
  } catch {
    // fall through
  }
  throw errors.badInput("Invalid cursor");
}

const INT8_MAX = 2n ** 63n - 1n;
// What Postgres prints for a timestamptz (`::text`, ISO DateStyle): date, time, optional fraction, UTC offset.
const TIMESTAMPTZ = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?[+-](\d{2})(:\d{2}){0,2}$/;

/** Whether a cursor value reads as the order column's type (the cast in segment() cannot fail). */
const VALID_VALUE: Record<EntryOrderField, (value: string) => boolean> = {
  NAME: () => true,
  SIZE: (value) => /^\d{1,19}$/.test(value) && BigInt(value) <= INT8_MAX,
  UPDATED_AT: (value) => {
    const m = TIMESTAMPTZ.exec(value);
    if (!m) return false;
    const [year, month, day, hour, minute, second, offsetHours] = [m[1], m[2], m[3], m[4], m[5], m[6], m[8]].map(Number) as number[];
    // Date.UTC rolls an impossible day (Feb 30) over into the next month: compare to catch it.
    const date = new Date(Date.UTC(2000, month! - 1, day!));
    date.setUTCFullYear(year!);
    return year! >= 1 && date.getUTCMonth() === month! - 1 && date.getUTCDate() === day! && hour! < 24 && minute! < 60 && second! < 60 && offsetHours! <= 15;
  },
};

/** The direction rows are read in: the listing's own, or its reverse for a backward page. */
const scanDirection = (order: EntryOrder, backward: boolean): OrderDirection => (backward === (order.direction === "ASC") ? "DESC" : "ASC");

/**
 * One kind segment of one folder's page, read in scan order from the cursor
 * when it lies in this segment. A segment wholly behind the cursor (in scan
 * order) is skipped; one wholly ahead of it is read from its start.
 */
function segment(kind: Kind, order: EntryOrder, limit: number, window: PageWindow): Prisma.Sql {
  const column = COLUMN[order.field];
  const col = Prisma.raw(column.sql);
  const direction = scanDirection(order, window.backward);
  const dir = Prisma.raw(direction);
  const { cursor } = window;
  let condition = Prisma.sql`TRUE`;
  if (cursor && cursor.kind === kind) {
    const cmp = Prisma.raw(direction === "ASC" ? ">" : "<");
    const value = Prisma.sql`CAST(${cursor.value} AS ${Prisma.raw(column.cast)})`;
    condition = Prisma.sql`(${col}, e."id") ${cmp} (${value}, ${cursor.id})`;
  } else if (cursor && (window.backward ? KIND_ORDER[cursor.kind] < KIND_ORDER[kind] : KIND_ORDER[cursor.kind] > KIND_ORDER[kind])) {
    condition = Prisma.sql`FALSE`; // the cursor is already past this segment
  }
  return Prisma.sql`(
    SELECT e."id", e."parent_id", e."kind"::text AS kind, ${col}::text AS value, ${KIND_ORDER[kind]} AS seg
      FROM entries e
     WHERE e."parent_id" = p.id AND e."kind" = ${kind}::"EntryKind" AND ${condition}
     ORDER BY ${col} ${dir}, e."id" ${dir}
     LIMIT ${limit})`;
}

/**
 * Up to `size + 1` children per parent in listing order. The extra row tells
 * whether there is another page in the paging direction: for a forward page it
 * is the last row, for a backward page the first one.
 */
export async function listChildren(
  prisma: PrismaClient,
  parentIds: readonly string[],
  order: EntryOrder,
  window: PageWindow,
): Promise<Map<string, ListingRow[]>> {
  const limit = window.size + 1;
  const dir = Prisma.raw(scanDirection(order, window.backward));
  const seg = Prisma.raw(window.backward ? "DESC" : "ASC");
  const rows = await prisma.$queryRaw<{ id: string; parent_id: string; kind: Kind; value: string }[]>`
    SELECT c.id, c.parent_id, c.kind, c.value
      FROM unnest(${parentIds as string[]}::text[]) AS p(id)
      CROSS JOIN LATERAL (${segment("FOLDER", order, limit, window)} UNION ALL ${segment("FILE", order, limit, window)}) c
     ORDER BY c.parent_id, c.seg ${seg}, CAST(c.value AS ${Prisma.raw(COLUMN[order.field].cast)}) ${dir}, c.id ${dir}`;
  const byParent = new Map<string, ListingRow[]>(parentIds.map((id) => [id, []]));
  for (const r of rows) {
    const list = byParent.get(r.parent_id)!;
    if (list.length < limit) list.push({ id: r.id, parentId: r.parent_id, kind: r.kind, value: r.value });
  }
  // A backward page was read from the cursor towards the start.
  if (window.backward) for (const list of byParent.values()) list.reverse();
  return byParent;
}

/** Batches every folder's page request of one GraphQL request by identical arguments. */
export function createListingLoader(prisma: PrismaClient): DataLoader<ListingRequest, ListingRow[], string> {
  const argsKey = (r: ListingRequest) => JSON.stringify([r.order.field, r.order.direction, r.size, r.cursor, r.backward]);
  return new DataLoader(
    async (requests) => {
      const groups = new Map<string, ListingRequest[]>();
      for (const r of requests) {
        const key = argsKey(r);
        const group = groups.get(key);
        if (group) group.push(r);
        else groups.set(key, [r]);
      }
      const results = new Map<string, ListingRow[]>();
      await Promise.all(
        [...groups.values()].map(async (group) => {
          const { order, size, cursor, backward } = group[0]!;
          const pages = await listChildren(prisma, [...new Set(group.map((r) => r.parentId))], order, { size, cursor, backward });
          for (const r of group) results.set(`${r.parentId}|${argsKey(r)}`, pages.get(r.parentId) ?? []);
        }),
      );
      return requests.map((r) => results.get(`${r.parentId}|${argsKey(r)}`)!);
    },
    { cacheKeyFn: (r) => `${r.parentId}|${argsKey(r)}` },
  );
}
