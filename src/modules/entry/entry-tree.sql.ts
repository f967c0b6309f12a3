// The SQL that walks the entry tree. Paths are never stored: they are derived
// here, so rename and move stay one-row updates whatever the subtree size.
import DataLoader from "dataloader";
import type { PrismaClient, Tx } from "../../db/prisma.ts";
import type { DeletedBlob } from "../blob/blob.service.ts";

export type ChainLink = { id: string; kind: "FOLDER" | "FILE"; depth: number };

/**
 * Walks `segments` from the space root in one statement and returns the
 * existing prefix of the path: link 0 is the root, link i is segments[i-1].
 * The path exists when the result has segments.length + 1 links.
 */
export async function resolveChain(db: PrismaClient | Tx, spaceId: string, segments: readonly string[]): Promise<ChainLink[]> {
  return db.$queryRaw<ChainLink[]>`
    WITH RECURSIVE walk(id, kind, depth) AS (
      SELECT e.id, e.kind, 0 FROM entries e WHERE e.space_id = ${spaceId} AND e.parent_id IS NULL
      UNION ALL
      SELECT c.id, c.kind, w.depth + 1
        FROM walk w
        JOIN entries c ON c.parent_id = w.id AND c.name = (${segments}::text[])[w.depth + 1]
       WHERE w.depth < cardinality(${segments}::text[])
    )
    SELECT id, kind::text AS kind, depth FROM walk ORDER BY depth`;
}

/** Batches path lookups for many entries into one recursive query (used by GraphQL `path`). */
export function createPathLoader(prisma: PrismaClient): DataLoader<string, string | null> {
  return new DataLoader(async (ids) => {
    const rows = await prisma.$queryRaw<{ start_id: string; path: string }[]>`
      WITH RECURSIVE up(start_id, id, parent_id, name, depth) AS (
        SELECT e.id, e.id, e.parent_id, e.name, 0 FROM entries e WHERE e.id = ANY(${ids as string[]}::text[])
        UNION ALL
        SELECT up.start_id, p.id, p.parent_id, p.name, up.depth + 1
          FROM up JOIN entries p ON p.id = up.parent_id
      )
      SELECT start_id, coalesce(string_agg(name, '/' ORDER BY depth DESC) FILTER (WHERE parent_id IS NOT NULL), '') AS path
        FROM up GROUP BY start_id`;
    const byId = new Map(rows.map((r) => [r.start_id, r.path]));
    return ids.map((id) => byId.get(id) ?? null);
  });
}

/**
 * Serialises changes to a space's tree structure. Inserts (uploads, new folders)
 * take it shared, so they run side by side; moves and subtree deletes take it
 * exclusive, so a move cannot race another move into a cycle and a delete
 * cannot miss a child created under a folder it is removing.
 */
export async function lockSpaceTree(tx: Tx, spaceId: string, mode: "shared" | "exclusive"): Promise<void> {
  if (mode === "shared") await tx.$executeRaw`SELECT pg_advisory_xact_lock_shared(hashtextextended(${spaceId}, 0))`;
  else await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${spaceId}, 0))`;
}

/** True when `candidateId` is `entryId` or lies below it (walks up from the candidate: O(depth)). */
export async function isSelfOrDescendant(tx: Tx, entryId: string, candidateId: string): Promise<boolean> {
  const rows = await tx.$queryRaw<{ found: boolean }[]>`
    WITH RECURSIVE up(id, parent_id) AS (
      SELECT id, parent_id FROM entries WHERE id = ${candidateId}
      UNION ALL
      SELECT e.id, e.parent_id FROM entries e JOIN up ON e.id = up.parent_id
    )
    SELECT EXISTS (SELECT 1 FROM up WHERE id = ${entryId}) AS found`;
  return rows[0]?.found ?? false;
}

/**
 * Deletes an entry and its whole subtree; returns the blobs that went with it
 * (the files' bytes and the uploads in flight into any of them) and how many
 * entries were removed, the entry itself included.
 */
export async function deleteSubtree(tx: Tx, entryId: string): Promise<{ blobs: DeletedBlob[]; entries: number }> {
  const blobs = await tx.$queryRaw<DeletedBlob[]>`
    WITH RECURSIVE sub(id, blob_id) AS (
      SELECT id, blob_id FROM entries WHERE id = ${entryId}
      UNION ALL
      SELECT e.id, e.blob_id FROM entries e JOIN sub ON e.parent_id = sub.id
    )
    , owned AS (
      SELECT b.id, b.key, b.size, b.status::text AS status, b.owner_kind::text AS "ownerKind" FROM blobs b
       WHERE b.id IN (SELECT blob_id FROM sub) OR b.upload_entry_id IN (SELECT id FROM sub)
    )
    -- Their derived blobs (thumbnails) go with them: listed here so their objects are purged.
    SELECT * FROM owned
    UNION ALL
    SELECT d.id, d.key, d.size, d.status::text, d.owner_kind::text FROM blobs d WHERE d.source_blob_id IN (SELECT id FROM owned)`;
  // Every row of the subtree by id, so the count includes the descendants
  // (ON DELETE CASCADE would remove them too, uncounted). The blob rows are no longer referenced afterwards.
  const entries = await tx.$executeRaw`
    WITH RECURSIVE sub(id) AS (
      SELECT id FROM entries WHERE id = ${entryId}
      UNION ALL
      SELECT e.id FROM entries e JOIN sub ON e.parent_id = sub.id
    )
    DELETE FROM entries WHERE id IN (SELECT id FROM sub)`;
  if (blobs.length) await tx.$executeRaw`DELETE FROM blobs WHERE id = ANY(${blobs.map((b) => b.id)}::text[])`;
  return { blobs, entries };
}

/** The path of one entry (relative to the space root, "" for the root), read inside `tx`. */
export async function entryPath(tx: Tx, entryId: string): Promise<string> {
  const [row] = await tx.$queryRaw<{ path: string }[]>`
    WITH RECURSIVE up(id, parent_id, name, depth) AS (
      SELECT e.id, e.parent_id, e.name, 0 FROM entries e WHERE e.id = ${entryId}
      UNION ALL
      SELECT p.id, p.parent_id, p.name, up.depth + 1 FROM up JOIN entries p ON p.id = up.parent_id
    )
    SELECT coalesce(string_agg(name, '/' ORDER BY depth DESC) FILTER (WHERE parent_id IS NOT NULL), '') AS path FROM up`;
  return row?.path ?? "";
}

/**
 * Deletes every entry of a space and every blob billed to it (files' bytes,
 * uploads in flight); returns those blobs for the lifecycle to give back and
 * purge. The caller holds the space's tree lock (exclusive) and then deletes
 * the space row itself.
 */
export async function deleteSpaceContents(tx: Tx, spaceId: string): Promise<DeletedBlob[]> {
  const blobs = await tx.$queryRaw<DeletedBlob[]>`
    SELECT id, key, size, status::text AS status, owner_kind::text AS "ownerKind" FROM blobs WHERE space_id = ${spaceId}`;
  // Entries first: they point at blobs with ON DELETE RESTRICT.
  await tx.$executeRaw`DELETE FROM entries WHERE space_id = ${spaceId}`;
  await tx.$executeRaw`DELETE FROM blobs WHERE space_id = ${spaceId}`;
  return blobs;
}
