// The event log's retention job: deletes events older than the configured
// retention and moves the horizon past them (older cursors then answer
// CURSOR_EXPIRED). Idempotent: a second run finds nothing old.
import type { PrismaClient } from "../db/prisma.ts";
import type { JobHandlers } from "../jobs/catalogue.ts";
import { pruneEvents } from "./event-log.ts";

const DAY_MS = 24 * 3600 * 1000;

export function eventJobHandlers(deps: {
  prisma: PrismaClient;
  retentionDays: number;
  log: (msg: string, fields: object) => void;
}): Pick<JobHandlers, "event.prune"> {
  return {
    "event.prune": async () => {
      const result = await pruneEvents(deps.prisma, new Date(Date.now() - deps.retentionDays * DAY_MS));
      if (result.deleted) deps.log("pruned the event log", { deleted: result.deleted, prunedThrough: String(result.prunedThrough) });
    },
  };
}
