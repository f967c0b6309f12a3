// Jobs of file processing: one queue per worker pool (images, documents,
// media), so each pool's concurrency is its own setting
// (PROCESSING_*_CONCURRENCY, applied by deps.ts over the specs' defaults). The
// blob lifecycle enqueues them in the transaction that makes a blob READY.
// Idempotent: a run only runs the steps that are not DONE or SKIPPED, and
// outputs made again replace the old ones.
import { defineJob, type Job } from "../../jobs/job-spec.ts";
import type { AnalyzerKind } from "../../processing/index.ts";
import type { ProcessingService } from "./processing.service.ts";

// Retryable failures (a transcription endpoint's 429/5xx, a store outage while
// downloading or storing outputs): 5 retries from 10 s, doubling, then the dead letter queue.
// A step's own timeout (at most 30 minutes, transcription) stays under the expiry.
const analyzeJob = <const K extends AnalyzerKind>(kind: K, concurrency: number) =>
  defineJob({
    name: `blob.analyze.${kind}`,
    queue: { retryLimit: 5, retryDelay: 10, retryBackoff: true, expireInSeconds: 3600, deadLetter: `blob.analyze.${kind}.dead` },
    concurrency,
    async handle({ data }: Job<{ blobId: string }>, { processing }: { processing: ProcessingService }) {
      return processing.analyze(data.blobId, kind);
    },
  });

export const processingJobs = [analyzeJob("images", 2), analyzeJob("documents", 2), analyzeJob("media", 1)] as const;
