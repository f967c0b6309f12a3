// ConversationEvent: what conversationEvents, roomEvents and agentEvents
// deliver. Every field is read from the event's stored payload (never from the
// current rows), so a replay shows what happened then, and a thousand
// subscribers cost no query per event.
import { encodeCursor } from "../../events/event-log.ts";
import { isStreamEnd, type StreamItem } from "../../events/event-stream.ts";
import type { StoredEvent } from "../../events/event-types.ts";
import { builder } from "../../graphql/builder.ts";
import type { ConversationEventPayloads, ConversationEventType } from "./conversation.events.ts";

export type ConversationStoredEvent = StoredEvent & { type: ConversationEventType };

type AnyPayload = Partial<
  ConversationEventPayloads["conversation.message_posted"] &
    ConversationEventPayloads["conversation.message_completed"] &
    ConversationEventPayloads["conversation.message_edited"] &
    ConversationEventPayloads["conversation.message_appended"] &
    ConversationEventPayloads["conversation.message_deleted"] &
    ConversationEventPayloads["conversation.created"] &
    ConversationEventPayloads["room.participant_joined"]
>;

const p = (e: ConversationStoredEvent) => e.payload as AnyPayload;

/** The subscription resolver: a stream's last item is the error that ended it. */
export const streamResolve = (item: StreamItem) => {
  if (isStreamEnd(item)) throw item.end;
  return item as ConversationStoredEvent;
};

const SuppressedTriggerRef = builder.objectRef<{ accountId: string; reason: string }>("SuppressedTrigger").implement({
  description: "An autoRespond participant a message did not trigger, and why.",
  fields: (t) => ({
    accountId: t.exposeID("accountId"),
    reason: t.exposeString("reason", {
      description: "AUTHOR: it wrote the message. CHAIN_DEPTH: the message continues a chain of non-user messages as deep as CONVERSATION_AGENT_CHAIN_DEPTH.",
    }),
  }),
});

export const ConversationEventRef = builder.objectRef<ConversationStoredEvent>("ConversationEvent").implement({
  description:
    "An event of a conversation or room, as the event log recorded it. `type` is one of the stable names " +
    "conversation.created, conversation.message_posted, conversation.message_appended, conversation.message_completed, " +
    "conversation.message_edited, conversation.message_deleted, conversation.read, room.participant_joined, room.participant_updated, room.participant_left " +
    "(README, Conversations). Fields that do not apply to a type are null.",
  fields: (t) => ({
    cursor: t.string({ description: "This event's position in the log: pass it as `after` to resume right after it.", resolve: (e) => encodeCursor(e.id) }),
    type: t.string({ resolve: (e) => e.type }),
    at: t.field({ type: "DateTime", resolve: (e) => e.createdAt }),
    spaceId: t.id({ resolve: (e) => e.spaceId! }),
    roomId: t.id({ resolve: (e) => p(e).roomId! }),
    conversationId: t.id({ nullable: true, resolve: (e) => p(e).conversationId ?? null }),
    messageId: t.id({ nullable: true, resolve: (e) => p(e).messageId ?? null }),
    seq: t.field({
      type: "SafeInt",
      nullable: true,
      description: "The message's seq; for conversation.read, the new read horizon.",
      resolve: (e) => p(e).seq ?? null,
    }),
    authorId: t.id({ nullable: true, resolve: (e) => p(e).authorId ?? null }),
    role: t.string({ nullable: true, description: "The message's role: USER, AGENT or SYSTEM.", resolve: (e) => p(e).role ?? null }),
    status: t.string({ nullable: true, description: "The message's status: STREAMING or COMPLETE.", resolve: (e) => p(e).status ?? null }),
    text: t.string({ nullable: true, description: "The message's text (posted, completed, edited).", resolve: (e) => p(e).text ?? null }),
    data: t.field({ type: "JSON", nullable: true, resolve: (e) => p(e).data ?? null }),
    attachmentIds: t.idList({ nullable: true, resolve: (e) => p(e).attachmentIds ?? null }),
    clientMessageId: t.string({ nullable: true, resolve: (e) => p(e).clientMessageId ?? null }),
    delta: t.string({ nullable: true, description: "conversation.message_appended: the text appended.", resolve: (e) => p(e).delta ?? null }),
    offset: t.int({ nullable: true, description: "conversation.message_appended: where the delta starts in the text.", resolve: (e) => p(e).offset ?? null }),
    interrupted: t.boolean({
      nullable: true,
      description: "conversation.message_completed: true when the stale-stream job completed it.",
      resolve: (e) => p(e).interrupted ?? null,
    }),
    editedAt: t.field({ type: "DateTime", nullable: true, resolve: (e) => (p(e).editedAt ? new Date(p(e).editedAt!) : null) }),
    title: t.string({ nullable: true, resolve: (e) => (e.type === "conversation.created" ? (p(e).title ?? null) : null) }),
    accountId: t.id({ nullable: true, description: "Participant events and conversation.read: the account.", resolve: (e) => p(e).accountId ?? null }),
    participantRole: t.string({
      nullable: true,
      resolve: (e) => (e.type.startsWith("room.participant_") ? ((e.payload as { role?: string }).role ?? null) : null),
    }),
    autoRespond: t.boolean({ nullable: true, resolve: (e) => p(e).autoRespond ?? null }),
    triggers: t.idList({
      nullable: true,
      description: "conversation.message_posted: the autoRespond participants whose flow should answer.",
      resolve: (e) => p(e).triggers ?? null,
    }),
    suppressed: t.field({
      type: [SuppressedTriggerRef],
      nullable: true,
      description: "conversation.message_posted: autoRespond participants not triggered, and why.",
      resolve: (e) => p(e).suppressed ?? null,
    }),
    chainDepth: t.int({
      nullable: true,
      description: "conversation.message_posted: consecutive non-user messages ending with this one (0 for a user's).",
      resolve: (e) => p(e).chainDepth ?? null,
    }),
    createdById: t.id({ nullable: true, resolve: (e) => p(e).createdById ?? null }),
    deletedById: t.id({ nullable: true, resolve: (e) => p(e).deletedById ?? null }),
  }),
});
