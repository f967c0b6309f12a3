// Conversation type (history keyset-paged by seq, read horizon, unread count),
// conversation(id), createConversation, markRead, and the conversationEvents
// and agentEvents subscriptions.
import { assertRoomRead, assertRoomWrite, loadConversationAccess } from "../../access/room-access.ts";
import { errors } from "../../errors.ts";
import type { StreamItem } from "../../events/event-stream.ts";
import { builder } from "../../graphql/builder.ts";
import type { Message } from "../../generated/prisma/client.ts";
import { MessageRef } from "../message/message.graphql.ts";
import { registerNodeLoader } from "../node/node-registry.ts";
import { ConversationEventRef, streamResolve } from "./conversation-event.graphql.ts";
import { openAgentEvents, openConversationEvents } from "./conversation-streams.ts";
import { TYPING_TTL_MS, type TypingEvent } from "./typing.ts";

const DEFAULT_PAGE = 50;
const MAX_PAGE = 200;

const seqCursor = (cursor: string | null | undefined, what: string): bigint | null => {
  if (cursor == null) return null;
  if (!/^[0-9]{1,15}$/.test(cursor)) throw errors.badInput(`${what} is not a message cursor`, { cursor: cursor.slice(0, 64) });
  return BigInt(cursor);
};

export const ConversationRef = builder.prismaNode("Conversation", {
  id: { field: "id" },
  fields: (t) => ({
    roomId: t.exposeID("roomId"),
    room: t.relation("room"),
    title: t.exposeString("title", { nullable: true }),
    createdById: t.exposeID("createdById", { nullable: true }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    lastActivityAt: t.expose("lastActivityAt", { type: "DateTime" }),
    lastSeq: t.expose("lastSeq", { type: "SafeInt", description: "The newest message's seq (0: no messages yet)." }),
    messages: t.connection({
      type: MessageRef,
      description:
        "The history, keyset-paged by seq; edges are in seq order. `last` (with `before`) pages back from the newest, the common case; " +
        "`first` (with `after`) pages forward. Without either: the newest 50. Deleted messages stay as tombstones.",
      resolve: async (conversation, args, ctx) => {
        if (args.first != null && args.last != null) throw errors.badInput("Pass first or last, not both");
        const size = args.first ?? args.last ?? DEFAULT_PAGE;
        if (size < 0 || size > MAX_PAGE) throw errors.badInput(`Page size must be between 0 and ${MAX_PAGE}`);
        const after = seqCursor(args.after, "after");
        const before = seqCursor(args.before, "before");
        const forward = args.first != null || (args.last == null && args.after != null);
        const lastSeq = conversation.lastSeq;
        let rows: Message[];
        let hasPreviousPage: boolean;
        let hasNextPage: boolean;
        const seq = { ...(after !== null ? { gt: after } : {}), ...(before !== null ? { lt: before } : {}) };
        if (forward) {
          rows = await ctx.prisma.message.findMany({ where: { conversationId: conversation.id, seq }, orderBy: { seq: "asc" }, take: size + 1 });
          hasNextPage = rows.length > size;
          rows = rows.slice(0, size);
          // Seqs are gap-free from 1: something precedes `after` exactly when after >= 1.
          hasPreviousPage = after !== null && after >= 1n;
        } else {
          rows = await ctx.prisma.message.findMany({ where: { conversationId: conversation.id, seq }, orderBy: { seq: "desc" }, take: size + 1 });
          hasPreviousPage = rows.length > size;
          rows = rows.slice(0, size).reverse();
          hasNextPage = before !== null && before <= lastSeq;
        }
        const edges = rows.map((m) => ({ cursor: String(m.seq), node: m }));
        return {
          edges,
          pageInfo: { hasPreviousPage, hasNextPage, startCursor: edges[0]?.cursor ?? null, endCursor: edges.at(-1)?.cursor ?? null },
        };
      },
    }),
    readSeq: t.field({
      type: "SafeInt",
      description: "The caller's read horizon: the highest seq it marked read (0: none).",
      resolve: async (conversation, _args, ctx) => {
        const viewer = await ctx.viewer();
        const row = await ctx.prisma.conversationRead.findUnique({
          where: { conversationId_accountId: { conversationId: conversation.id, accountId: viewer.accountId } },
        });
        return row?.readSeq ?? 0n;
      },
    }),
    unreadCount: t.int({
      description: "Messages after the caller's read horizon, not deleted, by others.",
      resolve: async (conversation, _args, ctx) => {
        const viewer = await ctx.viewer();
        const [row] = await ctx.prisma.$queryRaw<{ n: number }[]>`
          SELECT count(*)::int AS n FROM messages m
           WHERE m.conversation_id = ${conversation.id} AND m.deleted_at IS NULL AND m.author_id IS DISTINCT FROM ${viewer.accountId}
             AND m.seq > coalesce((SELECT read_seq FROM conversation_reads WHERE conversation_id = ${conversation.id} AND account_id = ${viewer.accountId}), 0)`;
        return row!.n;
      },
    }),
  }),
});

registerNodeLoader("Conversation", [ConversationRef], async (id, viewer, ctx) => {
  const access = await loadConversationAccess(ctx.prisma, viewer, id);
  try {
    assertRoomRead(viewer, access, "Conversation");
  } catch {
    return null;
  }
  return { type: ConversationRef, node: await ctx.prisma.conversation.findUniqueOrThrow({ where: { id } }) };
});

const CreateConversationInput = builder.inputType("CreateConversationInput", {
  fields: (t) => ({ roomId: t.id(), title: t.string({ required: false }) }),
});

const MarkReadInput = builder.inputType("MarkReadInput", {
  fields: (t) => ({ conversationId: t.id(), seq: t.field({ type: "SafeInt" }) }),
});

const ReadHorizonRef = builder.objectRef<{ conversationId: string; seq: number }>("ReadHorizon").implement({
  fields: (t) => ({
    conversationId: t.exposeID("conversationId"),
    seq: t.field({ type: "SafeInt", description: "The caller's horizon now (markRead never moves it back).", resolve: (h) => h.seq }),
  }),
});

builder.queryFields((t) => ({
  conversation: t.prismaField({
    type: ConversationRef,
    nullable: true,
    args: { id: t.arg.id() },
    resolve: async (query, _root, args, ctx) => {
      const viewer = await ctx.viewer();
      const access = await loadConversationAccess(ctx.prisma, viewer, args.id);
      try {
        assertRoomRead(viewer, access, "Conversation");
      } catch {
        return null;
      }
      return ctx.prisma.conversation.findUnique({ ...query, where: { id: args.id } });
    },
  }),
}));

builder.mutationFields((t) => ({
  createConversation: t.prismaField({
    type: ConversationRef,
    description: "A new thread in a room (conversations:write and membership). Records conversation.created.",
    args: { input: t.arg({ type: CreateConversationInput }) },
    resolve: async (query, _root, { input }, ctx) => {
      const c = await ctx.deps.services.conversations.createConversation(await ctx.viewer(), input);
      return ctx.prisma.conversation.findUniqueOrThrow({ ...query, where: { id: c.id } });
    },
  }),
  markRead: t.field({
    type: ReadHorizonRef,
    description: "Moves the caller's read horizon forward to `seq` (a participant holding conversations:read); never back.",
    args: { input: t.arg({ type: MarkReadInput }) },
    resolve: async (_root, { input }, ctx) => ctx.deps.services.messages.markRead(await ctx.viewer(), input),
  }),
}));

const TypingEventRef = builder.objectRef<TypingEvent>("TypingEvent").implement({
  description: "Someone started typing (typing: true, until expiresAt unless renewed) or stopped (typing: false, the indicator expired).",
  fields: (t) => ({
    conversationId: t.exposeID("conversationId"),
    accountId: t.exposeID("accountId"),
    typing: t.exposeBoolean("typing"),
    expiresAt: t.expose("expiresAt", { type: "DateTime", nullable: true }),
  }),
});

builder.mutationFields((t) => ({
  setTyping: t.boolean({
    description: `Shows the caller as typing in the conversation for ${TYPING_TTL_MS / 1000} s (participants with conversations:write). Ephemeral: not in the event log, no replay. A renewal within 2 s is absorbed (false), so calling it on every keystroke is fine.`,
    args: { conversationId: t.arg.id() },
    resolve: async (_root, args, ctx) => {
      const viewer = await ctx.viewer();
      const access = await loadConversationAccess(ctx.prisma, viewer, args.conversationId);
      assertRoomWrite(viewer, access, "Conversation");
      return ctx.deps.typing.send(args.conversationId, viewer.accountId);
    },
  }),
}));

builder.subscriptionFields((t) => ({
  typing: t.field({
    type: TypingEventRef,
    description: "Typing indicators of a conversation, live only (readers of the conversation).",
    args: { conversationId: t.arg.id() },
    subscribe: async (_root, args, ctx) => {
      const viewer = await ctx.viewer();
      const access = await loadConversationAccess(ctx.prisma, viewer, args.conversationId);
      assertRoomRead(viewer, access, "Conversation");
      return ctx.deps.typing.subscribe(args.conversationId);
    },
    resolve: (e: TypingEvent) => e,
  }),
  conversationEvents: t.field({
    type: ConversationEventRef,
    description:
      "A conversation's messages posted, appended (streaming deltas), completed, edited and deleted, and read horizons, in commit order. " +
      "With `after` (an event's `cursor`): the stored events after it, then live ones, none missed or repeated, across processes; " +
      "CURSOR_EXPIRED past retention. Losing access ends the subscription with an error.",
    args: { conversationId: t.arg.id(), after: t.arg.string({ required: false }) },
    subscribe: async (_root, args, ctx): Promise<AsyncIterable<StreamItem>> =>
      openConversationEvents({ prisma: ctx.prisma, events: ctx.deps.events }, await ctx.viewer(), args),
    resolve: streamResolve,
  }),
  agentEvents: t.field({
    type: ConversationEventRef,
    description:
      "Every conversation and room event of the rooms the caller takes part in (space admins: all rooms of the space), " +
      'optionally only `types` (e.g. ["conversation.message_posted"]): the feed an agent\'s runner follows. Requires conversations:read. ' +
      "Replay with `after` as for conversationEvents.",
    args: { spaceId: t.arg.id(), after: t.arg.string({ required: false }), types: t.arg.stringList({ required: false }) },
    subscribe: async (_root, args, ctx): Promise<AsyncIterable<StreamItem>> =>
      openAgentEvents({ prisma: ctx.prisma, events: ctx.deps.events }, await ctx.viewer(), args),
    resolve: streamResolve,
  }),
}));
