// The event log's SQL: recording events inside the change's transaction,
// reading them back in order, cursors, and retention.
//
// Commit order. A bigserial is assigned when the row is inserted, not when it
// commits: without care a reader could see id 11, then id 10 commit, and a
// cursor at 11 would skip 10. Writers therefore take one transaction-level
// advisory lock right before inserting and keep it until they commit. Ids are
// then handed out in commit order, and a reader that saw N will never see a
// smaller id appear. To keep that lock short, events are buffered while the
// transaction runs and written by its last statement: lock + insert +
// pg_notify in one round trip (flush below). NOTIFY inside a transaction is
// delivered on commit and dropped on rollback, so the notification never
// runs ahead of the rows, and a failed transaction leaves no trace.
import type { PrismaClient, Tx } from "../db/prisma.ts";
import { AppError, errors } from "../errors.ts";
import type { EventInput, StoredEvent } from "./event-types.ts";

/** The NOTIFY channel. It carries no data: it only says "new events exist". */
export const EVENTS_CHANNEL = "cabinet_events";

const pendingByTx = new WeakMap<Tx, EventInput[]>();

/**
 * Runs `fn` in a transaction whose recorded events (recordEvent) are written,
 * in the order recorded, as its last statement. Use it for every transaction
 * that records events.
 */
export function transactionWithEvents<T>(prisma: PrismaClient, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return prisma.$transaction(async (tx) => {
    const pending: EventInput[] = [];
    pendingByTx.set(tx, pending);
    const result = await fn(tx);
    if (pending.length) await flush(tx, pending);
    return result;
  });
}

/** Records `event` in the open transaction `tx`: it commits (or rolls back) with the change. */
export function recordEvent(tx: Tx, event: EventInput): void {
  const pending = pendingByTx.get(tx);
  // A programming error, not a client's: events must not be written outside transactionWithEvents.
  if (!pending) throw new Error(`recordEvent(${event.type}) outside transactionWithEvents()`);
  pending.push(event);
}

async function flush(tx: Tx, events: readonly EventInput[]): Promise<void> {
  const rows = JSON.stringify(events.map((e) => ({ spaceId: e.spaceId, type: e.type, subjectId: e.subjectId, payload: e.payload })));
  // The lock is taken before any id is drawn: the insert reads from `serialized`.
  // created_at is the write time under the lock, so it grows with the id (retention relies on that).
  await tx.$executeRaw`
    WITH serialized AS (SELECT pg_advisory_xact_lock(hashtextextended('cabinet:event-log', 0))),
    inserted AS (
      INSERT INTO events (space_id, type, subject_id, payload, created_at)
      SELECT e.doc->>'spaceId', e.doc->>'type', e.doc->>'subjectId', e.doc->'payload', clock_timestamp()
        FROM serialized, jsonb_array_elements(${rows}::jsonb) WITH ORDINALITY AS e(doc, ord)
       ORDER BY e.ord
      RETURNING id
    )
    SELECT pg_notify(${EVENTS_CHANNEL}, '') FROM (SELECT count(*) FROM inserted) AS flushed`;
}

type EventRow = { id: bigint; space_id: string | null; type: string; subject_id: string; payload: unknown; created_at: Date };

const toStored = (r: EventRow): StoredEvent =>
  ({ id: r.id, spaceId: r.space_id, type: r.type, subjectId: r.subject_id, payload: r.payload, createdAt: r.created_at }) as StoredEvent;

/** The tail's reads go over its own LISTEN connection (node-postgres), not the request pool. */
type PgQueryable = { query<R extends object>(text: string, values?: unknown[]): Promise<{ rows: R[] }> };

/** Every event after `afterId`, in id (= commit) order, at most `limit`. */
export async function readEventsAfter(db: PgQueryable, afterId: bigint, limit: number): Promise<StoredEvent[]> {
  const { rows } = await db.query<Omit<EventRow, "id"> & { id: string }>(
    "SELECT id::text AS id, space_id, type, subject_id, payload, created_at FROM events WHERE id > $1 ORDER BY id LIMIT $2",
    [afterId.toString(), limit],
  );
  return rows.map((r) => toStored({ ...r, id: BigInt(r.id) }));
}

/** The id of the newest committed event (0 when the log is empty). */
export async function lastEventId(db: PgQueryable): Promise<bigint> {
  const { rows } = await db.query<{ id: string }>("SELECT coalesce(max(id), 0)::text AS id FROM events");
  return BigInt(rows[0]!.id);
}

// ---------------------------------------------------------------------------
// Cursors: the id of the last event a subscriber received, as a decimal string.

export const encodeCursor = (id: bigint): string => id.toString();

const MAX_ID = 2n ** 63n - 1n;

/** BAD_USER_INPUT for anything that is not a cursor this service hands out. */
export function parseCursor(cursor: string): bigint {
  if (!/^[0-9]{1,19}$/.test(cursor) || BigInt(cursor) > MAX_ID) throw errors.badInput("Not an event cursor", { after: cursor.slice(0, 64) });
  return BigInt(cursor);
}

export const cursorExpired = () =>
  new AppError("CURSOR_EXPIRED", "The cursor is older than the retained event log; subscribe again without `after` and reload the state");

/**
 * Checks that replaying after `after` misses nothing: CURSOR_EXPIRED when
 * retention pruned events after it, BAD_USER_INPUT when no event with that id
 * was ever committed (a made-up cursor would silently skip what follows).
 */
export async function checkCursor(db: PrismaClient, after: bigint): Promise<void> {
  const [row] = await db.$queryRaw<{ pruned_through: bigint; last: bigint }[]>`
    SELECT pruned_through, (SELECT coalesce(max(id), 0)::bigint FROM events) AS last FROM event_log_horizon`;
  const { pruned_through: horizon, last } = row!;
  if (after < horizon) throw cursorExpired();
  // biome-ignore lint/complexity/useMathMinMax: bigints, which Math.max cannot compare
  const newest = last > horizon ? last : horizon;
  if (after > newest) throw errors.badInput("Unknown event cursor", { after: encodeCursor(after) });
}

/**
 * One page of a space's events with afterId < id <= upTo, read in the same
 * snapshot as the retention horizon, so a prune racing the replay is noticed
 * (CURSOR_EXPIRED) instead of leaving a gap.
 */
export async function readSpacePage(db: PrismaClient, spaceId: string, afterId: bigint, upTo: bigint, limit: number): Promise<StoredEvent[]> {
  const rows = await db.$queryRaw<(Omit<EventRow, "id"> & { id: bigint | null; pruned_through: bigint })[]>`
    SELECT h.pruned_through, e.id, e.space_id, e.type, e.subject_id, e.payload, e.created_at
      FROM event_log_horizon h
      LEFT JOIN LATERAL (
        SELECT * FROM events WHERE space_id = ${spaceId} AND id > ${afterId} AND id <= ${upTo} ORDER BY id LIMIT ${limit}
      ) e ON true
     ORDER BY e.id`;
  if (rows.length && afterId < rows[0]!.pruned_through) throw cursorExpired();
  return rows.filter((r): r is typeof r & { id: bigint } => r.id !== null).map(toStored);
}

// ---------------------------------------------------------------------------
// Retention

/**
 * Deletes the events written before `before` and moves the horizon past them,
 * in one transaction (readers see both or neither).
 */
export async function pruneEvents(prisma: PrismaClient, before: Date): Promise<{ deleted: number; prunedThrough: bigint | null }> {
  return prisma.$transaction(async (tx) => {
    const [row] = await tx.$queryRaw<{ through: bigint | null }[]>`SELECT max(id) AS through FROM events WHERE created_at < ${before}`;
    const through = row?.through ?? null;
    if (through === null) return { deleted: 0, prunedThrough: null };
    await tx.$executeRaw`UPDATE event_log_horizon SET pruned_through = greatest(pruned_through, ${through})`;
    const deleted = await tx.$executeRaw`DELETE FROM events WHERE id <= ${through}`;
    return { deleted, prunedThrough: through };
  });
}
