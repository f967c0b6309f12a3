// The typed event catalogue: every event type the log holds, what it is about
// and its payload, and the topics the tail fans it out on. Types are
// `noun.pastVerb`. Payloads stay small (names and ids, never file contents).

import type { AttachmentEventPayloads } from "../modules/attachment/attachment.events.ts";
import type { ConversationEventPayloads } from "../modules/conversation/conversation.events.ts";

type EntryFacts = { name: string; kind: "FOLDER" | "FILE"; parentId: string | null };

/** How an UPDATED entry changed. METADATA is reserved: nothing changes an entry's metadata yet. */
export type EntryChange = "RENAMED" | "CONTENT" | "METADATA";

/** type -> its payload. `spaceId` and `subjectId` are columns of their own. */
export type EventPayloads = {
  "entry.created": EntryFacts;
  "entry.updated": EntryFacts & { change: EntryChange; previousName?: string };
  "entry.moved": EntryFacts & { previousParentId: string | null; previousName: string; path: string };
  /** `deletedCount`: entries removed, the entry itself included (a file: 1). */
  "entry.deleted": EntryFacts & { deletedCount: number };
  /** subjectId: the token. Organization-level: no space. */
  "token.revoked": { accountId: string };
  /** subjectId: the account that lost some (or all) of its permissions on the space. */
  "grant.revoked": { removed: string[] };
  /**
   * subjectId: the asset (FILE entry) whose bytes are processed, or the blob when no entry owns it.
   * One per change of a processing step's state (modules/processing/, decision 47).
   */
  "asset.processing": ProcessingStepFacts;
} & ConversationEventPayloads &
  AttachmentEventPayloads;

/** A processing step as its `asset.processing` event carries it. */
export type ProcessingStepFacts = {
  blobId: string;
  step: string;
  kind: string;
  status: "QUEUED" | "RUNNING" | "DONE" | "FAILED" | "SKIPPED";
  progress: number | null;
  error: string | null;
  errorCode: string | null;
  startedAt: string | null;
  finishedAt: string | null;
};

export type EventType = keyof EventPayloads;

/** Events that belong to no space. */
type OrganizationEvent = "token.revoked";

/** What a service records; the log adds id and createdAt. */
export type EventInput = {
  [K in EventType]: {
    type: K;
    spaceId: K extends OrganizationEvent ? null : string;
    subjectId: string;
    payload: EventPayloads[K];
  };
}[EventType];

/** A committed event as read back from the log. */
export type StoredEvent = EventInput & { id: bigint; createdAt: Date };

export type EventOf<K extends EventType> = Extract<StoredEvent, { type: K }>;

export const isEventOf = <K extends EventType>(e: StoredEvent, type: K): e is EventOf<K> => e.type === type;

/**
 * Where the tail delivers an event. A space's topic carries everything that
 * happens in it (its entries, its grants, its conversations); `tokens` carries
 * revocations. Conversation and room events are also delivered on their
 * conversation's and room's topics, and events about an account's access
 * (grant.revoked, a participant leaving or changing) on that account's topic,
 * so a subscriber of one conversation is not handed every event of the space.
 */
export type Topic = `space:${string}` | "tokens" | `room:${string}` | `conversation:${string}` | `account:${string}`;

export const topics = {
  space: (spaceId: string): Topic => `space:${spaceId}`,
  tokens: "tokens" as Topic,
  room: (roomId: string): Topic => `room:${roomId}`,
  conversation: (conversationId: string): Topic => `conversation:${conversationId}`,
  account: (accountId: string): Topic => `account:${accountId}`,
};

export function topicsOf(e: StoredEvent): Topic[] {
  if (e.type === "token.revoked") return [topics.tokens];
  if (!e.spaceId) return [];
  const out: Topic[] = [topics.space(e.spaceId)];
  if (e.type === "grant.revoked") out.push(topics.account(e.subjectId));
  const p = e.payload as { roomId?: string; conversationId?: string; accountId?: string };
  if (p.conversationId) out.push(topics.conversation(p.conversationId));
  else if (p.roomId) out.push(topics.room(p.roomId));
  if (e.type === "conversation.created") out.push(topics.room((p as { roomId: string }).roomId));
  if (e.type.startsWith("room.participant_")) out.push(topics.account(p.accountId!));
  return out;
}
