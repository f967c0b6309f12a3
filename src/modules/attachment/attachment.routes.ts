// REST routes of chat attachments under /api/v1/agent/attachments (the agent
// SDK's): presigned uploads, completion, download URLs.
import type { FastifyInstance } from "fastify";
import { errorResponses, viewerOf } from "../../http/rest.ts";
import type { AttachmentService } from "./attachment.service.ts";
import { type AttachmentAdminService, type AttachmentFilter, LIST_PAGE_MAX } from "./attachment-admin.service.ts";

const tags = ["attachments"];

const PRESIGNED_BODY = {
  type: "object",
  required: ["filename", "mimeType", "conversationId"],
  additionalProperties: false,
  properties: {
    conversationId: { type: "string", description: "The conversation (cnv_…); you must be a participant with conversations:write" },
    filename: { type: "string", maxLength: 255 },
    mimeType: { type: "string", description: "Must be in ATTACHMENT_MIME_TYPES" },
    size: {
      type: "integer",
      minimum: 0,
      description:
        "Exact byte length; the URL is bound to it. Optional: without it the URL takes up to the organization's max file size, and the real size is billed on completion",
    },
    sha256: { type: "string", description: "Hex sha256; the store then refuses other bytes" },
  },
} as const;

const PRESIGNED_ANSWER = {
  type: "object",
  description: "PUT the bytes to url with exactly these headers before expiresAt; a later PUT answers 403",
  properties: {
    attachmentId: { type: "string" },
    url: { type: "string" },
    method: { type: "string", enum: ["PUT"] },
    headers: { type: "object", additionalProperties: { type: "string" } },
    expiresAt: { type: "string", format: "date-time" },
  },
  required: ["attachmentId", "url", "method", "headers", "expiresAt"],
} as const;

export const ATTACHMENT_SCHEMA = {
  type: "object",
  properties: {
    id: { type: "string" },
    conversationId: { type: "string" },
    messageId: { type: ["string", "null"] },
    uploaderId: { type: ["string", "null"] },
    filename: { type: "string" },
    mimeType: { type: "string" },
    size: { type: "integer" },
    uploaded: { type: "boolean" },
    available: { type: "boolean" },
    retentionAt: { type: ["string", "null"], format: "date-time" },
    deletedAt: { type: ["string", "null"], format: "date-time" },
    createdAt: { type: "string", format: "date-time" },
  },
  required: ["id", "conversationId", "messageId", "filename", "mimeType", "size", "uploaded", "available", "retentionAt", "deletedAt", "createdAt"],
} as const;

const ID_PARAMS = { type: "object", required: ["attachmentId"], properties: { attachmentId: { type: "string" } } } as const;
const STORE_ERRORS = ["STORAGE_UNAVAILABLE", "STORAGE_NOT_CONFIGURED"] as const;

const RETENTION_BODY = {
  type: "object",
  additionalProperties: false,
  description: "Either { spaceId, retentionDays } (the space default; null keeps) or { attachmentId, retentionAt } (an override; null keeps it)",
  properties: {
    spaceId: { type: "string" },
    retentionDays: { type: ["integer", "null"], minimum: 1 },
    attachmentId: { type: "string" },
    retentionAt: { type: ["string", "null"], format: "date-time" },
  },
} as const;

const LIST_QUERY = {
  type: "object",
  required: ["spaceId"],
  properties: {
    spaceId: { type: "string" },
    uploadedBy: { type: "string" },
    mimeType: { type: "string", description: "Exact (image/png) or a prefix (image/*)" },
    retention: { type: "string", enum: ["ACTIVE", "EXPIRING_WITHIN", "EXPIRED", "NONE"] },
    days: { type: "integer", minimum: 1, description: "For retention=EXPIRING_WITHIN" },
    deleted: { type: "boolean", default: false },
    conversationId: { type: "string" },
    orderBy: { type: "string", enum: ["CREATED_AT", "SIZE"], default: "CREATED_AT" },
    direction: { type: "string", enum: ["ASC", "DESC"], default: "DESC" },
    first: { type: "integer", minimum: 1, maximum: LIST_PAGE_MAX, default: 50 },
    after: { type: "string", description: "nextCursor of the previous page" },
  },
} as const;

type ListQuery = {
  spaceId: string;
  uploadedBy?: string;
  mimeType?: string;
  retention?: "ACTIVE" | "EXPIRING_WITHIN" | "EXPIRED" | "NONE";
  days?: number;
  deleted?: boolean;
  conversationId?: string;
  orderBy?: "CREATED_AT" | "SIZE";
  direction?: "ASC" | "DESC";
  first?: number;
  after?: string;
};

export async function registerAttachmentRoutes(
  api: FastifyInstance,
  deps: { attachments: AttachmentService; attachmentAdmin: AttachmentAdminService },
): Promise<void> {
  const { attachments, attachmentAdmin } = deps;

  api.patch<{ Body: { spaceId?: string; retentionDays?: number | null; attachmentId?: string; retentionAt?: string | null } }>(
    "/agent/attachments/retention",
    {
      schema: {
        tags,
        operationId: "setAttachmentRetention",
        summary: "Set the space's attachment retention (recomputes retentionAt of attachments without an override) or one attachment's retentionAt",
        body: RETENTION_BODY,
        response: {
          200: {
            description: "The space default now, and how many attachments got a new retentionAt",
            type: "object",
            properties: {
              spaceId: { type: "string" },
              retentionDays: { type: ["integer", "null"] },
              attachmentId: { type: ["string", "null"] },
              updated: { type: "integer" },
            },
            required: ["spaceId", "retentionDays", "attachmentId", "updated"],
          },
          ...errorResponses("UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND", "BAD_USER_INPUT"),
        },
      },
    },
    async (req) => {
      const b = req.body;
      return attachmentAdmin.setAttachmentRetention(viewerOf(req), {
        spaceId: b.spaceId ?? null,
        retentionDays: b.retentionDays,
        attachmentId: b.attachmentId ?? null,
        retentionAt: b.retentionAt ? new Date(b.retentionAt) : b.retentionAt === null ? null : undefined,
      });
    },
  );

  api.get<{ Querystring: ListQuery }>(
    "/agent/attachments",
    {
      schema: {
        tags,
        operationId: "listAttachments",
        summary: "The space's attachments for operators (attachments:manage or space admins), newest first, keyset-paginated",
        querystring: LIST_QUERY,
        response: {
          200: {
            description: "One page of the space's attachments",
            type: "object",
            properties: { items: { type: "array", items: ATTACHMENT_SCHEMA }, nextCursor: { type: ["string", "null"] } },
            required: ["items", "nextCursor"],
          },
          ...errorResponses("UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND", "BAD_USER_INPUT"),
        },
      },
    },
    async (req) => {
      const q = req.query;
      const filter: AttachmentFilter = {
        uploadedBy: q.uploadedBy ?? null,
        mimeType: q.mimeType ?? null,
        retention: q.retention ? { kind: q.retention, days: q.days ?? null } : null,
        deleted: q.deleted ?? false,
        conversationId: q.conversationId ?? null,
      };
      const page = await attachmentAdmin.listAttachments(viewerOf(req), q.spaceId, {
        filter,
        orderBy: { field: q.orderBy ?? "CREATED_AT", direction: q.direction ?? "DESC" },
        first: q.first ?? 50,
        after: q.after ?? null,
      });
      return { items: page.items.map(attachmentJson), nextCursor: page.nextCursor };
    },
  );

  api.delete<{ Params: { attachmentId: string } }>(
    "/agent/attachments/:attachmentId",
    {
      schema: {
        tags,
        operationId: "deleteAttachment",
        summary: "Hard delete now: bytes purged, quota given back (its uploader, or attachment managers)",
        params: ID_PARAMS,
        response: {
          200: { description: "Deleted; the bytes are gone", type: "object", properties: { id: { type: "string" } }, required: ["id"] },
          ...errorResponses("UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND"),
        },
      },
    },
    async (req) => attachmentAdmin.deleteAttachment(viewerOf(req), req.params.attachmentId),
  );

  api.post<{ Body: { conversationId: string; filename: string; mimeType: string; size?: number; sha256?: string } }>(
    "/agent/attachments/presigned",
    {
      schema: {
        tags,
        operationId: "createAttachmentUpload",
        summary: "Start an attachment upload: a presigned PUT (ATTACHMENT_UPLOAD_EXPIRES_SECONDS, 15 minutes by default)",
        body: PRESIGNED_BODY,
        response: {
          200: PRESIGNED_ANSWER,
          ...errorResponses("UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND", "BAD_USER_INPUT", "LIMITS_REACHED", "UNSUPPORTED_MEDIA_TYPE", ...STORE_ERRORS),
        },
      },
    },
    async (req) => {
      const { attachment, uploadRequest } = await attachments.createAttachmentUpload(viewerOf(req), req.body);
      return { attachmentId: attachment.id, ...uploadRequest };
    },
  );

  api.post<{ Params: { attachmentId: string } }>(
    "/agent/attachments/:attachmentId/complete",
    {
      schema: {
        tags,
        operationId: "completeAttachmentUpload",
        summary: "Check the uploaded bytes (size, sha256, sniffed type); idempotent (the disk store completes uploads itself)",
        params: ID_PARAMS,
        response: {
          200: { ...ATTACHMENT_SCHEMA, description: "The attachment, uploaded" },
          ...errorResponses("UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND", "UPLOAD_INCOMPLETE", "LIMITS_REACHED", "UNSUPPORTED_MEDIA_TYPE", ...STORE_ERRORS),
        },
      },
    },
    async (req) => attachmentJson(await attachments.completeAttachmentUpload(viewerOf(req), req.params.attachmentId)),
  );

  api.get<{ Params: { attachmentId: string } }>(
    "/agent/attachments/:attachmentId",
    {
      schema: {
        tags,
        operationId: "getAttachment",
        summary: "An attachment with a presigned downloadUrl (null when deleted, past retention or not uploaded)",
        params: ID_PARAMS,
        response: {
          200: {
            ...ATTACHMENT_SCHEMA,
            description: "The attachment and, when it is available, a presigned download URL",
            properties: { ...ATTACHMENT_SCHEMA.properties, downloadUrl: { type: ["string", "null"] } },
            required: [...ATTACHMENT_SCHEMA.required, "downloadUrl"],
          },
          ...errorResponses("UNAUTHENTICATED", "NOT_FOUND", ...STORE_ERRORS),
        },
      },
    },
    async (req) => {
      const attachment = await attachments.readable(viewerOf(req), req.params.attachmentId);
      return { ...attachmentJson(attachment), downloadUrl: (await attachments.downloadUrl(attachment))?.url ?? null };
    },
  );
}

type AttachmentRow = Awaited<ReturnType<AttachmentService["readable"]>>;

export function attachmentJson(a: AttachmentRow) {
  const now = Date.now();
  return {
    id: a.id,
    conversationId: a.conversationId,
    messageId: a.messageId,
    uploaderId: a.uploaderId,
    filename: a.filename,
    mimeType: a.mimeType,
    size: Number(a.size),
    uploaded: a.blob?.status === "READY",
    available: !a.deletedAt && a.blob?.status === "READY" && (!a.retentionAt || a.retentionAt.getTime() > now),
    retentionAt: a.retentionAt?.toISOString() ?? null,
    deletedAt: a.deletedAt?.toISOString() ?? null,
    createdAt: a.createdAt.toISOString(),
  };
}
