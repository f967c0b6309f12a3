// The only wiring point: builds every long-lived dependency from a Config and
// the resolved runtime settings, and knows how to shut them down in order.
import path from "node:path";
import type { Config } from "./config.ts";
import { createPrisma, type PrismaClient, type PrismaOptions } from "./db/prisma.ts";
import { createJobQueue, type JobQueue } from "./jobs/queue.ts";
import type { JobDeps } from "./jobs/registry.ts";
import { createAccountService } from "./modules/account/account.service.ts";
import { createAssetService } from "./modules/asset/asset.service.ts";
import { createAssetUploadService } from "./modules/asset/asset-upload.service.ts";
import { createAssetBlobOwner } from "./modules/asset/asset-blob-owner.ts";
import { createAttachmentBlobOwner } from "./modules/attachment/attachment-blob-owner.ts";
import { createAttachmentService } from "./modules/attachment/attachment.service.ts";
import { createAttachmentAdminService } from "./modules/attachment/attachment-admin.service.ts";
import { createAttachmentModelInput } from "./modules/attachment/attachment-model-input.ts";
import { removeAbandonedWrites } from "./modules/blob/blob.reconcile.ts";
import { createBlobService } from "./modules/blob/blob.service.ts";
import { createEntryService } from "./modules/entry/entry.service.ts";
import { createGrantService } from "./modules/grant/grant.service.ts";
import { createConversationService } from "./modules/conversation/conversation.service.ts";
import { createTypingHub } from "./modules/conversation/typing.ts";
import { createMessageService } from "./modules/message/message.service.ts";
import { createRoomService } from "./modules/room/room.service.ts";
import { createProcessingService } from "./modules/processing/processing.service.ts";
import { createAnalyzerRegistry } from "./processing/index.ts";
import { createOrganizationService } from "./modules/organization/organization.service.ts";
import { createSpaceService } from "./modules/space/space.service.ts";
import { createWebhookDispatcher } from "./modules/webhook/webhook.dispatcher.ts";
import { createWebhookService } from "./modules/webhook/webhook.service.ts";
import { createSearchService } from "./modules/search/search.service.ts";
import { createEventTail, type EventTail } from "./events/event-tail.ts";
import type { BlobStore } from "./storage/blob-store.ts";
import { DiskBlobStore } from "./storage/disk/disk-blob-store.ts";

export type Logger = {
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
};

/** Settings only known at start-up (embedded database URL, generated secrets). */
export type Runtime = {
  databaseUrl: string;
  signingSecret: string;
  /** Base URL clients reach this server on. */
  publicUrl: string;
};

export type Deps = Awaited<ReturnType<typeof createDeps>>;

export async function createBlobStore(config: Config, runtime: Runtime): Promise<BlobStore> {
  // The AWS SDK is imported only when S3 is configured (it is the largest import: ~0.5 s of start-up).
  if (config.storage.s3) return new (await import("./storage/s3/s3-blob-store.ts")).S3BlobStore(config.storage.s3);
  return new DiskBlobStore({ root: path.join(config.data.dir, "blobs"), publicUrl: runtime.publicUrl, signingSecret: runtime.signingSecret });
}

export type DepsOptions = {
  logger: Logger;
  prisma?: PrismaOptions;
  blobStore?: BlobStore;
  /**
   * false for one-shot commands (the CLI): no event-log tail, no cleanup of abandoned
   * writes, and the job queue's sender starts only if something is enqueued. The server
   * and the workers keep the default, true.
   */
  background?: boolean;
};

export async function createDeps(config: Config, runtime: Runtime, options: DepsOptions) {
  const { logger } = options;
  const background = options.background ?? true;
  const prisma: PrismaClient = createPrisma(runtime.databaseUrl, {
    onPoolError: (err) => logger.error({ err }, "database pool error"),
    ...options.prisma,
  });
  const blobStore = options.blobStore ?? (await createBlobStore(config, runtime));
  // Writes a crashed process left behind (disk .partial files). Not fatal: /readyz reports an unusable store.
  if (background) await removeAbandonedWrites(blobStore).catch((err) => logger.warn({ err }, "could not remove abandoned writes from the blob store"));
  const queue: JobQueue = createJobQueue({ databaseUrl: runtime.databaseUrl, logger });
  // This process's follower of the event log (events/): subscriptions and live access read from it.
  const events: EventTail = createEventTail({
    databaseUrl: runtime.databaseUrl,
    pollIntervalMs: config.events.pollIntervalMs,
    log: logger,
  });
  // Typing indicators travel between processes on their own NOTIFY channel (never logged).
  const typing = createTypingHub({ prisma, databaseUrl: runtime.databaseUrl, log: logger });
  if (background) {
    await events.start();
    await queue.start();
    await typing.start();
  }

  const accounts = createAccountService({ prisma });
  // Processing (decision 47) is enqueued by the blob lifecycle and stores derived blobs through it.
  let processing: ReturnType<typeof createProcessingService> | undefined;
  // The blob lifecycle, with the owner kinds it hands completed uploads to.
  const blobs = createBlobService({
    prisma,
    blobStore,
    queue,
    owners: {
      ENTRY: createAssetBlobOwner(),
      ATTACHMENT: createAttachmentBlobOwner({ allowed: (m) => config.attachments.mimeTypes.includes(m.toLowerCase()) }),
    },
    abandonAfterSeconds: config.uploads.abandonAfterSeconds,
    onReady: async (tx, blob) => {
      await processing!.enqueue(tx, blob);
    },
  });
  processing = createProcessingService({
    prisma,
    blobStore,
    blobs,
    queue,
    registry: createAnalyzerRegistry({
      storeGps: config.processing.storeGps,
      ...(config.processing.transcription ? { transcription: { ...config.processing.transcription } } : {}),
    }),
    limits: { maxInputPixels: config.processing.maxInputPixels },
  });
  const grants = createGrantService({ prisma });
  const c = config.conversations;
  const attachments = createAttachmentService({ prisma, blobStore, blobs, presign: config.presign, settings: config.attachments });
  const messages = createMessageService({
    prisma,
    bindAttachments: attachments.bindAttachments,
    rateLimits: { post: c.postLimit, delta: c.deltaLimit, windowSeconds: c.rateWindowSeconds },
    agentChainDepth: c.agentChainDepth,
  });
  // Webhook targets follow the URL import's SSRF rules and allow-list.
  const webhookTargets = { allowHosts: config.import.allowHosts, connectTimeoutMs: config.import.connectTimeoutMs };
  const services = {
    blobs,
    accounts,
    organizations: createOrganizationService({
      prisma,
      accounts,
      defaults: { quotaBytes: config.limits.defaultQuotaBytes, maxFileSizeBytes: config.limits.defaultMaxFileSizeBytes },
    }),
    spaces: createSpaceService({ prisma, blobs }),
    grants,
    entries: createEntryService({ prisma, blobs }),
    assets: createAssetService({
      prisma,
      blobStore,
      blobs,
      presign: config.presign,
      importOptions: {
        allowHosts: config.import.allowHosts,
        maxRedirects: config.import.maxRedirects,
        connectTimeoutMs: config.import.connectTimeoutMs,
        readTimeoutMs: config.import.readTimeoutMs,
      },
    }),
    uploads: createAssetUploadService({ prisma, blobs, presign: config.presign }),
    rooms: createRoomService({ prisma, dmMaxParticipants: c.dmMaxParticipants }),
    conversations: createConversationService({ prisma }),
    messages,
    attachments,
    attachmentAdmin: createAttachmentAdminService({ prisma, attachments }),
    modelInput: createAttachmentModelInput({ prisma, blobStore, blobs, maxInputPixels: config.processing.maxInputPixels }),
    processing,
    webhooks: createWebhookService({ prisma, targets: webhookTargets }),
    search: createSearchService({ prisma }),
  };

  // What the job handlers need (each takes its own part); the compiler checks it is all here.
  const jobDeps: JobDeps = {
    prisma,
    blobStore,
    blobs,
    processing,
    eventRetentionDays: config.events.retentionDays,
    messages,
    attachments,
    streamTimeoutSeconds: c.streamTimeoutSeconds,
    webhookDelivery: { ...webhookTargets, timeoutMs: config.webhooks.timeoutMs },
    webhookDeliveryRetentionDays: config.webhooks.deliveryRetentionDays,
  };
  // Per-pool processing concurrency, from the settings.
  const concurrency = {
    "blob.analyze.images": config.processing.imagesConcurrency,
    "blob.analyze.documents": config.processing.documentsConcurrency,
    "blob.analyze.media": config.processing.mediaConcurrency,
  };
  // Turns the event log into webhook.deliver jobs; runs where the workers run.
  const webhookDispatcher = createWebhookDispatcher({ prisma, queue, events, logger, pollIntervalMs: config.events.pollIntervalMs });

  return {
    config,
    runtime,
    logger,
    prisma,
    blobStore,
    queue,
    events,
    typing,
    services,
    /** Workers per job name where a setting overrides the spec (the processing pools). */
    workerConcurrency: concurrency as Partial<Record<string, number>>,
    webhookDispatcher,
    /** Starts this process's workers for every job in the registry, the schedules, and the webhook dispatcher. */
    async startWorkers(pollingIntervalSeconds?: number) {
      await queue.work(jobDeps, { pollingIntervalSeconds, concurrency });
      webhookDispatcher.start();
    },
    async close() {
      await webhookDispatcher.stop();
      await queue.stop();
      await typing.close();
      await events.close();
      await prisma.$disconnect();
    },
  };
}
