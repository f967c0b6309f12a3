// Chat attachments (decision 53): files a participant drops into a
// conversation, uploaded straight to the blob store through a presigned PUT.
// They are blobs of the space (owner kind ATTACHMENT): reserving, verifying,
// billing, processing and purging are the blob lifecycle's (blob.service.ts);
// this service checks who may upload, the MIME allow-list, and binds completed
// attachments to the message that posts them.
import { assertRoomRead, assertRoomWrite, loadConversationAccess } from "../../access/room-access.ts";
import type { Viewer } from "../../access/viewer.ts";
import type { PrismaClient, Tx } from "../../db/prisma.ts";
import { AppError, errors } from "../../errors.ts";
import type { Attachment, Blob } from "../../generated/prisma/client.ts";
import { newId } from "../../ids.ts";
import { decideContentType, downloadDisposition } from "../../ingest/content-type.ts";
import { type BlobStore, presignLifetime, type PresignLimits } from "../../storage/blob-store.ts";
import type { BlobService } from "../blob/blob.service.ts";
import { recordAttachmentDeleted, recordAttachmentEvent } from "./attachment.events.ts";

type AttachmentRow = Pick<Attachment, "id" | "spaceId" | "conversationId" | "messageId" | "uploaderId" | "filename" | "mimeType" | "size" | "retentionAt">;

export type AttachmentService = ReturnType<typeof createAttachmentService>;

export type AttachmentSettings = {
  /** Allowed MIME types (lower case, no parameters). */
  mimeTypes: readonly string[];
  uploadExpiresSeconds: number;
  unboundTtlSeconds: number;
  restoreDays: number;
};

const DAY_MS = 86_400_000;

export type CreateAttachmentUploadInput = {
  conversationId: string;
  filename: string;
  mimeType: string;
  /** Absent (REST only): the URL takes up to the organization's max file size; the real size is billed on completion. */
  size?: number | null;
  sha256?: string | null;
};

export const FILENAME_MAX_CHARS = 255;

export const unsupportedMediaType = (mimeType: string, allowed: readonly string[]) =>
  new AppError("UNSUPPORTED_MEDIA_TYPE", `Attachments of type ${mimeType} are not accepted`, { mimeType, allowed: [...allowed] });

/** True when the attachment may be handed out now (URL, model input): READY bytes, not deleted, not past retention. */
export function isAvailable(a: Pick<Attachment, "deletedAt" | "retentionAt">, blob: Pick<Blob, "status"> | null, now = new Date()): boolean {
  if (a.deletedAt || !blob || blob.status !== "READY") return false;
  return !a.retentionAt || a.retentionAt.getTime() > now.getTime();
}

export function createAttachmentService(deps: {
  prisma: PrismaClient;
  blobStore: BlobStore;
  blobs: BlobService;
  presign: PresignLimits;
  settings: AttachmentSettings;
}) {
  const { prisma, blobStore, blobs, settings } = deps;
  const allowedSet = new Set(settings.mimeTypes);
  const allowed = (mimeType: string) => allowedSet.has(mimeType.toLowerCase());

  function validate(input: CreateAttachmentUploadInput, maxFileSize: bigint) {
    const filename = input.filename.trim();
    if (!filename || filename.length > FILENAME_MAX_CHARS || /[\u0000-\u001f/\\]/.test(filename)) {
      throw errors.badInput(`filename must be 1 to ${FILENAME_MAX_CHARS} characters without control characters or slashes`);
    }
    if (input.size !== undefined && input.size !== null) {
      if (!Number.isSafeInteger(input.size) || input.size < 0) throw errors.badInput("size must be a non-negative integer");
      if (BigInt(input.size) > maxFileSize) throw errors.fileTooLarge(maxFileSize);
    }
    const sha256 = input.sha256?.toLowerCase() ?? null;
    if (sha256 !== null && !/^[0-9a-f]{64}$/.test(sha256)) throw errors.badInput("sha256 must be 64 hexadecimal digits");
    return { filename, sha256 };
  }

  /** The declared type, normalized; UNSUPPORTED_MEDIA_TYPE outside the allow-list. */
  function checkMimeType(mimeType: string): string {
    const { contentType } = decideContentType(mimeType, undefined);
    const essence = contentType.split(";")[0]!.trim().toLowerCase();
    if (!allowed(essence)) throw unsupportedMediaType(essence, settings.mimeTypes);
    return essence;
  }

  /**
   * A PENDING attachment and its presigned PUT. The caller must be a participant
   * with conversations:write. STORAGE_NOT_CONFIGURED (or _UNAVAILABLE) at once
   * when the store cannot take uploads, before anything is reserved.
   */
  async function createAttachmentUpload(viewer: Viewer, input: CreateAttachmentUploadInput) {
    const mimeType = checkMimeType(input.mimeType);
    const access = await loadConversationAccess(prisma, viewer, input.conversationId);
    assertRoomWrite(viewer, access, "Conversation");
    const org = await prisma.organization.findUniqueOrThrow({ where: { id: access.space.organizationId }, select: { maxFileSizeBytes: true } });
    const { filename, sha256 } = validate(input, org.maxFileSizeBytes);
    await blobStore.checkReady();
    const expiresInSeconds = presignLifetime(settings.uploadExpiresSeconds, deps.presign);
    const policy = await prisma.attachmentRetentionPolicy.findUnique({ where: { spaceId: access.space.id } });
    const createdAt = new Date();
    const { attachment, blob } = await blobs.transaction(async (tx) => {
      const declared = input.size !== undefined && input.size !== null;
      const blob = await blobs.reserve(
        tx,
        { organizationId: access.space.organizationId, spaceId: access.space.id, ownerKind: "ATTACHMENT" },
        {
          size: BigInt(input.size ?? 0),
          ...(declared ? {} : { maxSize: org.maxFileSizeBytes }),
          contentType: mimeType,
          sha256,
          metadata: {},
          expiresInSeconds,
        },
      );
      const attachment = await tx.attachment.create({
        data: {
          id: newId("Attachment"),
          spaceId: access.space.id,
          conversationId: access.conversationId,
          uploaderId: viewer.accountId,
          filename,
          mimeType,
          // Of unknown size: 0 until the completion records the real size.
          size: BigInt(input.size ?? 0),
          blobId: blob.id,
          createdAt,
          retentionAt: policy ? new Date(createdAt.getTime() + policy.retentionDays * DAY_MS) : null,
        },
      });
      return { attachment, blob };
    });
    return { attachment, uploadRequest: await blobs.presignUpload(blob, expiresInSeconds) };
  }

  /** The viewer's own attachment (its uploader); NOT_FOUND otherwise. */
  async function own(viewer: Viewer, attachmentId: string) {
    const attachment = await prisma.attachment.findUnique({ where: { id: attachmentId }, include: { blob: true } });
    if (!attachment || attachment.uploaderId !== viewer.accountId || attachment.deletedAt) throw errors.notFound("Attachment");
    const access = await loadConversationAccess(prisma, viewer, attachment.conversationId);
    assertRoomWrite(viewer, access, "Attachment");
    return attachment;
  }

  /** A fresh upload URL for the viewer's pending attachment (the old one expired). */
  async function renewAttachmentUpload(viewer: Viewer, attachmentId: string) {
    const attachment = await own(viewer, attachmentId);
    if (attachment.blob?.status !== "PENDING") throw errors.notFound("Pending upload");
    await blobStore.checkReady();
    return { attachment, uploadRequest: await blobs.renewUpload(attachment.blob, presignLifetime(settings.uploadExpiresSeconds, deps.presign)) };
  }

  /**
   * Explicit completion (the disk store's PUT and the sweep complete too): checks
   * size, checksum and the sniffed type. UPLOAD_INCOMPLETE while the bytes have
   * not arrived; UNSUPPORTED_MEDIA_TYPE (nothing kept) when the bytes are of a
   * type outside the allow-list.
   */
  async function completeAttachmentUpload(viewer: Viewer, attachmentId: string) {
    const attachment = await own(viewer, attachmentId);
    if (attachment.blob?.status === "PENDING") {
      const result = await blobs.completeUpload(attachment.blob.id);
      if (result.state === "missing") throw errors.uploadIncomplete("The upload has not arrived yet");
    }
    const after = await prisma.attachment.findUnique({ where: { id: attachmentId }, include: { blob: true } });
    if (!after) throw unsupportedMediaType(attachment.mimeType, settings.mimeTypes);
    return after;
  }

  /**
   * In postMessage's transaction: binds the poster's own unbound, completed
   * attachments of the conversation to the message. Anything else (someone
   * else's, another conversation's, already bound, still uploading, deleted,
   * unknown) refuses the whole post with BAD_USER_INPUT reason ATTACHMENT_NOT_BINDABLE.
   */
  async function bindAttachments(tx: Tx, input: { accountId: string; conversationId: string; messageId: string; attachmentIds: readonly string[] }) {
    const ids = [...new Set(input.attachmentIds)];
    if (ids.length !== input.attachmentIds.length) throw errors.badInput("attachmentIds lists an attachment twice", { reason: "ATTACHMENT_NOT_BINDABLE" });
    const bound = await tx.$queryRaw<AttachmentRow[]>`
      UPDATE attachments a SET message_id = ${input.messageId}
        FROM blobs b
       WHERE a.id = ANY(${ids}::text[]) AND b.id = a.blob_id AND b.status = 'READY'
         AND a.conversation_id = ${input.conversationId} AND a.uploader_id = ${input.accountId}
         AND a.message_id IS NULL AND a.deleted_at IS NULL
         AND (a.retention_at IS NULL OR a.retention_at > now())
      RETURNING a.id, a.space_id AS "spaceId", a.conversation_id AS "conversationId", a.message_id AS "messageId", a.uploader_id AS "uploaderId",
                a.filename, a.mime_type AS "mimeType", a.size, a.retention_at AS "retentionAt"`;
    if (bound.length !== ids.length) {
      const got = new Set(bound.map((b) => b.id));
      const refused = ids.filter((id) => !got.has(id));
      throw errors.badInput("Only your own completed, unbound attachments of this conversation can be attached", {
        reason: "ATTACHMENT_NOT_BINDABLE",
        attachmentIds: refused,
      });
    }
    for (const row of bound) recordAttachmentEvent(tx, "attachment.bound", row);
  }

  /** A presigned download URL, or null when the attachment is not available (deleted, past retention, not uploaded). */
  async function downloadUrl(attachment: Attachment & { blob: Blob | null }, expiresIn?: number | null): Promise<{ url: string; expiresAt: Date } | null> {
    if (!isAvailable(attachment, attachment.blob)) return null;
    const expiresInSeconds = presignLifetime(expiresIn, deps.presign);
    const url = await blobStore.presignGet(attachment.blob!.key, {
      expiresInSeconds,
      fileName: attachment.filename,
      disposition: downloadDisposition(attachment.blob!.contentType, "attachment"),
      contentType: attachment.blob!.contentType,
    });
    return { url, expiresAt: new Date(Date.now() + expiresInSeconds * 1000) };
  }

  /** Reading an attachment: the conversation's readers. NOT_FOUND otherwise. */
  async function readable(viewer: Viewer, attachmentId: string) {
    const attachment = await prisma.attachment.findUnique({ where: { id: attachmentId }, include: { blob: true } });
    if (!attachment) throw errors.notFound("Attachment");
    const access = await loadConversationAccess(prisma, viewer, attachment.conversationId);
    assertRoomRead(viewer, access, "Attachment");
    return attachment;
  }

  /**
   * Unbound attachments older than the TTL (their upload began that long ago and
   * no message took them): removed with their bytes, quota given back.
   */
  async function sweepUnbound(now = new Date()): Promise<{ removed: number }> {
    const before = new Date(now.getTime() - settings.unboundTtlSeconds * 1000);
    const stale = await prisma.attachment.findMany({ where: { messageId: null, createdAt: { lt: before } }, select: { id: true }, take: 500 });
    for (const { id } of stale) await removeAttachment(id, { onlyUnbound: true });
    return { removed: stale.length };
  }

  /**
   * Gives back an attachment's bytes in `tx` (its row locked): a pending upload
   * is dropped (which deletes the row too, returns false); a READY blob and its
   * derived blobs are deleted, billed bytes leave the usage, objects are purged
   * after commit. Returns whether the row still exists.
   */
  async function releaseBytes(tx: Tx, blobId: string | null): Promise<boolean> {
    const blob = blobId ? await tx.blob.findUnique({ where: { id: blobId } }) : null;
    if (!blob) return true;
    if (blob.status === "PENDING") {
      await blobs.drop(tx, blob); // detach deletes the attachment row
      return false;
    }
    const derived = await tx.blob.findMany({ where: { sourceBlobId: blob.id } });
    await tx.blob.deleteMany({ where: { id: { in: [blob.id, ...derived.map((d) => d.id)] } } });
    await blobs.purgeDeleted(
      tx,
      { organizationId: blob.organizationId, spaceId: blob.spaceId },
      [blob, ...derived].map((b) => ({ id: b.id, key: b.key, size: b.size, status: b.status, ownerKind: b.ownerKind })),
    );
    return true;
  }

  const lockRow = async (tx: Tx, id: string) =>
    (
      await tx.$queryRaw<{ id: string; blobId: string | null; messageId: string | null; deletedAt: Date | null; retentionAt: Date | null }[]>`
        SELECT id, blob_id AS "blobId", message_id AS "messageId", deleted_at AS "deletedAt", retention_at AS "retentionAt"
          FROM attachments WHERE id = ${id} FOR UPDATE`
    )[0];

  /** Hard delete: the row and its bytes (quota given back). False when it was gone already. */
  async function removeAttachment(id: string, options: { onlyUnbound?: boolean } = {}): Promise<boolean> {
    return blobs.transaction(async (tx) => {
      const row = await lockRow(tx, id);
      if (!row || (options.onlyUnbound && row.messageId)) return false;
      recordAttachmentDeleted(tx, await tx.attachment.findUniqueOrThrow({ where: { id } }), options.onlyUnbound ? "UNBOUND" : "DELETED", true);
      if (await releaseBytes(tx, row.blobId)) await tx.attachment.delete({ where: { id } });
      return true;
    });
  }

  /**
   * The retention sweep: attachments past retentionAt are soft-deleted and their
   * bytes purged; soft-deleted ones past the restore window lose their bytes.
   * The rows stay (the operator list shows them deleted).
   */
  async function sweepRetention(now = new Date()): Promise<{ purged: number }> {
    const restoreBefore = new Date(now.getTime() - settings.restoreDays * DAY_MS);
    const due = await prisma.attachment.findMany({
      where: { blobId: { not: null }, OR: [{ retentionAt: { lte: now } }, { deletedAt: { lte: restoreBefore } }] },
      select: { id: true },
      take: 500,
    });
    let purged = 0;
    for (const { id } of due) {
      await blobs.transaction(async (tx) => {
        const row = await lockRow(tx, id);
        if (!row?.blobId) return;
        const expired = row.retentionAt !== null && row.retentionAt.getTime() <= now.getTime();
        if (!expired && !(row.deletedAt && row.deletedAt.getTime() <= restoreBefore.getTime())) return;
        if (await releaseBytes(tx, row.blobId)) {
          const swept = await tx.attachment.update({ where: { id }, data: { blobId: null, deletedAt: row.deletedAt ?? now } });
          recordAttachmentDeleted(tx, swept, expired ? "RETENTION" : "RESTORE_WINDOW", true);
        }
        purged++;
      });
    }
    return { purged };
  }

  return {
    allowed,
    createAttachmentUpload,
    renewAttachmentUpload,
    completeAttachmentUpload,
    bindAttachments,
    downloadUrl,
    readable,
    sweepUnbound,
    sweepRetention,
    removeAttachment,
  };
}
