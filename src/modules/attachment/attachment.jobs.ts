// Jobs of chat attachments: the sweep of attachments no message bound.
import { defineJob, type Job } from "../../jobs/job-spec.ts";
import type { AttachmentService } from "./attachment.service.ts";

/** Removes attachments uploaded ATTACHMENT_UNBOUND_TTL_SECONDS ago that no message bound (bytes purged, quota back). */
export const unboundSweepJob = defineJob({
  name: "attachment.unbound-sweep",
  // Periodic and self-healing: a failed run is simply the next run's work.
  queue: { retryLimit: 0, expireInSeconds: 600, deadLetter: "attachment.unbound-sweep.dead", policy: "singleton" },
  concurrency: 1,
  schedule: "41 * * * *",
  async handle(_job: Job<Record<string, never>>, { attachments }: { attachments: AttachmentService }) {
    return attachments.sweepUnbound();
  },
});

/** Soft-deletes attachments past retentionAt and purges their bytes (and those of soft-deleted ones past ATTACHMENT_RESTORE_DAYS). */
export const retentionSweepJob = defineJob({
  name: "attachment.retention-sweep",
  queue: { retryLimit: 0, expireInSeconds: 600, deadLetter: "attachment.retention-sweep.dead", policy: "singleton" },
  concurrency: 1,
  // Every 5 minutes; an attachment past retentionAt is refused at once anyway (never handed out).
  schedule: "*/5 * * * *",
  async handle(_job: Job<Record<string, never>>, { attachments }: { attachments: AttachmentService }) {
    return attachments.sweepRetention();
  },
});

export const attachmentJobs = [unboundSweepJob, retentionSweepJob] as const;
