// The blob lifecycle: the one place where bytes become a billed, READY blob
// and where they go again. Owners (FILE entries today; attachments next) never
// touch usage counters, blob rows or purge jobs themselves: they call this
// service and only move their own pointer.
//
//   store / reserve  bytes arrive: streamed under a fresh key (direct uploads),
//                    or a PENDING blob with a quota reservation (two-stage)
//   verify           a two-stage upload's object is checked: size, sha256, type
//   commit           in the caller's transaction: the owner points at the blob,
//                    the bytes are billed (a reservation settled), the blob it
//                    replaced is deleted and purged after commit
//   drop / purge     a pending upload that will not complete, or blobs whose
//                    owners were deleted: usage or reservation given back,
//                    objects purged after commit
//
// Changes that may orphan bytes run in transaction() (not prisma.$transaction),
// so the request deletes those objects itself once it committed (blob.purge.ts).
//
// Two-stage uploads are keyed by blob: completion (by the client, by the disk
// store's PUT route, or by the sweep) finds the blob by id or key and hands it
// to the owner registered for its `ownerKind`.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import type { Readable } from "node:stream";
import type { PrismaClient, Tx } from "../../db/prisma.ts";
import { AppError, errors } from "../../errors.ts";
import type { Blob, BlobOwnerKind } from "../../generated/prisma/client.ts";
import { newId } from "../../ids.ts";
import { decideContentType, SNIFF_BYTES, sniffContentType } from "../../ingest/content-type.ts";
import { ingest } from "../../ingest/ingest.ts";
import type { JobQueue } from "../../jobs/queue.ts";
import { newBlobKey, type BlobStore, type UploadRequest } from "../../storage/blob-store.ts";
import { billUsage, releaseQuota, reserveQuota, settleReservation } from "../organization/usage.ts";
import { inPurgingTransaction, purgeAfterCommit } from "./blob.purge.ts";

export type BlobService = ReturnType<typeof createBlobService>;

/** Where a blob is billed: its organization (quota) and space (display). */
export type BlobScope = { organizationId: string; spaceId: string };

/** Bytes streamed into the store that have no row yet (a direct upload before its commit). */
export type StoredObject = { key: string; contentType: string; size: bigint; sha256: string };

/** The blob an owner stopped pointing at; the lifecycle deletes and purges it. */
export type ReplacedBlob = { id: string; key: string; size: bigint };

/** A blob deleted together with its owner (entry-tree.sql.ts deleteSubtree); DERIVED ones were never billed. */
export type DeletedBlob = { id: string; key: string; size: bigint; status: "PENDING" | "READY" | "FAILED"; ownerKind: BlobOwnerKind };

/** Owner kinds that take uploads; DERIVED blobs (thumbnails) are made by processing, never uploaded. */
export type UploadOwnerKind = Exclude<BlobOwnerKind, "DERIVED">;

/** A file processing made from a source blob (a thumbnail, a poster), as storeDerived takes it. */
export type DerivedInput = { role: string; path: string; contentType: string; size: number; width: number; height: number };

/**
 * What an owner kind does when the lifecycle settles one of its two-stage
 * uploads. Registered per BlobOwnerKind in deps.ts.
 */
export type BlobOwner = {
  /** Takes the owner's locks before the blob row is locked (lock order: owner first, as its deletes do). */
  lock(tx: Tx, blob: Blob): Promise<void>;
  /**
   * Points the owner at `blob` (as it was while PENDING, with the owner's
   * link; the row is READY by now), records the owner's event in `tx`, and
   * returns the blob it replaced (or null). Null when the owner is gone: the
   * lifecycle then drops the upload. Called inside transactionWithEvents.
   */
  attach(tx: Tx, blob: Blob): Promise<{ replaced: ReplacedBlob | null } | null>;
  /** The pending `blob` will never complete: removes what the owner made for it (and records that). */
  detach(tx: Tx, blob: Blob): Promise<void>;
};

/** Outcome of trying to complete one pending upload. */
export type Completion = { state: "completed" } | { state: "missing" } | { state: "gone" };

/**
 * What a PUT that just placed an upload's object knows of its bytes: their digest, hashed
 * as they streamed in. The completion then checks a declared sha256 against it instead of
 * reading the whole object back (each byte hashed once). Only the PUT that placed the
 * object may say so: placing never replaces an object (decision 42).
 */
export type PlacedBytes = { sha256: string };

const SWEEP_BATCH = 200;

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

export function createBlobService(deps: {
  prisma: PrismaClient;
  blobStore: BlobStore;
  queue: JobQueue;
  owners: Record<UploadOwnerKind, BlobOwner>;
  /** How long after its URL expired a pending upload is kept before it is abandoned. */
  abandonAfterSeconds: number;
  /**
   * Called in the transaction that makes a blob READY (a direct upload's commit, a two-stage
   * completion), after its owner points at it: processing enqueues its analysis there, so the
   * job exists exactly when the bytes are committed (decision 47).
   */
  onReady?: (tx: Tx, blob: Blob) => Promise<void>;
}) {
  const { prisma, blobStore, queue, owners } = deps;
  const ownerOf = (kind: BlobOwnerKind): BlobOwner => {
    if (kind === "DERIVED") throw new Error("derived blobs have no upload owner");
    return owners[kind];
  };

  /**
   * prisma.$transaction for changes that may orphan bytes (commits that replace
   * a blob, drops, deletes): once it committed, the objects it orphaned are
   * deleted before this returns; the purge jobs it enqueued are the safety net.
   */
  function transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return inPurgingTransaction({ prisma, blobStore }, fn);
  }

  // ---------------------------------------------------------------------------
  // Direct uploads: stream, then commit

  /**
   * Streams `body` into the store under a fresh key, counted, hashed and typed
   * (ingest/ingest.ts), cut off at the file-size limit or at what is left of
   * the quota (plus `replacedSize`, the bytes an overwrite frees). That limit
   * is an early guess; commit()'s conditional UPDATE is the authority.
   * Nothing remains in the store when it throws.
   */
  async function store(organizationId: string, body: Readable, options: { declaredType?: string | null; replacedSize?: bigint }): Promise<StoredObject> {
    const org = await prisma.organization.findUniqueOrThrow({ where: { id: organizationId } });
    const quotaLeft = org.quotaBytes - org.usedBytes - org.reservedBytes + (options.replacedSize ?? 0n);
    const maxFile = org.maxFileSizeBytes;
    const key = newBlobKey();
    const ingested = await ingest(blobStore, key, body, {
      declaredType: options.declaredType,
      limitBytes: Number(maxFile < quotaLeft ? maxFile : quotaLeft < 0n ? 0n : quotaLeft),
      onLimit: (limit) => (BigInt(limit) === maxFile ? errors.fileTooLarge(limit) : errors.quotaExceeded()),
    });
    return { key, ...ingested };
  }

  /** Deletes a stored object whose commit failed (it never had a row). */
  async function discard(object: StoredObject): Promise<void> {
    await blobStore.delete(object.key).catch(() => {});
  }

  /** The owner's pointer moved: bill the difference and delete (and purge) what it replaced. */
  async function settle(tx: Tx, scope: BlobScope, size: bigint, replaced: ReplacedBlob | null, reserved: bigint | null) {
    const delta = size - (replaced?.size ?? 0n);
    if (reserved === null) await billUsage(tx, scope.organizationId, scope.spaceId, delta);
    else await settleReservation(tx, scope.organizationId, scope.spaceId, reserved, delta);
    if (replaced) {
      // Its thumbnails go with it (the rows by ON DELETE CASCADE, the objects here).
      const derived = await tx.blob.findMany({ where: { sourceBlobId: replaced.id }, select: { key: true } });
      await tx.blob.delete({ where: { id: replaced.id } });
      await purgeAfterCommit(queue, tx, [replaced.key, ...derived.map((d) => d.key)]);
    }
  }

  /**
   * Commits a stored object as a READY blob of `scope`, in the caller's
   * transaction (begun with transaction(), so the replaced bytes go before the
   * request answers): `attach` moves the owner's pointer to it and returns what it
   * replaced. Throws LIMITS_REACHED (and bills nothing) when the bytes no
   * longer fit in the quota; the caller then discard()s the object.
   */
  async function commitStored(
    tx: Tx,
    scope: BlobScope & { ownerKind: BlobOwnerKind },
    object: StoredObject,
    attach: (blobId: string) => Promise<ReplacedBlob | null>,
  ): Promise<Blob> {
    const blob = await tx.blob.create({
      data: {
        id: newId("Blob"),
        organizationId: scope.organizationId,
        spaceId: scope.spaceId,
        ownerKind: scope.ownerKind,
        key: object.key,
        status: "READY",
        size: object.size,
        contentType: object.contentType,
        sha256: object.sha256,
      },
    });
    await settle(tx, scope, blob.size, await attach(blob.id), null);
    await deps.onReady?.(tx, blob);
    return blob;
  }

  // ---------------------------------------------------------------------------
  // Two-stage uploads: reserve, presign, verify, complete

  /** A PENDING blob of `size` declared bytes, reserved against the quota (LIMITS_REACHED when it does not fit). */
  async function reserve(
    tx: Tx,
    scope: BlobScope & { ownerKind: BlobOwnerKind },
    upload: { size: bigint; contentType: string; sha256: string | null; metadata: object; expiresInSeconds: number; maxSize?: bigint },
  ): Promise<Blob> {
    // An upload of unknown size (maxSize) reserves nothing: its real size is billed on completion.
    if (upload.maxSize === undefined) await reserveQuota(tx, scope.organizationId, upload.size);
    return tx.blob.create({
      data: {
        id: newId("Blob"),
        organizationId: scope.organizationId,
        spaceId: scope.spaceId,
        ownerKind: scope.ownerKind,
        key: newBlobKey(),
        status: "PENDING",
        size: upload.maxSize === undefined ? upload.size : 0n,
        maxSize: upload.maxSize ?? null,
        contentType: upload.contentType,
        sha256: upload.sha256,
        metadata: upload.metadata as never,
        uploadExpiresAt: new Date(Date.now() + upload.expiresInSeconds * 1000),
      },
    });
  }

  /** The presigned PUT for a pending blob, bound to its type, length and (when declared) sha256. */
  function presignUpload(blob: Pick<Blob, "key" | "contentType" | "size" | "sha256" | "maxSize">, expiresInSeconds: number): Promise<UploadRequest> {
    return blobStore.presignPut(blob.key, {
      expiresInSeconds,
      contentType: blob.contentType,
      ...(blob.maxSize === null ? { size: Number(blob.size) } : { maxSize: Number(blob.maxSize) }),
      ...(blob.sha256 ? { sha256: blob.sha256 } : {}),
    });
  }

  /** A fresh upload URL for a pending blob whose URL expired (or is about to). */
  async function renewUpload(blob: Blob, expiresInSeconds: number): Promise<UploadRequest> {
    await prisma.blob.update({ where: { id: blob.id }, data: { uploadExpiresAt: new Date(Date.now() + expiresInSeconds * 1000) } });
    return presignUpload(blob, expiresInSeconds);
  }

  /** Removes a pending upload that will not complete: what its owner made for it, the row, the reservation, the object. */
  async function drop(tx: Tx, blob: Blob): Promise<void> {
    await ownerOf(blob.ownerKind).detach(tx, blob);
    await tx.blob.delete({ where: { id: blob.id } });
    await releaseQuota(tx, blob.organizationId, blob.size);
    await purgeAfterCommit(queue, tx, [blob.key]);
  }

  /** drop(), unless the upload completed (or went) in the meantime. */
  async function dropIfStillPending(blobId: string): Promise<void> {
    await transaction(async (tx) => {
      const [still] = await tx.$queryRaw<{ status: string }[]>`SELECT status::text AS status FROM blobs WHERE id = ${blobId} FOR UPDATE`;
      if (still?.status === "PENDING") await drop(tx, await tx.blob.findUniqueOrThrow({ where: { id: blobId } }));
    });
  }

  /**
   * Checks the object that arrived for a pending blob: its size, its sha256
   * when one was declared, and that its first bytes do not contradict the
   * declared type. Returns the content type to store; throws an AppError on a
   * mismatch; null when nothing has arrived yet.
   */
  /** `placed`: the digest of the object's bytes, when the caller hashed them as they were stored. */
  async function verify(blob: Blob, placed?: PlacedBytes): Promise<{ contentType: string; size: bigint } | null> {
    const head = await blobStore.head(blob.key);
    if (!head) return null;
    if (blob.maxSize !== null) {
      // Of unknown size: S3 could not bound the PUT, so the limit is checked here.
      if (BigInt(head.size) > blob.maxSize) throw errors.fileTooLarge(blob.maxSize);
    } else if (BigInt(head.size) !== blob.size) {
      throw errors.uploadIncomplete(`The upload has ${head.size} bytes, ${blob.size} were declared`, { declared: Number(blob.size), received: head.size });
    }
    if (blob.sha256 && (placed?.sha256 ?? (await sha256Of(await blobStore.getStream(blob.key)))) !== blob.sha256) {
      throw errors.uploadIncomplete("The upload's sha256 differs from the declared one", { declared: blob.sha256 });
    }
    const size = BigInt(head.size);
    if (head.size === 0) return { contentType: blob.contentType, size };
    const first = await readHead(await blobStore.getStream(blob.key, { start: 0, end: Math.min(head.size, SNIFF_BYTES) - 1 }), SNIFF_BYTES);
    return { contentType: decideContentType(blob.contentType, await sniffContentType(first)).contentType, size };
  }

  /**
   * Verifies a pending upload's object and, when it is right, commits it to
   * its owner. Idempotent and safe to race (the row lock decides). Throws
   * (after dropping the upload) when the object contradicts the declaration.
   */
  async function completeUpload(blobId: string, placed?: PlacedBytes): Promise<Completion> {
    const blob = await prisma.blob.findUnique({ where: { id: blobId } });
    if (blob?.status !== "PENDING") return { state: "gone" };
    let verified: { contentType: string; size: bigint } | null;
    try {
      verified = await verify(blob, placed);
    } catch (e) {
      if (!(e instanceof AppError)) throw e;
      await dropIfStillPending(blob.id);
      throw e;
    }
    if (!verified) return { state: "missing" };

    const owner = ownerOf(blob.ownerKind);
    // Declared: the reservation becomes usage. Of unknown size: the real size is billed now, within the quota.
    const unknownSize = blob.maxSize !== null;
    const ready = { status: "READY" as const, contentType: verified.contentType, size: verified.size, uploadEntryId: null, uploadExpiresAt: null };
    let outcome: Awaited<ReturnType<BlobOwner["attach"]>>;
    try {
      outcome = await transaction(async (tx) => {
        await owner.lock(tx, blob);
        const [locked] = await tx.$queryRaw<{ id: string }[]>`SELECT id FROM blobs WHERE id = ${blob.id} AND status = 'PENDING' FOR UPDATE`;
        if (!locked) return null;
        // Read again under the lock: the owner's link is what it is now, not when we started.
        const pending = await tx.blob.findUniqueOrThrow({ where: { id: blob.id } });
        await tx.blob.update({ where: { id: blob.id }, data: ready });
        // The pending row as it was (its uploadEntryId names the owner), with the size now known.
        const attached = await owner.attach(tx, { ...pending, size: verified.size });
        if (!attached) {
          await drop(tx, pending);
          return null;
        }
        await settle(tx, blob, verified.size, attached.replaced, unknownSize ? null : blob.size);
        await deps.onReady?.(tx, { ...pending, ...ready });
        return attached;
      });
    } catch (e) {
      // Bytes that do not fit the quota are not kept: the upload is dropped (nothing was reserved).
      if (unknownSize && e instanceof AppError && e.code === "LIMITS_REACHED") await dropIfStillPending(blob.id);
      throw e;
    }
    return outcome ? { state: "completed" } : { state: "gone" };
  }

  /** For the disk store's PUT route: does `key` belong to an upload still waiting for bytes? */
  async function isAwaitingBytes(key: string): Promise<boolean> {
    const blob = await prisma.blob.findUnique({ where: { key }, select: { status: true } });
    return blob?.status === "PENDING";
  }

  /**
   * For the disk store's PUT route: runs `place` (which puts the PUT's bytes
   * under `key` unless an object is there) only while the upload is PENDING,
   * with its row locked, so a completion, a drop or a delete of the upload
   * waits for it, and a PUT that lost the race places nothing.
   */
  async function placeIfAwaitingBytes(key: string, place: () => Promise<boolean>): Promise<boolean> {
    return prisma.$transaction(async (tx) => {
      const [pending] = await tx.$queryRaw<{ id: string }[]>`SELECT id FROM blobs WHERE key = ${key} AND status = 'PENDING' FOR UPDATE`;
      return pending ? place() : false;
    });
  }

  /** For the disk store's PUT route: the bytes under `key` have arrived. */
  async function completeByKey(key: string, placed: PlacedBytes): Promise<void> {
    const blob = await prisma.blob.findUnique({ where: { key }, select: { id: true } });
    if (blob) await completeUpload(blob.id, placed);
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
        const outcome = await completeUpload(blob.id);
        if (outcome.state === "completed") result.completed++;
        if (outcome.state === "missing" && (blob.uploadExpiresAt?.getTime() ?? 0) < abandonBefore) {
          await dropIfStillPending(blob.id);
          result.abandoned++;
        }
      } catch (e) {
        if (!(e instanceof AppError)) throw e;
        result.failed++; // completeUpload already dropped it
      }
    }
    return result;
  }

  // ---------------------------------------------------------------------------
  // Owners deleted

  /**
   * Blobs whose rows went with their owners (a deleted subtree): gives their
   * bytes back, in the caller's transaction. Billed bytes (READY, and FAILED
   * ones, which were billed before their object vanished) leave the usage;
   * pending uploads release their reservation. The objects are purged after commit.
   */
  async function purgeDeleted(tx: Tx, scope: BlobScope, blobs: readonly DeletedBlob[]): Promise<void> {
    // Derived blobs (thumbnails) were never billed: they only go.
    const owned = blobs.filter((b) => b.ownerKind !== "DERIVED");
    const sum = (billed: boolean) => owned.filter((b) => (b.status !== "PENDING") === billed).reduce((total, b) => total + b.size, 0n);
    await billUsage(tx, scope.organizationId, scope.spaceId, -sum(true));
    await releaseQuota(tx, scope.organizationId, sum(false));
    await purgeAfterCommit(
      queue,
      tx,
      blobs.map((b) => b.key),
    );
  }

  // ---------------------------------------------------------------------------
  // Derived files (processing)

  /**
   * Stores files processing made from `source` as READY blobs owned by it (ownerKind DERIVED,
   * one per role: a role made again replaces the old blob, whose object is purged). Not billed:
   * they are Cabinet's, not the user's, bytes (decision 47). When the source went meanwhile the
   * new objects are deleted again and nothing is stored; returns whether they were stored.
   * `within` runs in the same transaction (the step's DONE is recorded with the files).
   */
  async function storeDerived(source: Pick<Blob, "id">, files: readonly DerivedInput[], within?: (tx: Tx) => Promise<void>): Promise<boolean> {
    const stored: { file: DerivedInput; key: string; sha256: string }[] = [];
    try {
      // In parallel: a thumbnail set is a few small files, and each put is a round trip (S3) or a file (disk).
      const puts = await Promise.allSettled(
        files.map(async (file) => {
          const key = newBlobKey();
          const [sha256] = await Promise.all([
            sha256Of(createReadStream(file.path)),
            blobStore.put(key, createReadStream(file.path), { contentType: file.contentType, size: file.size }),
          ]);
          stored.push({ file, key, sha256 });
        }),
      );
      const failedPut = puts.find((p) => p.status === "rejected");
      if (failedPut) throw failedPut.reason;
      const kept = await transaction(async (tx) => {
        const [full] = await tx.$queryRaw<{ organizationId: string; spaceId: string }[]>`
          SELECT organization_id AS "organizationId", space_id AS "spaceId" FROM blobs WHERE id = ${source.id} AND status = 'READY' FOR UPDATE`;
        if (!full) return false;
        const old = await tx.blob.findMany({ where: { sourceBlobId: source.id, role: { in: stored.map((s) => s.file.role) } } });
        if (old.length) {
          await tx.blob.deleteMany({ where: { id: { in: old.map((o) => o.id) } } });
          await purgeAfterCommit(
            queue,
            tx,
            old.map((o) => o.key),
          );
        }
        for (const { file, key, sha256 } of stored) {
          await tx.blob.create({
            data: {
              id: newId("Blob"),
              organizationId: full.organizationId,
              spaceId: full.spaceId,
              ownerKind: "DERIVED",
              sourceBlobId: source.id,
              role: file.role,
              key,
              status: "READY",
              size: BigInt(file.size),
              contentType: file.contentType,
              sha256,
              metadata: { width: file.width, height: file.height },
            },
          });
        }
        await within?.(tx);
        return true;
      });
      if (!kept) await Promise.all(stored.map((s) => blobStore.delete(s.key).catch(() => {})));
      return kept;
    } catch (e) {
      await Promise.all(stored.map((s) => blobStore.delete(s.key).catch(() => {})));
      throw e;
    }
  }

  // ---------------------------------------------------------------------------
  // Downloads

  /** For the disk store's GET route (its ETag): the verified sha256 of the READY blob under `key`, if known. */
  async function readySha256(key: string): Promise<string | null> {
    const blob = await prisma.blob.findUnique({ where: { key }, select: { status: true, sha256: true } });
    return blob?.status === "READY" ? blob.sha256 : null;
  }

  return {
    transaction,
    store,
    discard,
    commitStored,
    reserve,
    presignUpload,
    renewUpload,
    drop,
    completeUpload,
    isAwaitingBytes,
    placeIfAwaitingBytes,
    completeByKey,
    sweepPendingUploads,
    purgeDeleted,
    storeDerived,
    readySha256,
  };
}
