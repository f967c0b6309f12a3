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
