// spaceEvents: a space's entry events from the log, replayed after a cursor and
// then live (events/event-stream.ts). The stream also watches the space's
// `grant.revoked` events: when the subscriber's account loses access to this
// space, this stream (and only this one: not the socket, not its other
// spaces) ends with the error a new subscription would get.
import { requireSpacePermission, requireSpacePermissionNow } from "../../access/space-access.ts";
import type { Viewer } from "../../access/viewer.ts";
import type { PrismaClient } from "../../db/prisma.ts";
import { isAppError } from "../../errors.ts";
import { checkCursor, parseCursor, readSpacePage } from "../../events/event-log.ts";
import { openEventStream, type EventStream } from "../../events/event-stream.ts";
import type { EventTail } from "../../events/event-tail.ts";
import { topics, type StoredEvent } from "../../events/event-types.ts";

const ENTRY_EVENTS = new Set<StoredEvent["type"]>(["entry.created", "entry.updated", "entry.moved", "entry.deleted"]);

export async function openSpaceEvents(
  deps: { prisma: PrismaClient; events: EventTail },
  viewer: Viewer,
  input: { spaceId: string; after?: string | null },
): Promise<EventStream> {
  return openSpaceTopicStream(deps, viewer, { ...input, sends: (event) => ENTRY_EVENTS.has(event.type) });
}

/**
 * A stream of some of a space's events (`sends` picks them) for a viewer holding assets:read
 * there, replayed after `after` and then live; it ends when the viewer's account loses access.
 * `check` runs with the access and cursor checks (before any event is sent), e.g. that the
 * subject exists. spaceEvents and assetProcessing are both this.
 */
export async function openSpaceTopicStream(
  deps: { prisma: PrismaClient; events: EventTail },
  viewer: Viewer,
  input: { spaceId: string; after?: string | null; sends: (event: StoredEvent) => boolean; check?: () => Promise<void> },
): Promise<EventStream> {
  const { prisma } = deps;
  const after = input.after == null ? null : parseCursor(input.after);
  // Listening starts before the access check below: a revocation committed
  // after that check is then certain to reach this stream.
  const stream = openEventStream({
    tail: deps.events,
    topic: topics.space(input.spaceId),
    after,
    replay: (afterId, upTo, limit) => readSpacePage(prisma, input.spaceId, afterId, upTo, limit),
    decide: async (event) => {
      if (input.sends(event)) return "send";
      if (event.type === "grant.revoked" && event.subjectId === viewer.accountId) {
        try {
          await requireSpacePermissionNow(prisma, viewer, input.spaceId, "assets:read");
        } catch (e) {
          if (isAppError(e)) return e;
          throw e;
        }
      }
      return "skip";
    },
  });
  try {
    await requireSpacePermission(prisma, viewer, input.spaceId, "assets:read");
    await input.check?.();
    if (after !== null) await checkCursor(prisma, after);
  } catch (e) {
    await stream.return();
    throw e;
  }
  return stream;
}
