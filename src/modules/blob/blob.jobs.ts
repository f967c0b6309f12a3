// Jobs of the blob lifecycle. All are idempotent: deleting a missing object
// succeeds, reconciling twice finds nothing the second time, and a sweep only
// acts on uploads that are still pending.
import type { PrismaClient } from "../../db/prisma.ts";
import { defineJob, type Job } from "../../jobs/job-spec.ts";
import type { BlobStore } from "../../storage/blob-store.ts";
import type { BlobService } from "./blob.service.ts";
import { ORPHAN_MIN_AGE_SECONDS, reconcileBlobStore } from "./blob.reconcile.ts";

const PARALLEL_DELETES = 8;

/** Deletes objects from the blob store after the rows that owned them were committed away. */
export const purgeJob = defineJob({
  name: "blob.purge",
  // A store outage must not lose a purge: 10 retries from 5 s, doubling (at least 85 minutes in
  // all), then the dead letter queue.
  queue: { retryLimit: 10, retryDelay: 5, retryBackoff: true, expireInSeconds: 300, deadLetter: "blob.purge.dead" },
  // Up to 4 jobs × 8 deletes = 32 requests in flight per worker process; 4 × 32 jobs per poll,
  // so a backlog of single-key jobs (overwrites whose requests could not purge) drains fast.
  concurrency: 4,
  batchSize: 32,
  async handle({ data }: Job<{ keys: string[] }>, { blobStore }: { blobStore: BlobStore }) {
    const { keys } = data;
    for (let i = 0; i < keys.length; i += PARALLEL_DELETES) {
      await Promise.all(keys.slice(i, i + PARALLEL_DELETES).map((key) => blobStore.delete(key)));
    }
    return { deleted: keys.length };
  },
});

/** Deletes objects nobody owns; marks rows whose object vanished FAILED. */
export const reconcileJob = defineJob({
  name: "blob.reconcile",
  // Periodic and self-healing: a failed run is simply the next run's work.
  queue: { retryLimit: 0, expireInSeconds: 3600, deadLetter: "blob.reconcile.dead", policy: "singleton" },
  concurrency: 1,
  schedule: "17 3 * * *",
  async handle({ data }: Job<{ dryRun?: boolean }>, deps: { prisma: PrismaClient; blobStore: BlobStore }) {
    return reconcileBlobStore(deps, { dryRun: !!data.dryRun, minAgeSeconds: ORPHAN_MIN_AGE_SECONDS });
  },
});

/** Completes two-stage uploads whose bytes arrived unannounced; abandons expired ones. */
export const uploadSweepJob = defineJob({
  name: "upload.sweep",
  // Periodic and self-healing: a failed run is simply the next run's work.
  queue: { retryLimit: 0, expireInSeconds: 300, deadLetter: "upload.sweep.dead", policy: "singleton" },
  concurrency: 1,
  schedule: "* * * * *",
  async handle(_job: Job<Record<string, never>>, { blobs }: { blobs: BlobService }) {
    return blobs.sweepPendingUploads();
  },
});

export const blobJobs = [purgeJob, reconcileJob, uploadSweepJob] as const;
