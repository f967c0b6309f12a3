// Which events of the log a webhook can subscribe to, and how its `events`
// list matches them. Webhooks consume the event log generically: any
// space-scoped event type listed below is deliverable, its stored payload is
// the body's `payload`. The table is keyed by every EventType, so a new event
// type (conversation.created, …) does not compile until it is decided here.
import type { EventType } from "../../events/event-types.ts";
import { errors } from "../../errors.ts";

const DELIVERABLE = {
  "entry.created": true,
  "entry.updated": true,
  "entry.moved": true,
  "entry.deleted": true,
  "grant.revoked": true,
  // Organization-level: it belongs to no space, and webhooks belong to one.
  "token.revoked": false,
  // Conversations: what a flow engine follows. Space admins (who manage webhooks) see every room.
  "conversation.created": true,
  "conversation.message_posted": true,
  "conversation.message_completed": true,
  "conversation.message_edited": true,
  "conversation.message_deleted": true,
  "conversation.read": true,
  "room.participant_joined": true,
  "room.participant_updated": true,
  "room.participant_left": true,
  // Attachments: what an operator's compliance tooling follows (decision 62).
  "attachment.uploaded": true,
  "attachment.bound": true,
  "attachment.retention_changed": true,
  "attachment.retention_default_changed": true,
  "attachment.deleted": true,
  "attachment.restored": true,
  // Per token of a streaming answer, and per progress tick of a processing step: a delivery
  // (a job and a POST) each would flood receivers; follow them live through subscriptions.
  // message_completed and the entry events carry the outcome.
  "conversation.message_appended": false,
  "asset.processing": false,
} as const satisfies Record<EventType, boolean>;

/** Event types a webhook may name, sorted. */
export const WEBHOOK_EVENT_TYPES: readonly string[] = Object.entries(DELIVERABLE)
  .filter(([, deliverable]) => deliverable)
  .map(([type]) => type)
  .sort();

const NOUNS = new Set(WEBHOOK_EVENT_TYPES.map((type) => type.split(".")[0]!));

/** Most entries in a webhook's `events` list. */
export const MAX_WEBHOOK_EVENTS = 50;

/**
 * Validates a webhook's `events`: each an event type (`entry.created`), every
 * event of a noun (`entry.*`), or every event (`*`). BAD_USER_INPUT listing
 * every unknown entry. Returns them deduplicated and sorted.
 */
export function parseWebhookEvents(names: readonly string[]): string[] {
  if (names.length === 0) throw errors.badInput("Name at least one event type", { allowedEvents: [...WEBHOOK_EVENT_TYPES] });
  if (names.length > MAX_WEBHOOK_EVENTS) throw errors.badInput(`At most ${MAX_WEBHOOK_EVENTS} event types`, { max: MAX_WEBHOOK_EVENTS });
  const valid = (name: string) => name === "*" || WEBHOOK_EVENT_TYPES.includes(name) || (name.endsWith(".*") && NOUNS.has(name.slice(0, -2)));
  const unknown = names.filter((name) => !valid(name));
  if (unknown.length) {
    throw errors.badInput(`Unknown event type${unknown.length > 1 ? "s" : ""}: ${unknown.map((u) => u.slice(0, 64)).join(", ")}`, {
      unknownEvents: unknown.map((u) => u.slice(0, 64)),
      allowedEvents: [...WEBHOOK_EVENT_TYPES, ...[...NOUNS].map((n) => `${n}.*`), "*"],
    });
  }
  return [...new Set(names)].sort();
}

/** True when a webhook subscribed to `patterns` wants events of `type`. */
export function webhookWants(patterns: readonly string[], type: string): boolean {
  if (!(DELIVERABLE as Record<string, boolean>)[type]) return false;
  return patterns.includes("*") || patterns.includes(type) || patterns.includes(`${type.split(".")[0]}.*`);
}
