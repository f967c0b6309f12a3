// Files (FILE entries) and their bytes. An upload checks the path and limits,
// streams the bytes to the blob store under a fresh random key (ingest/ingest.ts:
// counted, hashed, content type sniffed), then one transaction bills the quota,
// records the blob and points the entry at it. If anything fails after the
// bytes landed, the object is deleted again.
import type { Readable } from "node:stream";
import type { PrismaClient, Tx } from "../../db/prisma.ts";
import { requireSpacePermission, hasPermission } from "../../access/space-access.ts";
import type { Viewer } from "../../access/viewer.ts";
import { AppError, errors } from "../../errors.ts";
import { newId, randomToken } from "../../ids.ts";
import type { JobQueue } from "../../jobs/queue.ts";
import type { CabinetPubSub } from "../../pubsub.ts";
import type { BlobStore } from "../../storage/blob-store.ts";
import { downloadDisposition } from "../../ingest/content-type.ts";
import { ingest } from "../../ingest/ingest.ts";
import { openImportUrl, type ImportOptions } from "../../ingest/url-import.ts";
import { claimFilePath, spaceEvent, type CreatedFolder } from "../entry/entry.service.ts";
import { joinPath, normalizePath } from "../entry/entry-path.ts";
import { resolveChain } from "../entry/entry-tree.sql.ts";
import { purgeAfterCommit } from "../blob/blob.purge.ts";
import { billUsage } from "../organization/usage.ts";

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
  queue: JobQueue;
  pubsub: CabinetPubSub;
  /** Allow-list, redirect limit and timeouts for URL imports (everything but the size cap). */
  importOptions: Omit<ImportOptions, "maxBytes">;
}) {
  const { prisma, blobStore, queue, pubsub } = deps;

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
    if (target && !hasPermission(viewer, space, "assets:update")) throw errors.forbidden("assets:update");
    if (!target && chain.length < segments.length && !input.createParents) {
      throw errors.notFound(`Folder "${joinPath(segments.slice(0, -1))}"`);
    }

    const org = await prisma.organization.findUniqueOrThrow({ where: { id: space.organizationId } });
    // An overwrite frees the bytes it replaces, so they count as available.
    const replacedSize = target ? (await prisma.entry.findUniqueOrThrow({ where: { id: target.id }, select: { size: true } })).size : 0n;
    const quotaLeft = org.quotaBytes - org.usedBytes - org.reservedBytes + replacedSize;
    const maxFile = org.maxFileSizeBytes;
    const key = randomToken(20);
    const { contentType, size, sha256 } = await ingest(blobStore, key, input.body, {
      declaredType: input.declaredType,
      limitBytes: Number(maxFile < quotaLeft ? maxFile : quotaLeft < 0n ? 0n : quotaLeft),
      onLimit: (limit) =>
        BigInt(limit) === maxFile
          ? errors.limitsReached(`The file is larger than the ${limit} byte limit`, { reason: "MAX_FILE_SIZE", limit })
          : errors.limitsReached("The organization's storage quota is used up", { reason: "QUOTA" }),
    });

    try {
      const result = await prisma.$transaction((tx) =>
        commitUpload(tx, viewer, { space, segments, key, contentType, size, sha256, createParents: !!input.createParents }),
      );
      for (const f of result.createdFolders) pubsub.publish("space.events", space.id, spaceEvent("CREATED", space.id, { ...f, kind: "FOLDER" }));
      pubsub.publish("space.events", space.id, spaceEvent(result.replaced ? "UPDATED" : "CREATED", space.id, result.entry));
      return result.entry;
    } catch (e) {
      await blobStore.delete(key).catch(() => {});
      throw e;
    }
  }

  async function commitUpload(
    tx: Tx,
    viewer: Viewer,
    u: { space: { id: string; organizationId: string }; segments: string[]; key: string; contentType: string; size: bigint; sha256: string; createParents: boolean },
  ) {
    const createdFolders: CreatedFolder[] = [];
    const { parentId, name, existing } = await claimFilePath(tx, viewer, u.space, u.segments, { createParents: u.createParents, created: createdFolders });
    const old = existing?.blob_id ? await tx.blob.findUnique({ where: { id: existing.blob_id } }) : null;

    await billUsage(tx, u.space.organizationId, u.space.id, u.size - (old?.size ?? 0n));
    const blob = await tx.blob.create({
      data: {
        id: newId("Blob"), organizationId: u.space.organizationId, spaceId: u.space.id, key: u.key,
        status: "READY", size: u.size, contentType: u.contentType, sha256: u.sha256,
      },
    });
    const now = new Date();
    const entry = existing
      ? await tx.entry.update({ where: { id: existing.id }, data: { blobId: blob.id, size: u.size, updatedAt: now } })
      : await tx.entry.create({
          data: { id: newId("Entry"), spaceId: u.space.id, parentId, kind: "FILE", name, blobId: blob.id, size: u.size, createdById: viewer.accountId, createdAt: now, updatedAt: now },
        });
    if (old) {
      await tx.blob.delete({ where: { id: old.id } });
      await purgeAfterCommit(queue, tx, [old.key]);
    }
    return { entry, replaced: !!existing, createdFolders };
  }

  /**
   * Time-limited download URL for a file the viewer can read. Active content
   * (HTML, SVG, XML, JavaScript) is always an attachment, whatever was asked:
   * inline, it would run as a page of whatever origin serves it.
   */
  async function downloadUrl(entry: { name: string; blob: { key: string; contentType: string } | null }, options: { expiresInSeconds: number; disposition?: "inline" | "attachment" }) {
    if (!entry.blob) throw new AppError("UPLOAD_INCOMPLETE", "The file has no content yet");
    return blobStore.presignGet(entry.blob.key, {
      expiresInSeconds: options.expiresInSeconds,
      fileName: entry.name,
      disposition: downloadDisposition(entry.blob.contentType, options.disposition),
      contentType: entry.blob.contentType,
    });
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
      return await uploadAsset(viewer, { spaceId: input.spaceId, path: input.path, body: source.body, declaredType: source.contentType, createParents: input.createParents });
    } finally {
      source.body.destroy();
    }
  }

  return { uploadAsset, importAssetFromUrl, downloadUrl };
}
