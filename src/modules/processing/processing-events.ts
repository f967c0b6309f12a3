// assetProcessing: one asset's processing step changes from the event log,
// replayed after a cursor and then live (events/event-stream.ts), built like
// spaceEvents (space/space-events.ts): the API process streams what a worker
// process recorded, and losing access to the space ends the stream.
import { requireSpacePermission, requireSpacePermissionNow } from "../../access/space-access.ts";
import type { Viewer } from "../../access/viewer.ts";
import type { PrismaClient } from "../../db/prisma.ts";
import { errors, isAppError } from "../../errors.ts";
import { checkCursor, parseCursor, readSpacePage } from "../../events/event-log.ts";
import { type EventStream, openEventStream } from "../../events/event-stream.ts";
import type { EventTail } from "../../events/event-tail.ts";
import { topics } from "../../events/event-types.ts";

export async function openAssetProcessingEvents(
  deps: { prisma: PrismaClient; events: EventTail },
  viewer: Viewer,
  input: { spaceId: string; assetId: string; after?: string | null },
): Promise<EventStream> {
  const { prisma } = deps;
  const after = input.after == null ? null : parseCursor(input.after);
  // Listening starts before the access check: a revocation committed after it reaches this stream.
  const stream = openEventStream({
    tail: deps.events,
    topic: topics.space(input.spaceId),
    after,
    replay: (afterId, upTo, limit) => readSpacePage(prisma, input.spaceId, afterId, upTo, limit),
    decide: async (event) => {
      if (event.type === "asset.processing") return event.subjectId === input.assetId ? "send" : "skip";
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
    const asset = await prisma.entry.findFirst({ where: { id: input.assetId, spaceId: input.spaceId, kind: "FILE" }, select: { id: true } });
    if (!asset) throw errors.notFound("Asset");
    if (after !== null) await checkCursor(prisma, after);
  } catch (e) {
    await stream.return();
    throw e;
  }
  return stream;
}
