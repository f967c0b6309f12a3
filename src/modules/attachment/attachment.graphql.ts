// Attachment type, Message.attachments, createAttachmentUpload,
// renewAttachmentUpload and completeAttachmentUpload.
import { builder } from "../../graphql/builder.ts";
import { UploadRequestRef, type UploadRequestShape } from "../asset/asset.graphql.ts";
import { isAvailable } from "./attachment.service.ts";

export const AttachmentRef = builder.prismaObject("Attachment", {
  description: "A file dropped into a conversation: a blob of the space, bound to the message that posted it.",
  include: { blob: true },
  fields: (t) => ({
    id: t.exposeID("id"),
    conversationId: t.exposeID("conversationId"),
    messageId: t.exposeID("messageId", { nullable: true, description: "The message it is bound to; null until postMessage binds it." }),
    uploaderId: t.exposeID("uploaderId", { nullable: true }),
    filename: t.exposeString("filename"),
    mimeType: t.exposeString("mimeType", { description: "The declared type, or the type the bytes were found to have once uploaded." }),
    size: t.expose("size", { type: "SafeInt" }),
    uploaded: t.boolean({ description: "The bytes arrived and were verified.", resolve: (a) => a.blob?.status === "READY" }),
    retentionAt: t.expose("retentionAt", { type: "DateTime", nullable: true, description: "After this it is never handed out again; null keeps it." }),
    deletedAt: t.expose("deletedAt", { type: "DateTime", nullable: true }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    available: t.boolean({ description: "Downloadable now: uploaded, not deleted, not past retentionAt.", resolve: (a) => isAvailable(a, a.blob) }),
    downloadUrl: t.string({
      nullable: true,
      description: "A presigned URL (PRESIGN_DEFAULT_EXPIRES_SECONDS); null when the attachment is not available.",
      args: { expiresIn: t.arg.int({ required: false }) },
      resolve: async (a, args, ctx) => (await ctx.deps.services.attachments.downloadUrl(a, args.expiresIn))?.url ?? null,
    }),
  }),
});

builder.prismaObjectField("Message", "attachments", (t) =>
  t.prismaField({
    type: [AttachmentRef],
    description: "The message's attachments in attachmentIds order (none once the message is deleted).",
    resolve: async (query, m, _args, ctx) => {
      if (m.deletedAt || m.attachmentIds.length === 0) return [];
      const rows = await ctx.prisma.attachment.findMany({ ...query, where: { id: { in: m.attachmentIds }, messageId: m.id }, include: { blob: true } });
      const byId = new Map(rows.map((r) => [r.id, r]));
      return m.attachmentIds.flatMap((id) => byId.get(id) ?? []);
    },
  }),
);

const CreateAttachmentUploadInput = builder.inputType("CreateAttachmentUploadInput", {
  fields: (t) => ({
    conversationId: t.id(),
    filename: t.string({ description: "Shown to participants and used for downloads; 1-255 characters, no slashes." }),
    mimeType: t.string({ description: "Must be in ATTACHMENT_MIME_TYPES (UNSUPPORTED_MEDIA_TYPE otherwise)." }),
    size: t.field({ type: "SafeInt", description: "Exact byte length; the upload URL is bound to it." }),
    sha256: t.string({ required: false, description: "Hex sha256; when given the store refuses other bytes." }),
  }),
});

type AttachmentUploadShape = { attachmentId: string; uploadRequest: UploadRequestShape };

const AttachmentUploadPayload = builder.objectRef<AttachmentUploadShape>("AttachmentUploadPayload").implement({
  description: "PUT the bytes to url with headers (before expiresAt), then completeAttachmentUpload (the disk store completes it itself).",
  fields: (t) => ({
    attachmentId: t.exposeID("attachmentId"),
    attachment: t.prismaField({
      type: AttachmentRef,
      resolve: (query, p, _args, ctx) => ctx.prisma.attachment.findUniqueOrThrow({ ...query, where: { id: p.attachmentId } }),
    }),
    url: t.string({ resolve: (p) => p.uploadRequest.url }),
    method: t.string({ resolve: (p) => p.uploadRequest.method }),
    headers: t.field({ type: "JSON", resolve: (p) => p.uploadRequest.headers }),
    expiresAt: t.field({ type: "DateTime", resolve: (p) => p.uploadRequest.expiresAt }),
    uploadRequest: t.field({ type: UploadRequestRef, resolve: (p) => p.uploadRequest }),
  }),
});

builder.mutationFields((t) => ({
  createAttachmentUpload: t.field({
    type: AttachmentUploadPayload,
    description: "Starts an attachment upload into a conversation (a participant with conversations:write).",
    args: { input: t.arg({ type: CreateAttachmentUploadInput }) },
    resolve: async (_root, { input }, ctx) => {
      const { attachment, uploadRequest } = await ctx.deps.services.attachments.createAttachmentUpload(await ctx.viewer(), input);
      return { attachmentId: attachment.id, uploadRequest };
    },
  }),
  renewAttachmentUpload: t.field({
    type: AttachmentUploadPayload,
    description: "A fresh upload URL for your attachment whose bytes have not arrived.",
    args: { attachmentId: t.arg.id() },
    resolve: async (_root, args, ctx) => {
      const { attachment, uploadRequest } = await ctx.deps.services.attachments.renewAttachmentUpload(await ctx.viewer(), String(args.attachmentId));
      return { attachmentId: attachment.id, uploadRequest };
    },
  }),
  completeAttachmentUpload: t.prismaField({
    type: AttachmentRef,
    description: "Checks the uploaded bytes (size, sha256, sniffed type) and makes the attachment ready to post. Idempotent.",
    args: { attachmentId: t.arg.id() },
    resolve: async (_query, _root, args, ctx) => ctx.deps.services.attachments.completeAttachmentUpload(await ctx.viewer(), String(args.attachmentId)),
  }),
}));

// ---------------------------------------------------------------------------
// Managing: retention, the operator list, soft delete, restore, hard delete

const RetentionKindEnum = builder.enumType("AttachmentRetentionKind", {
  values: {
    ACTIVE: { description: "Not past retentionAt (or kept)." },
    EXPIRING_WITHIN: { description: "retentionAt within the next `days` days." },
    EXPIRED: { description: "Past retentionAt (never handed out; the sweep purges the bytes)." },
    NONE: { description: "No retentionAt: kept." },
  } as const,
});

const RetentionFilterInput = builder.inputType("AttachmentRetentionFilter", {
  fields: (t) => ({
    kind: t.field({ type: RetentionKindEnum }),
    days: t.int({ required: false, description: "For EXPIRING_WITHIN." }),
  }),
});

const AttachmentFilterInput = builder.inputType("AttachmentFilter", {
  fields: (t) => ({
    uploadedBy: t.id({ required: false }),
    mimeType: t.string({ required: false, description: "Exact (image/png) or a prefix (image/*)." }),
    retention: t.field({ type: RetentionFilterInput, required: false }),
    deleted: t.boolean({ required: false, description: "true: only soft-deleted attachments; false (default): the others." }),
    conversationId: t.id({ required: false }),
  }),
});

const AttachmentOrderFieldEnum = builder.enumType("AttachmentOrderField", { values: ["CREATED_AT", "SIZE"] as const });
const AttachmentOrderDirectionEnum = builder.enumType("AttachmentOrderDirection", { values: ["ASC", "DESC"] as const });
const AttachmentOrderInput = builder.inputType("AttachmentOrder", {
  fields: (t) => ({
    field: t.field({ type: AttachmentOrderFieldEnum }),
    direction: t.field({ type: AttachmentOrderDirectionEnum, required: false, defaultValue: "DESC" }),
  }),
});

type AttachmentRow = Parameters<typeof isAvailable>[0] & { id: string; blob: { status: string } | null };
const AttachmentListRef = builder.objectRef<{ items: AttachmentRow[]; nextCursor: string | null }>("AttachmentList").implement({
  fields: (t) => ({
    items: t.field({ type: [AttachmentRef], resolve: (p) => p.items as never }),
    nextCursor: t.exposeString("nextCursor", { nullable: true, description: "Pass as `after` for the next page; null on the last one." }),
  }),
});

builder.prismaObjectFields("Attachment", (t) => ({
  conversation: t.relation("conversation"),
  message: t.relation("message", { nullable: true }),
  uploader: t.relation("uploader", { nullable: true }),
  retentionOverride: t.exposeBoolean("retentionOverride", { description: "retentionAt was set for this attachment (a new space default leaves it)." }),
  expiresInSeconds: t.int({
    nullable: true,
    description: "Seconds until retentionAt (negative once past); null when kept.",
    resolve: (a) => (a.retentionAt ? Math.floor((a.retentionAt.getTime() - Date.now()) / 1000) : null),
  }),
}));

const SetAttachmentRetentionInput = builder.inputType("SetAttachmentRetentionInput", {
  description: "Either { spaceId, retentionDays } (the space default; null keeps attachments) or { attachmentId, retentionAt } (an override; null keeps it).",
  fields: (t) => ({
    spaceId: t.id({ required: false }),
    retentionDays: t.int({ required: false }),
    attachmentId: t.id({ required: false }),
    retentionAt: t.field({ type: "DateTime", required: false }),
  }),
});

const AttachmentRetentionPayload = builder
  .objectRef<{ spaceId: string; retentionDays: number | null; attachmentId: string | null; updated: number }>("AttachmentRetentionPayload")
  .implement({
    fields: (t) => ({
      spaceId: t.exposeID("spaceId"),
      retentionDays: t.exposeInt("retentionDays", { nullable: true, description: "The space default now (null: kept)." }),
      attachmentId: t.exposeID("attachmentId", { nullable: true }),
      updated: t.exposeInt("updated", { description: "Attachments whose retentionAt was set or recomputed." }),
    }),
  });

builder.queryFields((t) => ({
  attachments: t.field({
    type: AttachmentListRef,
    description: "The space's attachments for operators (attachments:manage or space admins).",
    args: {
      spaceId: t.arg.id(),
      filter: t.arg({ type: AttachmentFilterInput, required: false }),
      orderBy: t.arg({ type: AttachmentOrderInput, required: false }),
      first: t.arg.int({ required: false }),
      after: t.arg.string({ required: false }),
    },
    resolve: async (_root, args, ctx) =>
      ctx.deps.services.attachmentAdmin.listAttachments(await ctx.viewer(), String(args.spaceId), {
        filter: args.filter
          ? {
              ...args.filter,
              uploadedBy: args.filter.uploadedBy ? String(args.filter.uploadedBy) : null,
              conversationId: args.filter.conversationId ? String(args.filter.conversationId) : null,
            }
          : null,
        orderBy: args.orderBy ? { field: args.orderBy.field, direction: args.orderBy.direction ?? "DESC" } : null,
        first: args.first,
        after: args.after,
      }),
  }),
  attachmentRetention: t.int({
    nullable: true,
    description: "The space's default attachment retention in days (null: kept). For attachment managers.",
    args: { spaceId: t.arg.id() },
    resolve: async (_root, args, ctx) => ctx.deps.services.attachmentAdmin.retentionOf(await ctx.viewer(), String(args.spaceId)),
  }),
}));

builder.mutationFields((t) => ({
  setAttachmentRetention: t.field({
    type: AttachmentRetentionPayload,
    args: { input: t.arg({ type: SetAttachmentRetentionInput }) },
    resolve: async (_root, { input }, ctx) =>
      ctx.deps.services.attachmentAdmin.setAttachmentRetention(await ctx.viewer(), {
        spaceId: input.spaceId ? String(input.spaceId) : null,
        retentionDays: input.retentionDays,
        attachmentId: input.attachmentId ? String(input.attachmentId) : null,
        retentionAt: input.retentionAt,
      }),
  }),
  deleteAttachment: t.field({
    type: "ID",
    description: "Hard delete now: the bytes are purged and the quota given back (its uploader, or attachment managers).",
    args: { id: t.arg.id() },
    resolve: async (_root, args, ctx) => (await ctx.deps.services.attachmentAdmin.deleteAttachment(await ctx.viewer(), String(args.id))).id,
  }),
  softDeleteAttachment: t.prismaField({
    type: AttachmentRef,
    description: "Never handed out again; restorable until the sweep purges its bytes (ATTACHMENT_RESTORE_DAYS).",
    args: { id: t.arg.id() },
    resolve: async (_q, _root, args, ctx) => ctx.deps.services.attachmentAdmin.softDeleteAttachment(await ctx.viewer(), String(args.id)),
  }),
  restoreAttachment: t.prismaField({
    type: AttachmentRef,
    args: { id: t.arg.id() },
    resolve: async (_q, _root, args, ctx) => ctx.deps.services.attachmentAdmin.restoreAttachment(await ctx.viewer(), String(args.id)),
  }),
}));

// ---------------------------------------------------------------------------
// Conversation.modelInput (README "Model input", decision 51)

const ModelInputFormatEnum = builder.enumType("ModelInputFormat", {
  values: {
    OPENAI_CHAT: { description: "OpenAI Chat Completions: { messages }." },
    OPENAI_RESPONSES: { description: "OpenAI Responses: { input }." },
    ANTHROPIC_MESSAGES: { description: "Anthropic Messages: { system?, messages }." },
  } as const,
});
const ImageDeliveryEnum = builder.enumType("ImageDelivery", {
  values: {
    URL: { description: "Presigned URLs (10 minutes) of the original or a downscaled variant." },
    BASE64: { description: "The (downscaled) bytes inline." },
  } as const,
});
const PdfDeliveryEnum = builder.enumType("PdfDelivery", {
  values: {
    TEXT_AND_PAGES: { description: "Extracted text plus rendered page images (vision)." },
    NATIVE: { description: "The PDF itself as the provider's document/file part." },
  } as const,
});

builder.prismaObjectField("Conversation", "modelInput", (t) =>
  t.field({
    type: "JSON",
    description:
      "The conversation as a provider's request input (messages with their attachments: text inlined or truncated, images as parts or described, PDFs as text and pages or native). Attachments past retention are omitted.",
    args: {
      format: t.arg({ type: ModelInputFormatEnum }),
      vision: t.arg.boolean({ required: false, defaultValue: true }),
      imageDelivery: t.arg({ type: ImageDeliveryEnum, required: false, defaultValue: "URL" }),
      maxInlineTextBytes: t.arg.int({ required: false }),
      upToSeq: t.arg({ type: "SafeInt", required: false }),
      pdf: t.arg({ type: PdfDeliveryEnum, required: false }),
    },
    resolve: async (c, args, ctx) =>
      ctx.deps.services.modelInput.modelInput(await ctx.viewer(), c.id, {
        format: args.format,
        vision: args.vision ?? true,
        imageDelivery: args.imageDelivery ?? "URL",
        ...(args.maxInlineTextBytes !== null && args.maxInlineTextBytes !== undefined ? { maxInlineTextBytes: args.maxInlineTextBytes } : {}),
        ...(args.upToSeq !== null && args.upToSeq !== undefined ? { upToSeq: args.upToSeq } : {}),
        ...(args.pdf ? { pdf: args.pdf } : {}),
      }) as Promise<never>,
  }),
);
