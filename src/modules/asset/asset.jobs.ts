// Jobs of assets.
import { defineJob, type Job } from "../../jobs/job-spec.ts";
import type { AssetUploadService } from "./asset-upload.service.ts";

/** Completes two-stage uploads whose bytes arrived unannounced; abandons expired ones. */
export const uploadSweepJob = defineJob({
  name: "upload.sweep",
  // Periodic and self-healing: a failed run is simply the next run's work.
  queue: { retryLimit: 0, expireInSeconds: 300, deadLetter: "upload.sweep.dead", policy: "singleton" },
  concurrency: 1,
  schedule: "* * * * *",
  async handle(_job: Job<Record<string, never>>, { uploads }: { uploads: AssetUploadService }) {
    return uploads.sweepPendingUploads();
  },
});

export const assetJobs = [uploadSweepJob] as const;
