// Managing a space's attachments (decision 53): the retention default and
// per-attachment overrides, the operator list, soft delete and restore, hard
// delete. Managers hold attachments:manage or are space admins
// (access/attachment-access.ts); uploaders may set the retention of, and
// hard-delete, their own attachments.
import { assertAttachmentManager, canManageAttachments, requireAttachmentManager } from "../../access/attachment-access.ts";
import { assertRoomWrite, canReadRoom, loadConversationAccess } from "../../access/room-access.ts";
import type { Viewer } from "../../access/viewer.ts";
import type { PrismaClient } from "../../db/prisma.ts";
import { errors } from "../../errors.ts";
import { recordEvent, transactionWithEvents } from "../../events/event-log.ts";
import type { Prisma } from "../../generated/prisma/client.ts";
import { recordAttachmentDeleted, recordAttachmentEvent } from "./attachment.events.ts";
import type { AttachmentService } from "./attachment.service.ts";

export type AttachmentAdminService = ReturnType<typeof createAttachmentAdminService>;

export const RETENTION_DAYS_MAX = 36_500;
export const LIST_PAGE_MAX = 200;

export type RetentionFilter = { kind: "ACTIVE" | "EXPIRING_WITHIN" | "EXPIRED" | "NONE"; days?: number | null };

export type AttachmentFilter = {
  uploadedBy?: string | null;
  /** Exact (image/png) or a type prefix (image/*). */
  mimeType?: string | null;
  retention?: RetentionFilter | null;
  /** true: only soft-deleted ones; false (default): only the others. */
  deleted?: boolean | null;
  conversationId?: string | null;
};

export type AttachmentOrder = { field: "CREATED_AT" | "SIZE"; direction: "ASC" | "DESC" };

export type SetRetentionInput = {
  spaceId?: string | null;
  retentionDays?: number | null;
  attachmentId?: string | null;
  retentionAt?: Date | null;
};

type Cursor = { v: string; id: string };
const encodeCursor = (c: Cursor) => Buffer.from(JSON.stringify(c)).toString("base64url");
function decodeCursor(raw: string): Cursor {
  try {
    const c = JSON.parse(Buffer.from(raw, "base64url").toString("utf8")) as Cursor;
    if (typeof c.v === "string" && typeof c.id === "string") return c;
  } catch {}
  throw errors.badInput("after is not a cursor of this list");
}

export function createAttachmentAdminService(deps: { prisma: PrismaClient; attachments: AttachmentService }) {
  const { prisma, attachments } = deps;

  const load = async (attachmentId: string) => {
    const a = await prisma.attachment.findUnique({ where: { id: attachmentId }, include: { space: { select: { id: true, organizationId: true } } } });
    if (!a) throw errors.notFound("Attachment");
    return a;
  };

  /** A manager of its space, or its uploader writing to its conversation. */
  async function requireOwnerOrManager(viewer: Viewer, attachmentId: string) {
    const a = await load(attachmentId);
    if (canManageAttachments(viewer, a.space)) return a;
    const access = await loadConversationAccess(prisma, viewer, a.conversationId);
    // Hidden unless the viewer reads the conversation; readers that did not upload it may not.
    if (!access || !canReadRoom(viewer, access) || a.deletedAt) throw errors.notFound("Attachment");
    if (a.uploaderId !== viewer.accountId) throw errors.forbidden("attachments:manage");
    assertRoomWrite(viewer, access, "Attachment");
    return a;
  }

  async function requireManaged(viewer: Viewer, attachmentId: string) {
    const a = await load(attachmentId);
    assertAttachmentManager(viewer, a.space);
    return a;
  }

  /**
   * The space default ({ spaceId, retentionDays }, null = keep) or one
   * attachment's override ({ attachmentId, retentionAt }, null = keep it). A new
   * default recomputes retentionAt (createdAt + days) of every attachment of the
   * space without an override.
   */
  async function setAttachmentRetention(viewer: Viewer, input: SetRetentionInput) {
    if (!!input.spaceId === !!input.attachmentId) throw errors.badInput("Give either spaceId (with retentionDays) or attachmentId (with retentionAt)");
    if (input.attachmentId) {
      if (input.retentionDays !== undefined && input.retentionDays !== null) throw errors.badInput("retentionDays goes with spaceId");
      const a = await requireOwnerOrManager(viewer, input.attachmentId);
      await transactionWithEvents(prisma, async (tx) => {
        const changed = await tx.attachment.update({ where: { id: a.id }, data: { retentionAt: input.retentionAt ?? null, retentionOverride: true } });
        recordAttachmentEvent(tx, "attachment.retention_changed", changed);
      });
      return { spaceId: a.spaceId, retentionDays: (await policyOf(a.spaceId))?.retentionDays ?? null, attachmentId: a.id, updated: 1 };
    }
    if (input.retentionAt !== undefined && input.retentionAt !== null) throw errors.badInput("retentionAt goes with attachmentId");
    const days = input.retentionDays ?? null;
    if (days !== null && (!Number.isInteger(days) || days < 1 || days > RETENTION_DAYS_MAX)) {
      throw errors.badInput(`retentionDays must be 1 to ${RETENTION_DAYS_MAX}, or null to keep attachments`);
    }
    const space = await requireAttachmentManager(prisma, viewer, input.spaceId!);
    const updated = await transactionWithEvents(prisma, async (tx) => {
      if (days === null) await tx.attachmentRetentionPolicy.deleteMany({ where: { spaceId: space.id } });
      else
        await tx.attachmentRetentionPolicy.upsert({
          where: { spaceId: space.id },
          create: { spaceId: space.id, retentionDays: days },
          update: { retentionDays: days, updatedAt: new Date() },
        });
      const recomputed = await tx.$executeRaw`
        UPDATE attachments
           SET retention_at = CASE WHEN ${days}::int IS NULL THEN NULL ELSE created_at + make_interval(days => ${days}::int) END
         WHERE space_id = ${space.id} AND NOT retention_override AND blob_id IS NOT NULL`;
      // One event for the space, not one per recomputed attachment (a space may hold millions).
      recordEvent(tx, {
        type: "attachment.retention_default_changed",
        spaceId: space.id,
        subjectId: space.id,
        payload: { retentionDays: days, updated: recomputed },
      });
      return recomputed;
    });
    return { spaceId: space.id, retentionDays: days, attachmentId: null, updated };
  }

  const policyOf = (spaceId: string) => prisma.attachmentRetentionPolicy.findUnique({ where: { spaceId } });

  async function retentionOf(viewer: Viewer, spaceId: string) {
    await requireAttachmentManager(prisma, viewer, spaceId);
    return (await policyOf(spaceId))?.retentionDays ?? null;
  }

  /** Hard delete: the row and its bytes, quota given back. */
  async function deleteAttachment(viewer: Viewer, attachmentId: string) {
    const a = await requireOwnerOrManager(viewer, attachmentId);
    await attachments.removeAttachment(a.id);
    return { id: a.id };
  }

  /** Soft delete: never handed out again; restorable until the sweep purges the bytes (ATTACHMENT_RESTORE_DAYS). */
  async function softDeleteAttachment(viewer: Viewer, attachmentId: string) {
    const a = await requireManaged(viewer, attachmentId);
    await transactionWithEvents(prisma, async (tx) => {
      const [deleted] = await tx.attachment.updateManyAndReturn({ where: { id: a.id, deletedAt: null }, data: { deletedAt: new Date() } });
      if (deleted) recordAttachmentDeleted(tx, deleted, "DELETED", false);
    });
    return prisma.attachment.findUniqueOrThrow({ where: { id: a.id }, include: { blob: true } });
  }

  async function restoreAttachment(viewer: Viewer, attachmentId: string) {
    const a = await requireManaged(viewer, attachmentId);
    const restored = await transactionWithEvents(prisma, async (tx) => {
      const wasDeleted = await tx.attachment.count({ where: { id: a.id, deletedAt: { not: null } } });
      const [row] = await tx.attachment.updateManyAndReturn({ where: { id: a.id, blobId: { not: null } }, data: { deletedAt: null } });
      if (row && wasDeleted) recordAttachmentEvent(tx, "attachment.restored", row);
      return row;
    });
    if (!restored) throw errors.badInput("The attachment's bytes were purged; it cannot be restored", { reason: "ATTACHMENT_PURGED" });
    return prisma.attachment.findUniqueOrThrow({ where: { id: a.id }, include: { blob: true } });
  }

  /** The operator list: keyset-paginated, newest first by default. */
  async function listAttachments(
    viewer: Viewer,
    spaceId: string,
    options: { filter?: AttachmentFilter | null; orderBy?: AttachmentOrder | null; first?: number | null; after?: string | null },
  ) {
    const space = await requireAttachmentManager(prisma, viewer, spaceId);
    const first = options.first ?? 50;
    if (!Number.isInteger(first) || first < 1 || first > LIST_PAGE_MAX) throw errors.badInput(`first must be 1 to ${LIST_PAGE_MAX}`);
    const order = options.orderBy ?? { field: "CREATED_AT", direction: "DESC" };
    const f = options.filter ?? {};
    const now = new Date();
    const and: Prisma.AttachmentWhereInput[] = [{ spaceId: space.id }];
    and.push(f.deleted ? { deletedAt: { not: null } } : { deletedAt: null });
    if (f.uploadedBy) and.push({ uploaderId: f.uploadedBy });
    if (f.conversationId) and.push({ conversationId: f.conversationId });
    if (f.mimeType) {
      const m = f.mimeType.toLowerCase();
      if (m.endsWith("/*")) and.push({ mimeType: { startsWith: m.slice(0, -1) } });
      else and.push({ mimeType: m });
    }
    if (f.retention) {
      const r = f.retention;
      if (r.kind === "NONE") and.push({ retentionAt: null });
      else if (r.kind === "EXPIRED") and.push({ retentionAt: { lte: now } });
      else if (r.kind === "ACTIVE") and.push({ OR: [{ retentionAt: null }, { retentionAt: { gt: now } }] });
      else {
        const days = r.days ?? 0;
        if (!Number.isInteger(days) || days < 1 || days > RETENTION_DAYS_MAX) throw errors.badInput("EXPIRING_WITHIN needs days (1 to 36500)");
        and.push({ retentionAt: { gt: now, lte: new Date(now.getTime() + days * 86_400_000) } });
      }
    }
    const dir = order.direction === "ASC" ? "asc" : "desc";
    const cmp = dir === "asc" ? "gt" : "lt";
    if (options.after) {
      const c = decodeCursor(options.after);
      const v = order.field === "SIZE" ? BigInt(c.v) : new Date(c.v);
      const key = order.field === "SIZE" ? "size" : "createdAt";
      and.push({ OR: [{ [key]: { [cmp]: v } }, { [key]: v, id: { [cmp]: c.id } }] });
    }
    const rows = await prisma.attachment.findMany({
      where: { AND: and },
      orderBy: order.field === "SIZE" ? [{ size: dir }, { id: dir }] : [{ createdAt: dir }, { id: dir }],
      take: first + 1,
      include: { blob: true },
    });
    const items = rows.slice(0, first);
    const last = items.at(-1);
    const nextCursor =
      rows.length > first && last ? encodeCursor({ v: order.field === "SIZE" ? String(last.size) : last.createdAt.toISOString(), id: last.id }) : null;
    return { items, nextCursor };
  }

  return { setAttachmentRetention, retentionOf, deleteAttachment, softDeleteAttachment, restoreAttachment, listAttachments };
}
