// Webhook jobs. `webhook.deliver` is one delivery (one event to one webhook):
// the dispatcher (webhook.dispatcher.ts) enqueues it in the transaction that
// creates the delivery row, and each run is one attempt. `webhook.prune`
// trims the delivery log.
import type { PrismaClient } from "../../db/prisma.ts";
import { AppError } from "../../errors.ts";
import { defineJob, type Job } from "../../jobs/job-spec.ts";
import { attemptDelivery, type DeliverySettings } from "./webhook.delivery.ts";

const DAY_MS = 24 * 3600 * 1000;

/**
 * Retries after the first attempt. pg-boss's backoff waits retryDelay × 2^(n-1) × (1 + random)
 * before retry n: from 2-4 s for the first to 9-18 h for the 15th, 18-36 h in all, then the
 * dead letter queue (the delivery shows FAILED).
 */
export const WEBHOOK_RETRY_LIMIT = 15;

export const deliverWebhookJob = defineJob({
  name: "webhook.deliver",
  // expireInSeconds bounds an attempt whose process died; the request itself is bounded by WEBHOOK_TIMEOUT_MS.
  queue: { retryLimit: WEBHOOK_RETRY_LIMIT, retryDelay: 2, retryBackoff: true, expireInSeconds: 120, deadLetter: "webhook.deliver.dead" },
  // Deliveries mostly wait on the network: several per worker process.
  concurrency: 8,
  async handle({ data, attempt }: Job<{ deliveryId: string }>, deps: { prisma: PrismaClient; webhookDelivery: DeliverySettings }) {
    const result = await attemptDelivery(deps.prisma, deps.webhookDelivery, data.deliveryId, attempt > WEBHOOK_RETRY_LIMIT);
    // A failed attempt fails the job: pg-boss retries it after the backoff, or dead-letters it.
    if (!result.delivered && !result.skipped) throw new AppError("URL_FETCH_FAILED", result.error ?? "delivery failed", { status: result.status });
    return result;
  },
});

/** Deletes settled deliveries (SUCCEEDED, FAILED) older than the retention from the log. */
export const pruneWebhookDeliveriesJob = defineJob({
  name: "webhook.prune",
  queue: { retryLimit: 0, expireInSeconds: 600, deadLetter: "webhook.prune.dead", policy: "singleton" },
  concurrency: 1,
  schedule: "47 * * * *",
  async handle(_job: Job<Record<string, never>>, deps: { prisma: PrismaClient; webhookDeliveryRetentionDays: number }) {
    const before = new Date(Date.now() - deps.webhookDeliveryRetentionDays * DAY_MS);
    const deleted = await deps.prisma.$executeRaw`DELETE FROM webhook_deliveries WHERE created_at < ${before} AND status IN ('SUCCEEDED', 'FAILED')`;
    return { deleted };
  },
});

export const webhookJobs = [deliverWebhookJob, pruneWebhookDeliveriesJob] as const;
