// Purging objects whose rows were committed away, in two ways:
//   - in the committing request's wake: a change made through
//     inPurgingTransaction() deletes the objects it orphaned itself, after its
//     commit and before it returns, so no client can orphan bytes faster than
//     they go (bytes awaiting purge stay bounded by the requests in flight:
//     decision 31);
//   - by jobs that join the caller's transaction, so bytes are purged exactly
//     when the change that orphaned them commits: the safety net when the
//     request dies, the store fails, or a large delete leaves the rest to them.
import type { PrismaClient, Tx } from "../../db/prisma.ts";
import { transactionWithEvents } from "../../events/event-log.ts";
import type { JobQueue } from "../../jobs/queue.ts";
import type { BlobStore } from "../../storage/blob-store.ts";

const KEYS_PER_JOB = 500;

/** At most this many objects are deleted in a request's wake; the jobs take the rest of a larger delete. */
export const WAKE_PURGE_LIMIT = 100;
const WAKE_PARALLEL_DELETES = 8;

/** Keys orphaned so far by each open transaction begun by inPurgingTransaction(). */
const orphanedBy = new WeakMap<Tx, string[]>();

export async function purgeAfterCommit(queue: JobQueue, tx: Tx, keys: readonly string[]): Promise<void> {
  for (let i = 0; i < keys.length; i += KEYS_PER_JOB) {
    await queue.send("blob.purge", { keys: keys.slice(i, i + KEYS_PER_JOB) }, { tx });
  }
  orphanedBy.get(tx)?.push(...keys);
}

/**
 * prisma.$transaction(fn); once it committed, deletes the objects that `fn`
 * orphaned (purgeAfterCommit) before returning. A failed delete is left to
 * its job; a rolled-back transaction deletes nothing.
 */
export async function inPurgingTransaction<T>(deps: { prisma: PrismaClient; blobStore: BlobStore }, fn: (tx: Tx) => Promise<T>): Promise<T> {
  const orphaned: string[] = [];
  // With events: a change that orphans bytes is also one someone may watch.
  const result = await transactionWithEvents(deps.prisma, (tx) => {
    orphanedBy.set(tx, orphaned);
    return fn(tx);
  });
  const keys = orphaned.slice(0, WAKE_PURGE_LIMIT);
  for (let i = 0; i < keys.length; i += WAKE_PARALLEL_DELETES) {
    await Promise.all(keys.slice(i, i + WAKE_PARALLEL_DELETES).map((key) => deps.blobStore.delete(key).catch(() => {})));
  }
  return result;
}
