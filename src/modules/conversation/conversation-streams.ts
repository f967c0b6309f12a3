// The conversation subscriptions, from the event log (events/event-stream.ts),
// replayed after a cursor and then live, like spaceEvents:
// - conversationEvents: one conversation's message and read events;
// - roomEvents: a room's conversations created and participants joined,
//   updated and left;
// - agentEvents: every conversation and room event of the rooms the caller
//   takes part in (all rooms for space admins), optionally only some types:
//   the feed an agent's runner (the flow engine) follows.
// Each also watches the events about the subscriber's own access (its grant
// shrinking, its participation ending or changing) and ends with the error a
// new subscription would get once access is gone.
import { assertRoomRead, isSpaceAdmin, loadConversationAccess, loadRoomAccess, requireRoomReadNow } from "../../access/room-access.ts";
import { requireSpacePermission, requireSpacePermissionNow } from "../../access/space-access.ts";
import type { Viewer } from "../../access/viewer.ts";
import type { PrismaClient } from "../../db/prisma.ts";
import { Prisma } from "../../generated/prisma/client.ts";
import { cursorExpired, checkCursor, parseCursor, readSpacePage } from "../../events/event-log.ts";
import { openEventStream, type Decide, type EventStream } from "../../events/event-stream.ts";
import type { EventTail } from "../../events/event-tail.ts";
import { topics, type StoredEvent } from "../../events/event-types.ts";
import { errors, isAppError } from "../../errors.ts";
import { CONVERSATION_EVENT_TYPES, isConversationEventType, type ConversationEventType } from "./conversation.events.ts";

type Deps = { prisma: PrismaClient; events: EventTail };

type Row = {
  pruned_through: bigint;
  id: bigint | null;
  space_id: string | null;
  type: string;
  subject_id: string;
  payload: unknown;
  created_at: Date;
};

const ROOM_EVENT_TYPES: readonly ConversationEventType[] = [
  "conversation.created",
  "room.participant_joined",
  "room.participant_updated",
  "room.participant_left",
];

/**
 * One page of the events whose payload `key` is `value` (afterId < id <= upTo),
 * read in the same snapshot as the retention horizon (as readSpacePage), over
 * the partial expression indexes of the conversations migration.
 */
async function readKeyedPage(
  db: PrismaClient,
  key: "conversationId" | "roomId",
  value: string,
  types: readonly string[] | null,
  afterId: bigint,
  upTo: bigint,
  limit: number,
): Promise<StoredEvent[]> {
  const k = Prisma.raw(`'${key}'`);
  const typeFilter = types ? Prisma.sql`AND type IN (${Prisma.join(types)})` : Prisma.empty;
  const rows = await db.$queryRaw<Row[]>`
    SELECT h.pruned_through, e.id, e.space_id, e.type, e.subject_id, e.payload, e.created_at
      FROM event_log_horizon h
      LEFT JOIN LATERAL (
        SELECT * FROM events
         WHERE payload ? ${k} AND (payload->>${k}) = ${value} AND id > ${afterId} AND id <= ${upTo} ${typeFilter}
         ORDER BY id LIMIT ${limit}
      ) e ON true
     ORDER BY e.id`;
  if (rows.length && afterId < rows[0]!.pruned_through) throw cursorExpired();
  return rows
    .filter((r): r is Row & { id: bigint } => r.id !== null)
    .map((r) => ({ id: r.id, spaceId: r.space_id, type: r.type, subjectId: r.subject_id, payload: r.payload, createdAt: r.created_at }) as StoredEvent);
}

/** Re-checks access when an event about the viewer's own access arrives; the error ends the stream. */
async function recheck(check: () => Promise<void>) {
  try {
    await check();
    return "skip" as const;
  } catch (e) {
    if (isAppError(e)) return e;
    throw e;
  }
}

const aboutViewer = (event: StoredEvent, viewer: Viewer) =>
  (event.type === "grant.revoked" || event.type === "room.participant_left" || event.type === "room.participant_updated") &&
  event.subjectId === viewer.accountId;

async function opened(stream: EventStream, checks: () => Promise<void>): Promise<EventStream> {
  try {
    await checks();
  } catch (e) {
    await stream.return();
    throw e;
  }
  return stream;
}

export async function openConversationEvents(deps: Deps, viewer: Viewer, input: { conversationId: string; after?: string | null }): Promise<EventStream> {
  const { prisma } = deps;
  const after = input.after == null ? null : parseCursor(input.after);
  const access = await loadConversationAccess(prisma, viewer, input.conversationId);
  assertRoomRead(viewer, access, "Conversation");
  const roomId = access.room.id;
  const decide: Decide = (event) => {
    if (aboutViewer(event, viewer)) {
      const p = event.payload as { roomId?: string };
      if (event.type === "grant.revoked" ? event.spaceId === access.room.spaceId : p.roomId === roomId) {
        return recheck(() => requireRoomReadNow(prisma, viewer, roomId));
      }
    }
    return (event.payload as { conversationId?: string }).conversationId === input.conversationId && isConversationEventType(event.type) ? "send" : "skip";
  };
  // Listening starts before the access check below: a revocation committed after it reaches this stream.
  const stream = openEventStream({
    tail: deps.events,
    topic: [topics.conversation(input.conversationId), topics.account(viewer.accountId)],
    after,
    replay: (afterId, upTo, limit) => readKeyedPage(prisma, "conversationId", input.conversationId, null, afterId, upTo, limit),
    decide,
  });
  return opened(stream, async () => {
    await requireRoomReadNow(prisma, viewer, roomId);
    if (after !== null) await checkCursor(prisma, after);
  });
}

export async function openRoomEvents(deps: Deps, viewer: Viewer, input: { roomId: string; after?: string | null }): Promise<EventStream> {
  const { prisma } = deps;
  const after = input.after == null ? null : parseCursor(input.after);
  const access = await loadRoomAccess(prisma, viewer, input.roomId);
  assertRoomRead(viewer, access);
  const decide: Decide = (event) => {
    const p = event.payload as { roomId?: string; conversationId?: string };
    if (aboutViewer(event, viewer) && (event.type === "grant.revoked" ? event.spaceId === access.room.spaceId : p.roomId === input.roomId)) {
      // Its own participant_updated/left is news for the subscriber too: re-check, then send it if still allowed.
      return recheck(() => requireRoomReadNow(prisma, viewer, input.roomId)).then((r) => (r === "skip" && event.type !== "grant.revoked" ? "send" : r));
    }
    return p.roomId === input.roomId && ROOM_EVENT_TYPES.includes(event.type as ConversationEventType) ? "send" : "skip";
  };
  const stream = openEventStream({
    tail: deps.events,
    topic: [topics.room(input.roomId), topics.account(viewer.accountId)],
    after,
    replay: (afterId, upTo, limit) => readKeyedPage(prisma, "roomId", input.roomId, ROOM_EVENT_TYPES, afterId, upTo, limit),
    decide,
  });
  return opened(stream, async () => {
    await requireRoomReadNow(prisma, viewer, input.roomId);
    if (after !== null) await checkCursor(prisma, after);
  });
}

/** agentEvents' `types`: event type names (conversation.message_posted…); BAD_USER_INPUT for others. */
export function parseEventTypes(types: readonly string[] | null | undefined): Set<ConversationEventType> | null {
  if (!types) return null;
  const unknown = types.filter((t) => !isConversationEventType(t));
  if (unknown.length)
    throw errors.badInput(`Unknown event type${unknown.length > 1 ? "s" : ""}: ${unknown.join(", ")}`, { allowedTypes: [...CONVERSATION_EVENT_TYPES] });
  return new Set(types as ConversationEventType[]);
}

export async function openAgentEvents(
  deps: Deps,
  viewer: Viewer,
  input: { spaceId: string; after?: string | null; types?: readonly string[] | null },
): Promise<EventStream> {
  const { prisma } = deps;
  const after = input.after == null ? null : parseCursor(input.after);
  const types = parseEventTypes(input.types);
  const space = await requireSpacePermission(prisma, viewer, input.spaceId, "conversations:read");
  const admin = isSpaceAdmin(viewer, space);
  // The rooms whose events this stream sends; kept current from the participant events.
  const rooms = new Set<string>();
  const decide: Decide = async (event) => {
    if (event.type === "grant.revoked") {
      return event.subjectId === viewer.accountId ? recheck(() => requireSpacePermissionNow(prisma, viewer, input.spaceId, "conversations:read")) : "skip";
    }
    if (!isConversationEventType(event.type)) return "skip";
    const p = event.payload as { roomId: string; accountId?: string };
    let leaving = false;
    if (p.accountId === viewer.accountId) {
      if (event.type === "room.participant_joined") rooms.add(p.roomId);
      if (event.type === "room.participant_left") leaving = true;
    }
    const member = admin || rooms.has(p.roomId);
    if (leaving) rooms.delete(p.roomId);
    if (!member) return "skip";
    return !types || types.has(event.type) ? "send" : "skip";
  };
  const stream = openEventStream({
    tail: deps.events,
    topic: topics.space(input.spaceId),
    after,
    replay: (afterId, upTo, limit) => readSpacePage(prisma, input.spaceId, afterId, upTo, limit),
    decide,
  });
  return opened(stream, async () => {
    await requireSpacePermissionNow(prisma, viewer, input.spaceId, "conversations:read");
    if (!admin) {
      const mine = await prisma.roomParticipant.findMany({
        where: { accountId: viewer.accountId, room: { spaceId: input.spaceId } },
        select: { roomId: true },
      });
      for (const r of mine) rooms.add(r.roomId);
    }
    if (after !== null) await checkCursor(prisma, after);
  });
}
