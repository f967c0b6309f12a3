// Job handlers for blobs. Idempotent: deleting a missing object succeeds.
import type { JobHandlers } from "../../jobs/catalogue.ts";
import type { BlobStore } from "../../storage/blob-store.ts";

const PARALLEL_DELETES = 8;

export function blobJobHandlers(deps: { blobStore: BlobStore }): Pick<JobHandlers, "blob.purge"> {
  return {
    "blob.purge": async ({ keys }) => {
      for (let i = 0; i < keys.length; i += PARALLEL_DELETES) {
        await Promise.all(keys.slice(i, i + PARALLEL_DELETES).map((key) => deps.blobStore.delete(key)));
      }
    },
  };
}
