// The folder tree: every write to entries goes through here (or through
// asset.service.ts, which uses the helpers below for the file's parents).
import type { PrismaClient, Tx } from "../../db/prisma.ts";
import { assertMayReplaceFile, requireEntry } from "../../access/entry-access.ts";
import { requireSpacePermission } from "../../access/space-access.ts";
import type { Permission } from "../../access/permissions.ts";
import type { Viewer } from "../../access/viewer.ts";
import { errors, fromPrismaError } from "../../errors.ts";
import { newId } from "../../ids.ts";
import { transactionWithEvents } from "../../events/event-log.ts";
import type { BlobService } from "../blob/blob.service.ts";
import { recordEntryCreated, recordEntryDeleted, recordEntryMoved, recordEntryUpdated } from "./entry.events.ts";
import { decodeCursor, encodeCursor, listChildren, pageSize, type EntryOrder } from "./entry-listing.ts";
import { joinPath, normalizeName, normalizePath } from "./entry-path.ts";
import { deleteSubtree, entryPath, isSelfOrDescendant, lockSpaceTree, resolveChain } from "./entry-tree.sql.ts";

export type EntryService = ReturnType<typeof createEntryService>;

export type CreatedFolder = { id: string; parentId: string; name: string };

/**
 * Makes sure the folders `segments` exist under the space root and returns the
 * id of the deepest one. Missing folders are created only when `createMissing`;
 * otherwise NOT_FOUND. A file anywhere along the way is PATH_IS_FILE.
 * Concurrent creators of the same folder converge on one row (ON CONFLICT).
 */
export async function ensureFolderPath(
  tx: Tx,
  spaceId: string,
  segments: readonly string[],
  options: { createMissing: boolean; createdById: string | null; created?: CreatedFolder[] },
): Promise<string> {
  const chain = await resolveChain(tx, spaceId, segments);
  const root = chain[0];
  if (!root) throw errors.notFound("Space");
  for (const link of chain) {
    if (link.kind === "FILE") throw errors.pathIsFile(joinPath(segments.slice(0, link.depth)));
  }
  let parentId = chain[chain.length - 1]!.id;
  for (let depth = chain.length - 1; depth < segments.length; depth++) {
    const name = segments[depth]!;
    if (!options.createMissing) throw errors.notFound(`Folder "${joinPath(segments.slice(0, depth + 1))}"`);
    const id = newId("Entry");
    const inserted = await tx.$queryRaw<{ id: string }[]>`
      INSERT INTO entries (id, space_id, parent_id, kind, name, created_by_id)
      VALUES (${id}, ${spaceId}, ${parentId}, 'FOLDER', ${name}, ${options.createdById})
      ON CONFLICT (parent_id, name) DO NOTHING RETURNING id`;
    if (inserted.length > 0) {
      options.created?.push({ id, parentId, name });
      parentId = id;
      continue;
    }
    const raced = await tx.entry.findUniqueOrThrow({ where: { parentId_name: { parentId, name } }, select: { id: true, kind: true } });
    if (raced.kind === "FILE") throw errors.pathIsFile(joinPath(segments.slice(0, depth + 1)));
    parentId = raced.id;
  }
  return parentId;
}

export type ExistingFile = { id: string; kind: "FOLDER" | "FILE"; blob_id: string | null };

/**
 * Claims `segments` as a file's path inside an upload's transaction: takes the
 * space's tree lock (shared), makes sure the parent folders exist (creating
 * them when asked), and locks what is already at the path. A folder there is
 * PATH_IS_DIRECTORY; replacing a file needs assets:update.
 */
export async function claimFilePath(
  tx: Tx,
  viewer: Viewer,
  space: { id: string; organizationId: string },
  segments: readonly string[],
  options: { createParents: boolean; created: CreatedFolder[] },
): Promise<{ parentId: string; name: string; existing: ExistingFile | undefined }> {
  await lockSpaceTree(tx, space.id, "shared");
  const parentId = await ensureFolderPath(tx, space.id, segments.slice(0, -1), {
    createMissing: options.createParents,
    createdById: viewer.accountId,
    created: options.created,
  });
  const name = segments[segments.length - 1]!;
  const [existing] = await tx.$queryRaw<ExistingFile[]>`
    SELECT id, kind::text AS kind, blob_id FROM entries WHERE parent_id = ${parentId} AND name = ${name} FOR UPDATE`;
  if (existing?.kind === "FOLDER") throw errors.pathIsDirectory(joinPath(segments));
  if (existing) assertMayReplaceFile(viewer, space);
  return { parentId, name, existing };
}

/** CREATED events for folders ensureFolderPath made, parents first (the order they were made in). */
export function recordFoldersCreated(tx: Tx, spaceId: string, created: readonly CreatedFolder[]): void {
  for (const f of created) recordEntryCreated(tx, { ...f, spaceId, kind: "FOLDER" });
}

export function createEntryService(deps: { prisma: PrismaClient; blobs: BlobService }) {
  const { prisma, blobs } = deps;

  /** Loads a non-root entry and checks `permission` on its space (NOT_FOUND when invisible). */
  async function editableEntry(db: PrismaClient | Tx, viewer: Viewer, id: string, permission: Permission) {
    const entry = await requireEntry(db, viewer, id, permission);
    if (!entry.parentId) throw errors.badInput("The root folder cannot be renamed, moved or deleted");
    return entry;
  }

  /**
   * Creates a folder either as `name` under `parentId`, or at `path` (its
   * missing parents created when `createParents`).
   */
  async function createFolder(
    viewer: Viewer,
    input: { spaceId: string; parentId?: string | null; name?: string | null; path?: string | null; createParents?: boolean | null },
  ) {
    await requireSpacePermission(prisma, viewer, input.spaceId, "assets:create");
    const byPath = input.path != null;
    if (byPath === (input.parentId != null || input.name != null)) {
      throw errors.badInput("Give either `path`, or `parentId` and `name`");
    }
    const created: CreatedFolder[] = [];
    return transactionWithEvents(prisma, async (tx) => {
      await lockSpaceTree(tx, input.spaceId, "shared");
      let parentId: string;
      let name: string;
      if (byPath) {
        const segments = normalizePath(input.path!);
        if (segments.length === 0) throw errors.alreadyExists("/");
        name = segments[segments.length - 1]!;
        parentId = await ensureFolderPath(tx, input.spaceId, segments.slice(0, -1), {
          createMissing: input.createParents ?? false,
          createdById: viewer.accountId,
          created,
        });
      } else {
        if (!input.parentId || input.name == null) throw errors.badInput("`parentId` and `name` go together");
        name = normalizeName(input.name);
        const parent = await tx.entry.findFirst({ where: { id: input.parentId, spaceId: input.spaceId }, select: { id: true, kind: true } });
        if (!parent) throw errors.notFound("Folder");
        if (parent.kind !== "FOLDER") throw errors.pathIsFile(parent.id);
        parentId = parent.id;
      }
      const clash = await tx.entry.findUnique({ where: { parentId_name: { parentId, name } }, select: { kind: true } });
      if (clash) throw clash.kind === "FILE" ? errors.pathIsFile(name) : errors.alreadyExists(name);
      let folder: Awaited<ReturnType<typeof tx.entry.create>>;
      try {
        folder = await tx.entry.create({
          data: { id: newId("Entry"), spaceId: input.spaceId, parentId, kind: "FOLDER", name, createdById: viewer.accountId },
        });
      } catch (e) {
        // A concurrent creator won the (parent, name) race.
        throw fromPrismaError(e, () => errors.alreadyExists(name));
      }
      // Parents first: subscribers see deep, deep/l2, … in that order.
      recordFoldersCreated(tx, input.spaceId, created);
      recordEntryCreated(tx, folder);
      return folder;
    });
  }

  /** Renames in place: one row, whatever the subtree holds. */
  async function renameEntry(viewer: Viewer, input: { id: string; name: string }) {
    const entry = await editableEntry(prisma, viewer, input.id, "assets:update");
    const name = normalizeName(input.name);
    if (name === entry.name) return entry;
    return transactionWithEvents(prisma, async (tx) => {
      const renamed = await tx.entry.update({ where: { id: entry.id }, data: { name, updatedAt: new Date() } }).catch((e) => {
        throw fromPrismaError(
          e,
          () => errors.alreadyExists(name),
          () => errors.notFound("Entry"),
        );
      });
      recordEntryUpdated(tx, renamed, "RENAMED", entry.name);
      return renamed;
    });
  }

  /**
   * Moves an entry under another folder of the same space (optionally renaming
   * it): one row update. Moving a folder into itself or its own subtree is refused.
   */
  async function moveEntry(viewer: Viewer, input: { id: string; parentId: string; name?: string | null }) {
    return transactionWithEvents(prisma, async (tx) => {
      const entry = await editableEntry(tx, viewer, input.id, "assets:update");
      await lockSpaceTree(tx, entry.spaceId, "exclusive");
      const target = await tx.entry.findFirst({ where: { id: input.parentId, spaceId: entry.spaceId }, select: { id: true, kind: true } });
      if (!target) throw errors.notFound("Folder");
      if (target.kind !== "FOLDER") throw errors.pathIsFile(target.id);
      if (entry.kind === "FOLDER" && (await isSelfOrDescendant(tx, entry.id, target.id))) {
        throw errors.badInput("A folder cannot be moved into itself or one of its subfolders");
      }
      const name = input.name == null ? entry.name : normalizeName(input.name);
      if (target.id === entry.parentId && name === entry.name) return entry;
      const clash = await tx.entry.findUnique({ where: { parentId_name: { parentId: target.id, name } }, select: { id: true } });
      if (clash) throw errors.alreadyExists(name);
      const moved = await tx.entry.update({ where: { id: entry.id }, data: { parentId: target.id, name, updatedAt: new Date() } }).catch((e) => {
        throw fromPrismaError(
          e,
          () => errors.alreadyExists(name),
          () => errors.notFound("Entry"),
        );
      });
      recordEntryMoved(tx, moved, entry, await entryPath(tx, moved.id));
      return moved;
    });
  }

  /**
   * Deletes an entry and everything below it at once. The freed bytes leave the
   * quota in the same transaction; the objects are purged after commit, by this
   * request (up to blob.purge.ts WAKE_PURGE_LIMIT of them) and by jobs.
   */
  async function deleteEntry(viewer: Viewer, input: { id: string }) {
    const { entry, files } = await blobs.transaction(async (tx) => {
      const entry = await editableEntry(tx, viewer, input.id, "assets:delete");
      await lockSpaceTree(tx, entry.spaceId, "exclusive");
      const deleted = await deleteSubtree(tx, entry.id);
      await blobs.purgeDeleted(tx, { organizationId: entry.space.organizationId, spaceId: entry.spaceId }, deleted.blobs);
      recordEntryDeleted(tx, entry, deleted.entries);
      return { entry, files: deleted.blobs.filter((b) => b.status === "READY").length };
    });
    return { entry, deletedFiles: files };
  }

  /**
   * The id of the entry at `path` in a space (one SQL round trip to resolve),
   * or null when nothing is there, after checking `permission` on the space.
   * The one path lookup GraphQL and REST share.
   */
  async function findAt(viewer: Viewer, spaceId: string, path: string, permission: Permission): Promise<string | null> {
    await requireSpacePermission(prisma, viewer, spaceId, permission);
    const segments = normalizePath(path);
    const chain = await resolveChain(prisma, spaceId, segments);
    return chain.length === segments.length + 1 ? chain[chain.length - 1]!.id : null;
  }

  /** The entry at `path`, with its blob and creator; NOT_FOUND when nothing is there. */
  async function entryAt(viewer: Viewer, spaceId: string, path: string, permission: Permission) {
    const id = await findAt(viewer, spaceId, path, permission);
    if (!id) throw errors.notFound(`"${joinPath(normalizePath(path))}"`);
    return prisma.entry.findUniqueOrThrow({ where: { id }, include: { blob: true, createdBy: true } });
  }

  /** One page of a folder's children (the same keyset listing as GraphQL's Folder.children). */
  async function listFolder(viewer: Viewer, input: { spaceId: string; path: string; first?: number | null; after: string | null; order: EntryOrder }) {
    const folder = await entryAt(viewer, input.spaceId, input.path, "assets:read");
    if (folder.kind !== "FOLDER") throw errors.pathIsFile(input.path);
    const first = pageSize(input.first);
    const after = input.after ? decodeCursor(input.after, input.order.field) : null;
    const rows = (await listChildren(prisma, [folder.id], input.order, { size: first, cursor: after, backward: false })).get(folder.id) ?? [];
    const page = rows.slice(0, first);
    const entries = await prisma.entry.findMany({ where: { id: { in: page.map((r) => r.id) } }, include: { blob: true } });
    const byId = new Map(entries.map((e) => [e.id, e]));
    return {
      folder,
      path: joinPath(normalizePath(input.path)),
      items: page.flatMap((r) => byId.get(r.id) ?? []),
      nextCursor: rows.length > first ? encodeCursor(page[page.length - 1]!) : null,
    };
  }

  return { createFolder, renameEntry, moveEntry, deleteEntry, findAt, entryAt, listFolder };
}
