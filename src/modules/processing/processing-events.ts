// assetProcessing: one asset's processing step changes from the event log,
// replayed after a cursor and then live, through the same space stream as
// spaceEvents (space/space-events.ts): the API process streams what a worker
// process recorded, and losing access to the space ends the stream.
import type { Viewer } from "../../access/viewer.ts";
import type { PrismaClient } from "../../db/prisma.ts";
import { errors } from "../../errors.ts";
import type { EventStream } from "../../events/event-stream.ts";
import type { EventTail } from "../../events/event-tail.ts";
import { openSpaceTopicStream } from "../space/space-events.ts";

export async function openAssetProcessingEvents(
  deps: { prisma: PrismaClient; events: EventTail },
  viewer: Viewer,
  input: { spaceId: string; assetId: string; after?: string | null },
): Promise<EventStream> {
  return openSpaceTopicStream(deps, viewer, {
    spaceId: input.spaceId,
    after: input.after,
    sends: (event) => event.type === "asset.processing" && event.subjectId === input.assetId,
    check: async () => {
      const asset = await deps.prisma.entry.findFirst({ where: { id: input.assetId, spaceId: input.spaceId, kind: "FILE" }, select: { id: true } });
      if (!asset) throw errors.notFound("Asset");
    },
  });
}
