// Two-stage uploads into FILE entries: the client gets a presigned PUT bound to
// the declared type and length (and sha256, when given), sends the bytes
// straight to the blob store, and the upload is completed by the client
// (completeAssetUpload), by the disk store itself when its PUT finishes, or by
// the sweep job. Reserving, verifying, completing and dropping uploads is the
// blob lifecycle's (blob.service.ts); this service claims the path, makes the
// entry the upload becomes, and checks who may do what.
import { requireEntry } from "../../access/entry-access.ts";
import { requireSpacePermission } from "../../access/space-access.ts";
import type { Viewer } from "../../access/viewer.ts";
import type { PrismaClient } from "../../db/prisma.ts";
import { errors } from "../../errors.ts";
import { newId } from "../../ids.ts";
import { decideContentType } from "../../ingest/content-type.ts";
import { presignLifetime, type PresignLimits } from "../../storage/blob-store.ts";
import type { BlobService } from "../blob/blob.service.ts";
import { recordEntryCreated } from "../entry/entry.events.ts";
import { claimFilePath, recordFoldersCreated, type CreatedFolder } from "../entry/entry.service.ts";
import { normalizePath } from "../entry/entry-path.ts";
import { validateMeta } from "./asset-meta.ts";

export type AssetUploadService = ReturnType<typeof createAssetUploadService>;

export type CreateAssetUploadInput = {
  spaceId: string;
  path: string;
  mimeType: string;
  size: number;
  sha256?: string | null;
  meta?: unknown;
  createParents?: boolean | null;
  expiresInSeconds?: number | null;
};

export function createAssetUploadService(deps: { prisma: PrismaClient; blobs: BlobService; presign: PresignLimits }) {
  const { prisma, blobs, presign } = deps;

  function validate(input: CreateAssetUploadInput, maxFileSize: bigint) {
    const segments = normalizePath(input.path);
    if (segments.length === 0) throw errors.pathIsDirectory("/");
    if (!Number.isSafeInteger(input.size) || input.size < 0) throw errors.badInput("size must be a non-negative integer");
    if (BigInt(input.size) > maxFileSize) throw errors.fileTooLarge(maxFileSize);
    const sha256 = input.sha256?.toLowerCase() ?? null;
    if (sha256 !== null && !/^[0-9a-f]{64}$/.test(sha256)) throw errors.badInput("sha256 must be 64 hexadecimal digits");
    validateMeta(input.meta);
    const expiresInSeconds = presignLifetime(input.expiresInSeconds, presign);
    // Syntax only: the bytes are checked against it on completion.
    const { contentType } = decideContentType(input.mimeType, undefined);
    return { segments, sha256, expiresInSeconds, contentType };
  }

  async function createAssetUpload(viewer: Viewer, input: CreateAssetUploadInput) {
    const space = await requireSpacePermission(prisma, viewer, input.spaceId, "assets:create");
    const org = await prisma.organization.findUniqueOrThrow({ where: { id: space.organizationId }, select: { maxFileSizeBytes: true } });
    const { segments, sha256, expiresInSeconds, contentType } = validate(input, org.maxFileSizeBytes);
    const size = BigInt(input.size);
    const created: CreatedFolder[] = [];

    const { entry, blob } = await blobs.transaction(async (tx) => {
      const { parentId, name, existing } = await claimFilePath(tx, viewer, space, segments, { createParents: !!input.createParents, created });
      const blob = await blobs.reserve(
        tx,
        { organizationId: space.organizationId, spaceId: space.id, ownerKind: "ENTRY" },
        {
          size,
          contentType,
          sha256,
          metadata: { meta: input.meta ?? null },
          expiresInSeconds,
        },
      );
      let entryId: string;
      if (existing) {
        entryId = existing.id;
        // One upload in flight per entry: a new one replaces the previous.
        const previous = await tx.blob.findUnique({ where: { uploadEntryId: existing.id } });
        if (previous) {
          if (existing.blob_id === previous.id) await tx.entry.update({ where: { id: existing.id }, data: { blobId: blob.id, size } });
          await blobs.drop(tx, previous);
        }
      } else {
        entryId = newId("Entry");
        await tx.entry.create({
          data: { id: entryId, spaceId: space.id, parentId, kind: "FILE", name, blobId: blob.id, size, createdById: viewer.accountId },
        });
      }
      await tx.blob.update({ where: { id: blob.id }, data: { uploadEntryId: entryId } });
      const entry = await tx.entry.findUniqueOrThrow({ where: { id: entryId } });
      recordFoldersCreated(tx, space.id, created);
      // A new file is listed (PENDING) from now on; its content arriving is an UPDATED (CONTENT) later.
      if (!existing) recordEntryCreated(tx, entry);
      return { entry, blob };
    });
    return { entry, uploadRequest: await blobs.presignUpload(blob, expiresInSeconds) };
  }

  /** The pending upload into an entry the viewer may upload to (assets:create on its space). */
  async function pendingFor(viewer: Viewer, assetId: string) {
    const entry = await requireEntry(prisma, viewer, assetId, "assets:create");
    if (entry.kind !== "FILE") throw errors.pathIsDirectory(entry.name);
    return { entry, pending: await prisma.blob.findFirst({ where: { uploadEntryId: entry.id, status: "PENDING" } }) };
  }

  /** A fresh upload URL for a pending upload whose URL expired (or is about to). */
  async function renewAssetUpload(viewer: Viewer, assetId: string, expiresIn?: number | null) {
    const { entry, pending } = await pendingFor(viewer, assetId);
    if (!pending) throw errors.notFound("Pending upload");
    return { entry, uploadRequest: await blobs.renewUpload(pending, presignLifetime(expiresIn, presign)) };
  }

  /** completeAssetUpload: idempotent; UPLOAD_INCOMPLETE while the bytes have not arrived. */
  async function completeAssetUpload(viewer: Viewer, assetId: string) {
    const { entry, pending } = await pendingFor(viewer, assetId);
    if (pending) {
      const result = await blobs.completeUpload(pending.id);
      if (result.state === "missing") throw errors.uploadIncomplete("The upload has not arrived yet");
    } else if (!entry.blobId) {
      throw errors.uploadIncomplete("The file has no content");
    }
    return prisma.entry.findUniqueOrThrow({ where: { id: entry.id } });
  }

  return { createAssetUpload, renewAssetUpload, completeAssetUpload };
}
