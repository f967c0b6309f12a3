// Job handlers for blobs. Idempotent: deleting a missing object succeeds.
import type { JobHandlers } from "../../jobs/catalogue.ts";
import type { BlobStore } from "../../storage/blob-store.ts";

export function blobJobHandlers(deps: { blobStore: BlobStore }): Pick<JobHandlers, "blob.purge"> {
  return {
    "blob.purge": async ({ key }) => {
      await deps.blobStore.delete(key);
    },
  };
}
