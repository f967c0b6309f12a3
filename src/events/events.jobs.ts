// The event log's retention job: deletes events older than the configured
// retention and moves the horizon past them (older cursors then answer
// CURSOR_EXPIRED). Idempotent: a second run finds nothing old.
import type { PrismaClient } from "../db/prisma.ts";
import { defineJob, type Job } from "../jobs/job-spec.ts";
import { pruneEvents } from "./event-log.ts";

const DAY_MS = 24 * 3600 * 1000;

export const pruneEventsJob = defineJob({
  name: "event.prune",
  // Periodic and self-healing: a failed run is simply the next run's work.
  queue: { retryLimit: 0, expireInSeconds: 600, deadLetter: "event.prune.dead", policy: "singleton" },
  concurrency: 1,
  schedule: "41 * * * *",
  async handle(_job: Job<Record<string, never>>, deps: { prisma: PrismaClient; eventRetentionDays: number }) {
    const result = await pruneEvents(deps.prisma, new Date(Date.now() - deps.eventRetentionDays * DAY_MS));
    return { deleted: result.deleted, prunedThrough: String(result.prunedThrough) };
  },
});

export const eventJobs = [pruneEventsJob] as const;
