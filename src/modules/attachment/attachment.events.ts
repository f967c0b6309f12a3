// The attachment events of the log (decision 62): every change an operator or a
// compliance export may follow, written in the transaction of the change. Their
// payload carries `conversationId`, so the tail also hands them to the
// conversation's topic; conversationEvents and agentEvents send only
// conversation types, and webhooks deliver them to whoever asks.
import { recordEvent } from "../../events/event-log.ts";
import type { Tx } from "../../db/prisma.ts";
import type { Attachment } from "../../generated/prisma/client.ts";

/** An attachment as its events carry it (the state after the change). */
export type AttachmentFacts = {
  conversationId: string;
  messageId: string | null;
  uploaderId: string | null;
  filename: string;
  mimeType: string;
  size: number;
  retentionAt: string | null;
};

/** Why an attachment was deleted: by a person (DELETED), or by a sweep. */
export type AttachmentDeletion = "DELETED" | "RETENTION" | "RESTORE_WINDOW" | "UNBOUND";

export type AttachmentEventPayloads = {
  /** Its bytes arrived and were verified (subjectId: the attachment). */
  "attachment.uploaded": AttachmentFacts;
  /** postMessage bound it to `messageId`. */
  "attachment.bound": AttachmentFacts;
  /** Its own retentionAt was set (an override). */
  "attachment.retention_changed": AttachmentFacts;
  /** The space's default changed (subjectId: the space); `updated` attachments without an override were recomputed. */
  "attachment.retention_default_changed": { retentionDays: number | null; updated: number };
  /** Soft-deleted (`purged: false`, restorable), or its bytes purged (`purged: true`). */
  "attachment.deleted": AttachmentFacts & { reason: AttachmentDeletion; purged: boolean };
  "attachment.restored": AttachmentFacts;
};

type AttachmentRow = Pick<Attachment, "id" | "spaceId" | "conversationId" | "messageId" | "uploaderId" | "filename" | "mimeType" | "size" | "retentionAt">;

export function attachmentFacts(a: AttachmentRow): AttachmentFacts {
  return {
    conversationId: a.conversationId,
    messageId: a.messageId,
    uploaderId: a.uploaderId,
    filename: a.filename,
    mimeType: a.mimeType,
    size: Number(a.size),
    retentionAt: a.retentionAt?.toISOString() ?? null,
  };
}

type RowEvent = Exclude<keyof AttachmentEventPayloads, "attachment.retention_default_changed" | "attachment.deleted">;

/** Records one attachment's event in `tx` (inside transactionWithEvents). */
export function recordAttachmentEvent(tx: Tx, type: RowEvent, a: AttachmentRow): void {
  recordEvent(tx, { type, spaceId: a.spaceId, subjectId: a.id, payload: attachmentFacts(a) });
}

export function recordAttachmentDeleted(tx: Tx, a: AttachmentRow, reason: AttachmentDeletion, purged: boolean): void {
  recordEvent(tx, { type: "attachment.deleted", spaceId: a.spaceId, subjectId: a.id, payload: { ...attachmentFacts(a), reason, purged } });
}
