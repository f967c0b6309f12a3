// The typed event catalogue: every event type the log holds, what it is about
// and its payload, and the topics the tail fans it out on. Types are
// `noun.pastVerb`. Payloads stay small (names and ids, never file contents).

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
};

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
 * happens in it (its entries, its grants); `tokens` carries revocations.
 * Conversation, room and agent topics join this union when those nouns exist.
 */
export type Topic = `space:${string}` | "tokens";

export const topics = {
  space: (spaceId: string): Topic => `space:${spaceId}`,
  tokens: "tokens" as Topic,
};

export function topicsOf(e: StoredEvent): Topic[] {
  if (e.type === "token.revoked") return [topics.tokens];
  return e.spaceId ? [topics.space(e.spaceId)] : [];
}
