// Reconciles the blob store with the blobs table. Both sides are walked in key
// order and merged, so memory stays constant however many objects there are:
//   - an object with no row is deleted (once older than a grace period: an
//     upload writes its object before the row commits);
//   - a READY row whose object is missing is marked FAILED with the reason.
// PENDING rows are left alone: their bytes may simply not have arrived yet.
// Writes that died with their process (disk `.partial` files) go too:
// removeAbandonedWrites(), also run at start (deps.ts).
import type { PrismaClient } from "../../db/prisma.ts";
import type { BlobListEntry, BlobStore } from "../../storage/blob-store.ts";

export type ReconcileReport = {
  dryRun: boolean;
  objectsScanned: number;
  /** Objects without a row, deleted (or, in a dry run, that would be). */
  orphanObjectCount: number;
  /** The first of them (at most REPORT_LIMIT), for the operator to look at. */
  orphanObjects: string[];
  /** Objects without a row that are too young to judge yet. */
  skippedYoungObjects: number;
  /** READY rows whose object is missing, marked FAILED (or that would be). */
  missingObjectCount: number;
  missingObjects: { id: string; key: string }[];
  /** Leftovers of writes that died with their process, removed (or that would be). */
  abandonedWrites: number;
};

/** An object younger than this may belong to an upload whose row is about to commit. */
export const ORPHAN_MIN_AGE_SECONDS = 3600;

/**
 * A `.partial` file untouched this long belongs to a write that died: a live
 * write touches it with every chunk, and another process sharing DATA_DIR may
 * be writing one right now. The same hour objects without rows are given.
 */
export const ABANDONED_WRITE_MIN_AGE_SECONDS = 3600;

/** Removes what writes that died with their process left in the store; returns how many. */
export async function removeAbandonedWrites(blobStore: BlobStore, options: { dryRun?: boolean; now?: Date } = {}): Promise<number> {
  const before = new Date((options.now ?? new Date()).getTime() - ABANDONED_WRITE_MIN_AGE_SECONDS * 1000);
  return blobStore.removeAbandonedWrites(before, { dryRun: options.dryRun });
}

const ROW_BATCH = 1000;
/** Reported keys are capped so a report stays readable; the counts go on. */
const REPORT_LIMIT = 1000;

/** READY blob rows in byte order of key, in batches. */
async function* readyRowsByKey(prisma: PrismaClient): AsyncGenerator<{ id: string; key: string }> {
  let after = "";
  for (;;) {
    const rows = await prisma.$queryRaw<{ id: string; key: string }[]>`
      SELECT id, key FROM blobs WHERE status = 'READY' AND key COLLATE "C" > ${after}
       ORDER BY key COLLATE "C" LIMIT ${ROW_BATCH}`;
    yield* rows;
    if (rows.length < ROW_BATCH) return;
    after = rows[rows.length - 1]!.key;
  }
}

/** Does a row (of any status) exist for each of these keys? */
async function keysWithRows(prisma: PrismaClient, keys: string[]): Promise<Set<string>> {
  if (!keys.length) return new Set();
  const rows = await prisma.blob.findMany({ where: { key: { in: keys } }, select: { key: true } });
  return new Set(rows.map((r) => r.key));
}

export async function reconcileBlobStore(
  deps: { prisma: PrismaClient; blobStore: BlobStore },
  options: { dryRun: boolean; minAgeSeconds: number; now?: Date },
): Promise<ReconcileReport> {
  const { prisma, blobStore } = deps;
  const youngerThan = (options.now ?? new Date()).getTime() - options.minAgeSeconds * 1000;
  const report: ReconcileReport = {
    dryRun: options.dryRun,
    objectsScanned: 0,
    orphanObjectCount: 0,
    orphanObjects: [],
    skippedYoungObjects: 0,
    missingObjectCount: 0,
    missingObjects: [],
    abandonedWrites: await removeAbandonedWrites(blobStore, options),
  };
  let missing: { id: string; key: string }[] = [];

  const rows = readyRowsByKey(prisma)[Symbol.asyncIterator]();
  let row = (await rows.next()).value as { id: string; key: string } | undefined;
  // Objects not matched by a READY row: they may still belong to a PENDING or FAILED row.
  let unmatched: BlobListEntry[] = [];

  const settleUnmatched = async () => {
    const owned = await keysWithRows(
      prisma,
      unmatched.map((o) => o.key),
    );
    for (const object of unmatched) {
      if (owned.has(object.key)) continue;
      if (object.lastModified.getTime() > youngerThan) {
        report.skippedYoungObjects++;
        continue;
      }
      report.orphanObjectCount++;
      if (report.orphanObjects.length < REPORT_LIMIT) report.orphanObjects.push(object.key);
      if (!options.dryRun) await blobStore.delete(object.key);
    }
    unmatched = [];
  };

  const markMissing = async () => {
    report.missingObjectCount += missing.length;
    report.missingObjects.push(...missing.slice(0, REPORT_LIMIT - report.missingObjects.length));
    if (!options.dryRun && missing.length) {
      await prisma.blob.updateMany({
        where: { id: { in: missing.map((m) => m.id) }, status: "READY" },
        data: { status: "FAILED", failureReason: "The object is missing from the blob store" },
      });
    }
    missing = [];
  };
  const noteMissing = async (r: { id: string; key: string }) => {
    missing.push(r);
    if (missing.length >= ROW_BATCH) await markMissing();
  };

  for await (const object of blobStore.list()) {
    report.objectsScanned++;
    // Rows whose keys sort before this object have no object.
    while (row && row.key < object.key) {
      await noteMissing(row);
      row = (await rows.next()).value;
    }
    if (row && row.key === object.key) {
      row = (await rows.next()).value;
      continue;
    }
    unmatched.push(object);
    if (unmatched.length >= ROW_BATCH) await settleUnmatched();
  }
  await settleUnmatched();
  for (; row; row = (await rows.next()).value) await noteMissing(row);
  await markMissing();
  return report;
}
