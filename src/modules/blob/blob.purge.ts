// Purging objects whose rows were committed away. The jobs join the caller's
// transaction, so bytes are purged exactly when the change that orphaned them commits.
import type { Tx } from "../../db/prisma.ts";
import type { JobQueue } from "../../jobs/queue.ts";

const KEYS_PER_JOB = 500;

export async function purgeAfterCommit(queue: JobQueue, tx: Tx, keys: readonly string[]): Promise<void> {
  for (let i = 0; i < keys.length; i += KEYS_PER_JOB) {
    await queue.send("blob.purge", { keys: keys.slice(i, i + KEYS_PER_JOB) }, { tx });
  }
}
