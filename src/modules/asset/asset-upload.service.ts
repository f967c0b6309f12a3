// Two-stage uploads: the client gets a presigned PUT bound to the declared type
// and length (and sha256, when given), sends the bytes straight to the blob
// store, and the upload is completed by the client (completeAssetUpload), by
// the disk store itself when its PUT finishes, or by the sweep job. The
// declared size is reserved against the quota from creation on; completion
// turns it into usage, abandonment gives it back.
//
// Completion verifies the object that actually arrived: it must exist with the
// declared size (and sha256), and its first bytes must not contradict the
// declared type (ingest/content-type.ts). A failed check removes the pending
// upload entirely (row, reservation, object, and the entry made for it).
import { createHash } from "node:crypto";
import type { Readable } from "node:stream";
import { requireSpacePermission, assertPermission } from "../../access/space-access.ts";
import type { Viewer } from "../../access/viewer.ts";
import type { PrismaClient, Tx } from "../../db/prisma.ts";
import { AppError, errors } from "../../errors.ts";
import { newId, randomToken } from "../../ids.ts";
import type { JobQueue } from "../../jobs/queue.ts";
import type { CabinetPubSub } from "../../pubsub.ts";
import { presignLifetime, type BlobStore, type PresignLimits, type UploadRequest } from "../../storage/blob-store.ts";
import { decideContentType, SNIFF_BYTES, sniffContentType } from "../../ingest/content-type.ts";
import { purgeAfterCommit } from "../blob/blob.purge.ts";
import { claimFilePath, spaceEvent, type CreatedFolder } from "../entry/entry.service.ts";
import { normalizePath } from "../entry/entry-path.ts";
import { lockSpaceTree } from "../entry/entry-tree.sql.ts";
import { releaseQuota, reserveQuota, settleReservation } from "../organization/usage.ts";

export type AssetUploadService = ReturnType<typeof createAssetUploadService>;

export type CreateAssetUploadInput = {
  spaceId: string;
  path: string;
  mimeType: string;
  size: number;
  sha256?: string | null;
  meta?: unknown;
  createParents?: boolean | null;
  expiresInSeconds?: number | null;
};

type PendingBlob = {
  id: string;
  key: string;
  size: bigint;
  contentType: string;
  sha256: string | null;
  organizationId: string;
  spaceId: string;
  uploadEntryId: string | null;
  uploadExpiresAt: Date | null;
};

const MAX_META_BYTES = 16 * 1024;
const SWEEP_BATCH = 200;

/** Outcome of trying to complete one pending upload. */
type Finalized = { state: "completed"; entryId: string } | { state: "missing" } | { state: "gone" };

async function sha256Of(stream: Readable): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

async function readHead(stream: Readable, bytes: number): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of stream) {
    chunks.push(chunk as Buffer);
    length += (chunk as Buffer).length;
    if (length >= bytes) break;
  }
  stream.destroy();
  return Buffer.concat(chunks).subarray(0, bytes);
}

export function createAssetUploadService(deps: {
  prisma: PrismaClient;
  blobStore: BlobStore;
  queue: JobQueue;
  pubsub: CabinetPubSub;
  presign: PresignLimits;
  /** How long after its URL expired a pending upload is kept before it is abandoned. */
  abandonAfterSeconds: number;
}) {
  const { prisma, blobStore, queue, pubsub, presign } = deps;

  function validate(input: CreateAssetUploadInput, maxFileSize: bigint) {
    const segments = normalizePath(input.path);
    if (segments.length === 0) throw errors.pathIsDirectory("/");
    if (!Number.isSafeInteger(input.size) || input.size < 0) throw errors.badInput("size must be a non-negative integer");
    if (BigInt(input.size) > maxFileSize) {
      throw errors.limitsReached(`The file is larger than the ${maxFileSize} byte limit`, { reason: "MAX_FILE_SIZE", limit: Number(maxFileSize) });
    }
    const sha256 = input.sha256?.toLowerCase() ?? null;
    if (sha256 !== null && !/^[0-9a-f]{64}$/.test(sha256)) throw errors.badInput("sha256 must be 64 hexadecimal digits");
    if (input.meta != null && Buffer.byteLength(JSON.stringify(input.meta)) > MAX_META_BYTES) {
      throw errors.badInput(`meta can be at most ${MAX_META_BYTES} bytes of JSON`);
    }
    const expiresInSeconds = presignLifetime(input.expiresInSeconds, presign);
    // Syntax only: the bytes are checked against it on completion.
    const { contentType } = decideContentType(input.mimeType, undefined);
    return { segments, sha256, expiresInSeconds, contentType };
  }

  /** Removes a pending upload that will not complete: row, reservation, object, and the entry made for it. */
  async function dropPending(tx: Tx, blob: PendingBlob): Promise<void> {
    const entry = blob.uploadEntryId ? await tx.entry.findUnique({ where: { id: blob.uploadEntryId }, select: { id: true, blobId: true } }) : null;
    if (entry?.blobId === blob.id) await tx.entry.delete({ where: { id: entry.id } });
    await tx.blob.delete({ where: { id: blob.id } });
    await releaseQuota(tx, blob.organizationId, blob.size);
    await purgeAfterCommit(queue, tx, [blob.key]);
  }

  /** dropPending, unless the upload completed (or went) in the meantime. */
  async function dropIfStillPending(blobId: string): Promise<void> {
    await prisma.$transaction(async (tx) => {
      const [still] = await tx.$queryRaw<{ status: string }[]>`SELECT status::text AS status FROM blobs WHERE id = ${blobId} FOR UPDATE`;
      if (still?.status === "PENDING") await dropPending(tx, await tx.blob.findUniqueOrThrow({ where: { id: blobId } }));
    });
  }

  function presignFor(blob: { key: string; contentType: string; size: bigint; sha256: string | null }, expiresInSeconds: number): Promise<UploadRequest> {
    return blobStore.presignPut(blob.key, {
      expiresInSeconds,
      contentType: blob.contentType,
      size: Number(blob.size),
      ...(blob.sha256 ? { sha256: blob.sha256 } : {}),
    });
  }

  async function createAssetUpload(viewer: Viewer, input: CreateAssetUploadInput) {
    const space = await requireSpacePermission(prisma, viewer, input.spaceId, "assets:create");
    const org = await prisma.organization.findUniqueOrThrow({ where: { id: space.organizationId }, select: { maxFileSizeBytes: true } });
    const { segments, sha256, expiresInSeconds, contentType } = validate(input, org.maxFileSizeBytes);
    const size = BigInt(input.size);
    const created: CreatedFolder[] = [];

    const { entry, blob, isNew } = await prisma.$transaction(async (tx) => {
      const { parentId, name, existing } = await claimFilePath(tx, viewer, space, segments, { createParents: !!input.createParents, created });

      await reserveQuota(tx, space.organizationId, size);
      const blob = await tx.blob.create({
        data: {
          id: newId("Blob"), organizationId: space.organizationId, spaceId: space.id, key: randomToken(20),
          status: "PENDING", size, contentType, sha256, metadata: { meta: (input.meta ?? null) as never },
          uploadExpiresAt: new Date(Date.now() + expiresInSeconds * 1000),
        },
      });
      let entryId: string;
      if (existing) {
        entryId = existing.id;
        // One upload in flight per entry: a new one replaces the previous.
        const previous = await tx.blob.findUnique({ where: { uploadEntryId: existing.id } });
        if (previous) {
          if (existing.blob_id === previous.id) await tx.entry.update({ where: { id: existing.id }, data: { blobId: blob.id, size } });
          await tx.blob.delete({ where: { id: previous.id } });
          await releaseQuota(tx, previous.organizationId, previous.size);
          await purgeAfterCommit(queue, tx, [previous.key]);
        }
      } else {
        entryId = newId("Entry");
        await tx.entry.create({
          data: { id: entryId, spaceId: space.id, parentId, kind: "FILE", name, blobId: blob.id, size, createdById: viewer.accountId },
        });
      }
      await tx.blob.update({ where: { id: blob.id }, data: { uploadEntryId: entryId } });
      return { entry: await tx.entry.findUniqueOrThrow({ where: { id: entryId } }), blob, isNew: !existing };
    });

    for (const f of created) pubsub.publish("space.events", space.id, spaceEvent("CREATED", space.id, { ...f, kind: "FOLDER" }));
    if (isNew) pubsub.publish("space.events", space.id, spaceEvent("CREATED", space.id, entry));
    return { entry, uploadRequest: await presignFor(blob, expiresInSeconds) };
  }

  /** The pending upload into an entry the viewer may upload to (assets:create on its space). */
  async function pendingFor(viewer: Viewer, assetId: string) {
    const entry = await prisma.entry.findUnique({ where: { id: assetId }, include: { space: { select: { id: true, organizationId: true } } } });
    assertPermission(viewer, entry?.space ?? null, "assets:create");
    if (entry!.kind !== "FILE") throw errors.pathIsDirectory(entry!.name);
    return { entry: entry!, pending: await prisma.blob.findFirst({ where: { uploadEntryId: entry!.id, status: "PENDING" } }) };
  }

  /** A fresh upload URL for a pending upload whose URL expired (or is about to). */
  async function renewAssetUpload(viewer: Viewer, assetId: string, expiresIn?: number | null) {
    const { entry, pending } = await pendingFor(viewer, assetId);
    if (!pending) throw errors.notFound("Pending upload");
    const expiresInSeconds = presignLifetime(expiresIn, presign);
    await prisma.blob.update({ where: { id: pending.id }, data: { uploadExpiresAt: new Date(Date.now() + expiresInSeconds * 1000) } });
    return { entry, uploadRequest: await presignFor(pending, expiresInSeconds) };
  }

  /**
   * Verifies the object that arrived for a pending upload and, when it is
   * right, makes it the entry's bytes. Idempotent; safe to race (the row lock
   * decides). Throws (after cleaning up) when the object contradicts the declaration.
   */
  async function finalize(blobId: string): Promise<Finalized> {
    const blob = await prisma.blob.findUnique({ where: { id: blobId } });
    if (!blob || blob.status !== "PENDING") return { state: "gone" };
    const head = await blobStore.head(blob.key);
    if (!head) return { state: "missing" };

    let contentType = blob.contentType;
    try {
      if (BigInt(head.size) !== blob.size) {
        throw new AppError("UPLOAD_INCOMPLETE", `The upload has ${head.size} bytes, ${blob.size} were declared`, { declared: Number(blob.size), received: head.size });
      }
      if (blob.sha256 && (await sha256Of(await blobStore.getStream(blob.key))) !== blob.sha256) {
        throw new AppError("UPLOAD_INCOMPLETE", "The upload's sha256 differs from the declared one", { declared: blob.sha256 });
      }
      if (head.size > 0) {
        const first = await readHead(await blobStore.getStream(blob.key, { start: 0, end: Math.min(head.size, SNIFF_BYTES) - 1 }), SNIFF_BYTES);
        contentType = decideContentType(blob.contentType, await sniffContentType(first)).contentType;
      }
    } catch (e) {
      if (!(e instanceof AppError)) throw e;
      await dropIfStillPending(blob.id);
      throw e;
    }

    const outcome = await prisma.$transaction(async (tx): Promise<Finalized & { replaced?: boolean }> => {
      await lockSpaceTree(tx, blob.spaceId, "shared");
      const [locked] = await tx.$queryRaw<{ status: string; upload_entry_id: string | null }[]>`
        SELECT status::text AS status, upload_entry_id FROM blobs WHERE id = ${blob.id} FOR UPDATE`;
      if (!locked || locked.status !== "PENDING") return { state: "gone" };
      if (!locked.upload_entry_id) {
        await dropPending(tx, blob);
        return { state: "gone" };
      }
      const entry = await tx.entry.findUniqueOrThrow({ where: { id: locked.upload_entry_id }, include: { blob: true } });
      const old = entry.blob && entry.blob.id !== blob.id ? entry.blob : null;
      await settleReservation(tx, blob.organizationId, blob.spaceId, blob.size, blob.size - (old?.size ?? 0n));
      await tx.blob.update({
        where: { id: blob.id },
        data: { status: "READY", contentType, uploadEntryId: null, uploadExpiresAt: null },
      });
      await tx.entry.update({ where: { id: entry.id }, data: { blobId: blob.id, size: blob.size, updatedAt: new Date() } });
      if (old) {
        await tx.blob.delete({ where: { id: old.id } });
        await purgeAfterCommit(queue, tx, [old.key]);
      }
      return { state: "completed", entryId: entry.id, replaced: !!old };
    });
    if (outcome.state === "completed") {
      const entry = await prisma.entry.findUniqueOrThrow({ where: { id: outcome.entryId } });
      pubsub.publish("space.events", entry.spaceId, spaceEvent(outcome.replaced ? "UPDATED" : "CREATED", entry.spaceId, entry));
    }
    return outcome;
  }

  /** completeAssetUpload: idempotent; UPLOAD_INCOMPLETE while the bytes have not arrived. */
  async function completeAssetUpload(viewer: Viewer, assetId: string) {
    const { entry, pending } = await pendingFor(viewer, assetId);
    if (pending) {
      const result = await finalize(pending.id);
      if (result.state === "missing") throw new AppError("UPLOAD_INCOMPLETE", "The upload has not arrived yet");
    } else if (!entry.blobId) {
      throw new AppError("UPLOAD_INCOMPLETE", "The file has no content");
    }
    return prisma.entry.findUniqueOrThrow({ where: { id: entry.id } });
  }

  /** For the disk store's PUT route: does `key` belong to an upload still waiting for bytes? */
  async function isAwaitingBytes(key: string): Promise<boolean> {
    const blob = await prisma.blob.findUnique({ where: { key }, select: { status: true } });
    return blob?.status === "PENDING";
  }

  /** For the disk store's PUT route: the bytes under `key` have arrived. */
  async function completeByKey(key: string): Promise<void> {
    const blob = await prisma.blob.findUnique({ where: { key }, select: { id: true } });
    if (blob) await finalize(blob.id);
  }

  /**
   * Completes pending uploads whose bytes arrived but whose client never said
   * so, and abandons those whose URL expired more than the grace period ago.
   */
  async function sweepPendingUploads(now = new Date()): Promise<{ completed: number; abandoned: number; failed: number }> {
    const result = { completed: 0, abandoned: 0, failed: 0 };
    const pending = await prisma.blob.findMany({ where: { status: "PENDING" }, orderBy: { uploadExpiresAt: "asc" }, take: SWEEP_BATCH });
    const abandonBefore = now.getTime() - deps.abandonAfterSeconds * 1000;
    for (const blob of pending) {
      try {
        const outcome = await finalize(blob.id);
        if (outcome.state === "completed") result.completed++;
        if (outcome.state === "missing" && (blob.uploadExpiresAt?.getTime() ?? 0) < abandonBefore) {
          await dropIfStillPending(blob.id);
          result.abandoned++;
        }
      } catch (e) {
        if (!(e instanceof AppError)) throw e;
        result.failed++; // finalize already removed it
      }
    }
    return result;
  }

  return { createAssetUpload, renewAssetUpload, completeAssetUpload, isAwaitingBytes, completeByKey, sweepPendingUploads };
}
