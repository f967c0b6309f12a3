// Attachments as owners of two-stage uploads (the blob lifecycle's "ATTACHMENT"
// kind). The attachment row points at its PENDING blob from the start
// (attachments.blob_id); completion keeps the pointer and records the type the
// bytes were found to have, unless that type is outside the allow-list: then
// the lifecycle drops the upload and nothing is kept.
import type { BlobOwner } from "../blob/blob.service.ts";
import { recordAttachmentEvent } from "./attachment.events.ts";

export function createAttachmentBlobOwner(options: { allowed: (mimeType: string) => boolean }): BlobOwner {
  return {
    async lock(tx, blob) {
      await tx.$queryRaw`SELECT id FROM attachments WHERE blob_id = ${blob.id} FOR UPDATE`;
    },

    async attach(tx, blob) {
      const attachment = await tx.attachment.findUnique({ where: { blobId: blob.id } });
      if (!attachment || attachment.deletedAt) return null;
      // The lifecycle marked the row READY with the verified type before calling us.
      const verified = await tx.blob.findUniqueOrThrow({ where: { id: blob.id }, select: { contentType: true, size: true } });
      if (!options.allowed(verified.contentType)) return null;
      // The size too: an upload of unknown size learns it now.
      const uploaded = await tx.attachment.update({ where: { id: attachment.id }, data: { mimeType: verified.contentType, size: verified.size } });
      recordAttachmentEvent(tx, "attachment.uploaded", uploaded);
      return { replaced: null };
    },

    async detach(tx, blob) {
      await tx.attachment.deleteMany({ where: { blobId: blob.id } });
    },
  };
}
