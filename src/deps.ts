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
import { removeAbandonedWrites } from "./modules/blob/blob.reconcile.ts";
import { createBlobService } from "./modules/blob/blob.service.ts";
import { createEntryService } from "./modules/entry/entry.service.ts";
import { createGrantService } from "./modules/grant/grant.service.ts";
import { createOrganizationService } from "./modules/organization/organization.service.ts";
import { createSpaceService } from "./modules/space/space.service.ts";
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
  if (background) {
    await events.start();
    await queue.start();
  }

  const accounts = createAccountService({ prisma });
  // The blob lifecycle, with the owner kinds it hands completed uploads to.
  const blobs = createBlobService({
    prisma,
    blobStore,
    queue,
    owners: { ENTRY: createAssetBlobOwner() },
    abandonAfterSeconds: config.uploads.abandonAfterSeconds,
  });
  const grants = createGrantService({ prisma });
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
  };

  // What the job handlers need (each takes its own part); the compiler checks it is all here.
  const jobDeps: JobDeps = { prisma, blobStore, blobs, eventRetentionDays: config.events.retentionDays };

  return {
    config,
    runtime,
    logger,
    prisma,
    blobStore,
    queue,
    events,
    services,
    /** Starts this process's workers for every job in the registry, and the schedules. */
    startWorkers: (pollingIntervalSeconds?: number) => queue.work(jobDeps, { pollingIntervalSeconds }),
    async close() {
      await queue.stop();
      await events.close();
      await prisma.$disconnect();
    },
  };
}
