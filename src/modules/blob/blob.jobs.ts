// Job handlers for blobs. Idempotent: deleting a missing object succeeds.
import type { JobHandlers } from "../../jobs/catalogue.ts";
import type { PrismaClient } from "../../db/prisma.ts";
import type { BlobStore } from "../../storage/blob-store.ts";
import { reconcileOrphans } from "./blob.orphans.ts";

/** An object younger than this may belong to an upload whose row is about to commit. */
export const ORPHAN_MIN_AGE_SECONDS = 3600;

const PARALLEL_DELETES = 8;

export function blobJobHandlers(deps: {
  prisma: PrismaClient;
  blobStore: BlobStore;
  log: (msg: string, fields: object) => void;
}): Pick<JobHandlers, "blob.purge" | "blob.orphans"> {
  return {
    "blob.orphans": async ({ dryRun }) => {
      const report = await reconcileOrphans(deps, { dryRun: !!dryRun, minAgeSeconds: ORPHAN_MIN_AGE_SECONDS });
      deps.log("reconciled blob store and rows", report);
    },
    "blob.purge": async ({ keys }) => {
      for (let i = 0; i < keys.length; i += PARALLEL_DELETES) {
        await Promise.all(keys.slice(i, i + PARALLEL_DELETES).map((key) => deps.blobStore.delete(key)));
      }
    },
  };
}
