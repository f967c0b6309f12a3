// Files (FILE entries) and their bytes. An upload checks the path, streams
// the bytes into the blob store through the blob lifecycle (counted, hashed,
// content type sniffed: blob.service.ts store()), then one transaction claims
// the path and commits the blob to the entry (billing, swapping, purging the
// replaced bytes). If anything fails after the bytes landed, they are discarded.
import type { Readable } from "node:stream";
import type { PrismaClient, Tx } from "../../db/prisma.ts";
import { assertMayReplaceFile, requireEntry } from "../../access/entry-access.ts";
import { requireSpacePermission } from "../../access/space-access.ts";
import type { Viewer } from "../../access/viewer.ts";
import { errors } from "../../errors.ts";
import { newId } from "../../ids.ts";
import { downloadDisposition } from "../../ingest/content-type.ts";
import { openImportUrl, type ImportOptions } from "../../ingest/url-import.ts";
import { transactionWithEvents } from "../../events/event-log.ts";
import { presignLifetime, type BlobStore, type PresignLimits } from "../../storage/blob-store.ts";
import type { BlobService, StoredObject } from "../blob/blob.service.ts";
import { recordEntryCreated, recordEntryUpdated } from "../entry/entry.events.ts";
import { claimFilePath, recordFoldersCreated, type CreatedFolder } from "../entry/entry.service.ts";
import { joinPath, normalizePath } from "../entry/entry-path.ts";
import { resolveChain } from "../entry/entry-tree.sql.ts";
import { validateMeta } from "./asset-meta.ts";

export type AssetService = ReturnType<typeof createAssetService>;

export type UploadInput = {
  spaceId: string;
  path: string;
  body: Readable;
  /** Content type the client declared; checked against the bytes (ingest/content-type.ts). */
  declaredType?: string | null;
  createParents?: boolean | null;
};

export function createAssetService(deps: {
  prisma: PrismaClient;
  blobStore: BlobStore;
  blobs: BlobService;
  presign: PresignLimits;
  /** Allow-list, redirect limit and timeouts for URL imports (everything but the size cap). */
  importOptions: Omit<ImportOptions, "maxBytes">;
}) {
  const { prisma, blobStore, blobs } = deps;

  async function uploadAsset(viewer: Viewer, input: UploadInput) {
    const space = await requireSpacePermission(prisma, viewer, input.spaceId, "assets:create");
    const segments = normalizePath(input.path);
    if (segments.length === 0) throw errors.pathIsDirectory("/");

    // Cheap pre-checks so obvious mistakes fail before any byte is stored.
    // The transaction below re-checks everything under a row lock.
    const chain = await resolveChain(prisma, space.id, segments);
    for (const link of chain.slice(0, -1)) {
      if (link.kind === "FILE") throw errors.pathIsFile(joinPath(segments.slice(0, link.depth)));
    }
    const target = chain.length === segments.length + 1 ? chain[chain.length - 1]! : undefined;
    if (target?.kind === "FOLDER") throw errors.pathIsDirectory(joinPath(segments));
    if (target) assertMayReplaceFile(viewer, space);
    if (!target && chain.length < segments.length && !input.createParents) {
      throw errors.notFound(`Folder "${joinPath(segments.slice(0, -1))}"`);
    }

    // An overwrite frees the bytes it replaces, so they count as available.
    const replacedSize = target ? (await prisma.entry.findUniqueOrThrow({ where: { id: target.id }, select: { size: true } })).size : 0n;
    const object = await blobs.store(space.organizationId, input.body, { declaredType: input.declaredType, replacedSize });

    try {
      const result = await blobs.transaction((tx) => commitUpload(tx, viewer, { space, segments, object, createParents: !!input.createParents }));
      return result.entry;
    } catch (e) {
      await blobs.discard(object);
      throw e;
    }
  }

  /** Claims the path and commits the stored bytes as the file's content. */
  async function commitUpload(
    tx: Tx,
    viewer: Viewer,
    u: { space: { id: string; organizationId: string }; segments: string[]; object: StoredObject; createParents: boolean },
  ) {
    const createdFolders: CreatedFolder[] = [];
    const { parentId, name, existing } = await claimFilePath(tx, viewer, u.space, u.segments, { createParents: u.createParents, created: createdFolders });
    let entryId = existing?.id;
    await blobs.commitStored(tx, { organizationId: u.space.organizationId, spaceId: u.space.id, ownerKind: "ENTRY" }, u.object, async (blobId) => {
      const now = new Date();
      if (existing) {
        const old = existing.blob_id ? await tx.blob.findUnique({ where: { id: existing.blob_id }, select: { id: true, key: true, size: true } }) : null;
        await tx.entry.update({ where: { id: existing.id }, data: { blobId, size: u.object.size, updatedAt: now } });
        return old;
      }
      entryId = newId("Entry");
      await tx.entry.create({
        data: {
          id: entryId,
          spaceId: u.space.id,
          parentId,
          kind: "FILE",
          name,
          blobId,
          size: u.object.size,
          createdById: viewer.accountId,
          createdAt: now,
          updatedAt: now,
        },
      });
      return null;
    });
    const entry = await tx.entry.findUniqueOrThrow({ where: { id: entryId! } });
    recordFoldersCreated(tx, u.space.id, createdFolders);
    if (existing) recordEntryUpdated(tx, entry, "CONTENT");
    else recordEntryCreated(tx, entry);
    return { entry, replaced: !!existing, createdFolders };
  }

  /**
   * Time-limited download URL for a file the viewer can read, valid for
   * `expiresIn` seconds (the configured default when absent, within the
   * configured maximum). Active content (HTML, SVG, XML, JavaScript) is always
   * an attachment, whatever was asked: inline, it would run as a page of
   * whatever origin serves it.
   */
  async function downloadUrl(
    entry: { name: string; blob: { key: string; contentType: string } | null },
    options: { expiresIn?: number | null; disposition?: "inline" | "attachment" | null },
  ): Promise<{ url: string; expiresAt: Date }> {
    if (!entry.blob) throw errors.uploadIncomplete("The file has no content yet");
    const expiresInSeconds = presignLifetime(options.expiresIn, deps.presign);
    const url = await blobStore.presignGet(entry.blob.key, {
      expiresInSeconds,
      fileName: entry.name,
      disposition: downloadDisposition(entry.blob.contentType, options.disposition ?? "attachment"),
      contentType: entry.blob.contentType,
    });
    return { url, expiresAt: new Date(Date.now() + expiresInSeconds * 1000) };
  }

  /**
   * Imports a file from an http(s) URL (SSRF-guarded: ingest/url-import.ts)
   * and stores it like an upload, typed by what the server said and the bytes.
   */
  async function importAssetFromUrl(viewer: Viewer, input: { spaceId: string; path: string; url: string; createParents?: boolean | null }) {
    const space = await requireSpacePermission(prisma, viewer, input.spaceId, "assets:create");
    normalizePath(input.path); // refuse a bad path before fetching anything
    const org = await prisma.organization.findUniqueOrThrow({ where: { id: space.organizationId }, select: { maxFileSizeBytes: true } });
    const source = await openImportUrl(input.url, { ...deps.importOptions, maxBytes: Number(org.maxFileSizeBytes) });
    try {
      return await uploadAsset(viewer, {
        spaceId: input.spaceId,
        path: input.path,
        body: source.body,
        declaredType: source.contentType,
        createParents: input.createParents,
      });
    } finally {
      source.body.destroy();
    }
  }

  /**
   * Replaces a file's `meta` (assets:update), with the same size cap as at
   * upload, where the upload put it: the current blob's metadata.meta. The
   * rest of the metadata (processing results) stays. A replacement still in
   * flight brings its own meta when it completes.
   */
  async function updateAssetMetadata(viewer: Viewer, input: { id: string; meta?: unknown }) {
    const entry = await requireEntry(prisma, viewer, input.id, "assets:update");
    if (entry.kind !== "FILE") throw errors.pathIsDirectory(entry.name);
    validateMeta(input.meta);
    return transactionWithEvents(prisma, async (tx) => {
      // The entry's row lock: an overwrite cannot swap the blob between reading and writing it.
      const [row] = await tx.$queryRaw<{ blob_id: string | null }[]>`SELECT blob_id FROM entries WHERE id = ${entry.id} FOR UPDATE`;
      if (!row) throw errors.notFound("Entry");
      if (!row.blob_id) throw errors.uploadIncomplete("The file has no content yet");
      await tx.$executeRaw`
        UPDATE blobs SET metadata = metadata || jsonb_build_object('meta', ${JSON.stringify(input.meta ?? null)}::jsonb)
         WHERE id = ${row.blob_id}`;
      const updated = await tx.entry.update({ where: { id: entry.id }, data: { updatedAt: new Date() } });
      recordEntryUpdated(tx, updated, "METADATA");
      return updated;
    });
  }

  return { uploadAsset, importAssetFromUrl, downloadUrl, updateAssetMetadata };
}
