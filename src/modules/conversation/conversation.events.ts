// The conversation half's event types and payloads: the stable names the
// flow engine, agentEvents and webhooks consume (README "Conversations",
// decision 48). Every one is written to the event log in the transaction of
// the change. Types are `noun.pastVerb`; the seed spells the two the flow
// engine starts from: `conversation.created` and `conversation.message_posted`.
//
// Common fields: `roomId` on every event (its room's topic and replay index),
// `conversationId` on every conversation event (ditto). Payloads stay small:
// a message's text is capped (MESSAGE_TEXT_MAX_CHARS), its data too.

export type MessageRoleName = "USER" | "AGENT" | "SYSTEM";
export type MessageStatusName = "STREAMING" | "COMPLETE";
export type ParticipantRoleName = "OWNER" | "MEMBER" | "AGENT" | "OBSERVER";

/** Why an autoRespond participant was not triggered by a message. */
export type SuppressionReason =
  /** The participant wrote the message itself. */
  | "AUTHOR"
  /** The message continues a chain of non-user messages as deep as CONVERSATION_AGENT_CHAIN_DEPTH. */
  | "CHAIN_DEPTH";

/** A message as the events carry it (the state after the change). */
export type MessageFacts = {
  roomId: string;
  conversationId: string;
  messageId: string;
  seq: number;
  authorId: string | null;
  role: MessageRoleName;
  status: MessageStatusName;
  text: string;
  data: unknown;
  attachmentIds: string[];
  clientMessageId: string | null;
};

type ParticipantFacts = { roomId: string; accountId: string; role: ParticipantRoleName; autoRespond: boolean };

export type ConversationEventPayloads = {
  /** subjectId: the conversation. */
  "conversation.created": { roomId: string; conversationId: string; title: string | null; createdById: string };
  /**
   * subjectId: the message. `triggers`: the autoRespond participants other than
   * the author whose flow should start or continue; `suppressed`: those that
   * were not triggered, and why. `chainDepth`: consecutive non-user messages
   * ending with this one (0 for a user's message).
   */
  "conversation.message_posted": MessageFacts & {
    triggers: string[];
    suppressed: { accountId: string; reason: SuppressionReason }[];
    chainDepth: number;
  };
  /** A streamed message grew: `delta` was appended at character `offset`. subjectId: the message. */
  "conversation.message_appended": { roomId: string; conversationId: string; messageId: string; seq: number; offset: number; delta: string };
  /** A STREAMING message is COMPLETE; `text` is its final text. `interrupted`: completed by the stale-stream job. */
  "conversation.message_completed": MessageFacts & { interrupted: boolean };
  "conversation.message_edited": MessageFacts & { editedAt: string };
  /** The message is a tombstone now (text and data removed). */
  "conversation.message_deleted": { roomId: string; conversationId: string; messageId: string; seq: number; deletedById: string };
  /** `accountId` has read up to `seq` (only ever forward). subjectId: the account. */
  "conversation.read": { roomId: string; conversationId: string; accountId: string; seq: number };
  /** subjectId: the account (participant) in all three. */
  "room.participant_joined": ParticipantFacts;
  "room.participant_updated": ParticipantFacts;
  "room.participant_left": ParticipantFacts;
};

export type ConversationEventType = keyof ConversationEventPayloads;

export const CONVERSATION_EVENT_TYPES = [
  "conversation.created",
  "conversation.message_posted",
  "conversation.message_appended",
  "conversation.message_completed",
  "conversation.message_edited",
  "conversation.message_deleted",
  "conversation.read",
  "room.participant_joined",
  "room.participant_updated",
  "room.participant_left",
] as const satisfies readonly ConversationEventType[];

export const isConversationEventType = (type: string): type is ConversationEventType => (CONVERSATION_EVENT_TYPES as readonly string[]).includes(type);
