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
import { createEntryService } from "./modules/entry/entry.service.ts";
import { createGrantService } from "./modules/grant/grant.service.ts";
import { createOrganizationService } from "./modules/organization/organization.service.ts";
import { createSpaceService } from "./modules/space/space.service.ts";
import { createPostgresPubSub, type CabinetPubSub } from "./pubsub.ts";
import type { BlobStore } from "./storage/blob-store.ts";
import { DiskBlobStore } from "./storage/disk/disk-blob-store.ts";
import { S3BlobStore } from "./storage/s3/s3-blob-store.ts";

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

export function createBlobStore(config: Config, runtime: Runtime): BlobStore {
  if (config.s3) return new S3BlobStore(config.s3);
  return new DiskBlobStore({ root: path.join(config.dataDir, "blobs"), publicUrl: runtime.publicUrl, signingSecret: runtime.signingSecret });
}

export async function createDeps(
  config: Config,
  runtime: Runtime,
  options: { logger: Logger; prisma?: PrismaOptions; blobStore?: BlobStore },
) {
  const { logger } = options;
  const prisma: PrismaClient = createPrisma(runtime.databaseUrl, {
    onPoolError: (err) => logger.error({ err }, "database pool error"),
    ...options.prisma,
  });
  const blobStore = options.blobStore ?? createBlobStore(config, runtime);
  const queue: JobQueue = createJobQueue({ databaseUrl: runtime.databaseUrl, logger });
  const pubsub: CabinetPubSub = await createPostgresPubSub(runtime.databaseUrl, (msg, err) => logger.error({ err }, msg));
  await queue.start();

  const accounts = createAccountService({ prisma, pubsub });
  const services = {
    accounts,
    organizations: createOrganizationService({
      prisma,
      accounts,
      defaults: { quotaBytes: config.defaultQuotaBytes, maxFileSizeBytes: config.defaultMaxFileSizeBytes },
    }),
    spaces: createSpaceService({ prisma }),
    grants: createGrantService({ prisma, pubsub }),
    entries: createEntryService({ prisma, pubsub, queue }),
    assets: createAssetService({
      prisma, blobStore, queue, pubsub,
      importOptions: {
        allowHosts: config.importAllowHosts,
        maxRedirects: config.importMaxRedirects,
        connectTimeoutMs: config.importConnectTimeoutMs,
        readTimeoutMs: config.importReadTimeoutMs,
      },
    }),
    uploads: createAssetUploadService({
      prisma, blobStore, queue, pubsub,
      presign: config.presign,
      abandonAfterSeconds: config.uploadAbandonAfterSeconds,
    }),
  };

  // What the job handlers need (each takes its own part); the compiler checks it is all here.
  const jobDeps: JobDeps = { prisma, blobStore, uploads: services.uploads };

  return {
    config,
    runtime,
    logger,
    prisma,
    blobStore,
    queue,
    pubsub,
    services,
    /** Starts this process's workers for every job in the registry, and the schedules. */
    startWorkers: (pollingIntervalSeconds?: number) => queue.work(jobDeps, { pollingIntervalSeconds }),
    async close() {
      await queue.stop();
      await pubsub.close();
      await prisma.$disconnect();
    },
  };
}
