// Message type, postMessage, appendMessageDelta, completeMessage, editMessage, deleteMessage.
import { assertRoomRead, loadMessageAccess } from "../../access/room-access.ts";
import { builder } from "../../graphql/builder.ts";
import { registerNodeLoader } from "../node/node-registry.ts";

export const MessageRoleEnum = builder.enumType("MessageRole", { values: ["USER", "AGENT", "SYSTEM"] as const });

export const MessageStatusEnum = builder.enumType("MessageStatus", {
  values: {
    STREAMING: { description: "Its author is still appending deltas (appendMessageDelta, then completeMessage)." },
    COMPLETE: { description: "Final. `interrupted` tells whether its author completed it or the stale-stream job did." },
  } as const,
});

export const MessageRef = builder.prismaNode("Message", {
  id: { field: "id" },
  fields: (t) => ({
    conversationId: t.exposeID("conversationId"),
    seq: t.expose("seq", { type: "SafeInt", description: "1, 2, 3… gap-free within the conversation, in posting order." }),
    authorId: t.exposeID("authorId", { nullable: true }),
    author: t.relation("author", { nullable: true }),
    role: t.expose("role", { type: MessageRoleEnum }),
    text: t.string({ nullable: true, description: "Plain text or Markdown; null once deleted.", resolve: (m) => (m.deletedAt ? null : m.text) }),
    data: t.field({ type: "JSON", nullable: true, resolve: (m) => (m.deletedAt ? null : (m.data ?? null)) }),
    attachmentIds: t.exposeIDList("attachmentIds", {
      description: "The message's attachments (att_… ids, in the order posted); Message.attachments resolves them.",
    }),
    status: t.expose("status", { type: MessageStatusEnum }),
    interrupted: t.exposeBoolean("interrupted", { description: "A STREAMING message completed by the stale-stream job, not by its author." }),
    clientMessageId: t.exposeString("clientMessageId", { nullable: true }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    editedAt: t.expose("editedAt", { type: "DateTime", nullable: true }),
    deletedAt: t.expose("deletedAt", { type: "DateTime", nullable: true }),
    deleted: t.boolean({ description: "A tombstone: the message was deleted (text and data are gone).", resolve: (m) => m.deletedAt !== null }),
  }),
});

registerNodeLoader("Message", [MessageRef], async (id, viewer, ctx) => {
  const access = await loadMessageAccess(ctx.prisma, viewer, id);
  try {
    assertRoomRead(viewer, access, "Message");
  } catch {
    return null;
  }
  return { type: MessageRef, node: await ctx.prisma.message.findUniqueOrThrow({ where: { id } }) };
});

const PostMessageInput = builder.inputType("PostMessageInput", {
  fields: (t) => ({
    conversationId: t.id(),
    text: t.string({ required: false, description: "Plain text or Markdown, at most 32768 characters." }),
    data: t.field({ type: "JSON", required: false, description: "Structured data, at most 16384 bytes as JSON." }),
    attachmentIds: t.idList({
      required: false,
      description:
        "Your own completed, unbound attachments of this conversation (createAttachmentUpload), bound to the message in the posting transaction; anything else refuses the post (BAD_USER_INPUT, reason ATTACHMENT_NOT_BINDABLE).",
    }),
    clientMessageId: t.string({
      required: false,
      description: "Idempotency key (1-200 characters): a retry with the same key by the same author returns the original message.",
    }),
    role: t.field({ type: MessageRoleEnum, required: false, description: "Users always post USER; service accounts AGENT (default) or SYSTEM." }),
    streaming: t.boolean({ required: false, description: "Post as STREAMING, then appendMessageDelta and completeMessage." }),
  }),
});

const AppendMessageDeltaInput = builder.inputType("AppendMessageDeltaInput", {
  fields: (t) => ({ messageId: t.id(), delta: t.string({ description: "At most 4096 characters." }) }),
});

const CompleteMessageInput = builder.inputType("CompleteMessageInput", {
  fields: (t) => ({ messageId: t.id(), text: t.string({ required: false, description: "The final text, replacing what the deltas built." }) }),
});

const EditMessageInput = builder.inputType("EditMessageInput", {
  fields: (t) => ({ id: t.id(), text: t.string({ required: false }), data: t.field({ type: "JSON", required: false }) }),
});

builder.mutationFields((t) => ({
  postMessage: t.prismaField({
    type: MessageRef,
    description:
      "Posts a message (conversations:write and membership; not OBSERVERs). Its seq is assigned in the posting transaction; " +
      "conversation.message_posted names the autoRespond participants it triggers. RATE_LIMITED past the per-account limit.",
    args: { input: t.arg({ type: PostMessageInput }) },
    resolve: async (query, _root, { input }, ctx) => {
      const m = await ctx.deps.services.messages.postMessage(await ctx.viewer(), input);
      return ctx.prisma.message.findUniqueOrThrow({ ...query, where: { id: m.id } });
    },
  }),
  appendMessageDelta: t.prismaField({
    type: MessageRef,
    description: "Appends text to the caller's STREAMING message; subscribers receive it as conversation.message_appended.",
    args: { input: t.arg({ type: AppendMessageDeltaInput }) },
    resolve: async (query, _root, { input }, ctx) => {
      const m = await ctx.deps.services.messages.appendMessageDelta(await ctx.viewer(), input);
      return ctx.prisma.message.findUniqueOrThrow({ ...query, where: { id: m.id } });
    },
  }),
  completeMessage: t.prismaField({
    type: MessageRef,
    description: "Completes the caller's STREAMING message (MESSAGE_NOT_STREAMING when it is not).",
    args: { input: t.arg({ type: CompleteMessageInput }) },
    resolve: async (query, _root, { input }, ctx) => {
      const m = await ctx.deps.services.messages.completeMessage(await ctx.viewer(), input);
      return ctx.prisma.message.findUniqueOrThrow({ ...query, where: { id: m.id } });
    },
  }),
  editMessage: t.prismaField({
    type: MessageRef,
    description: "Changes the caller's own message; editedAt is set.",
    args: { input: t.arg({ type: EditMessageInput }) },
    resolve: async (query, _root, { input }, ctx) => {
      const m = await ctx.deps.services.messages.editMessage(await ctx.viewer(), input);
      return ctx.prisma.message.findUniqueOrThrow({ ...query, where: { id: m.id } });
    },
  }),
  deleteMessage: t.prismaField({
    type: MessageRef,
    description: "Leaves a tombstone (its author, the room's OWNER or a space admin): history shows it as deleted.",
    args: { id: t.arg.id() },
    resolve: async (query, _root, args, ctx) => {
      const m = await ctx.deps.services.messages.deleteMessage(await ctx.viewer(), args.id);
      return ctx.prisma.message.findUniqueOrThrow({ ...query, where: { id: m.id } });
    },
  }),
}));
