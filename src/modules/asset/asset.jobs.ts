// Job handlers for assets.
import type { JobHandlers } from "../../jobs/catalogue.ts";
import type { BlobService } from "../blob/blob.service.ts";

export function assetJobHandlers(deps: { blobs: BlobService; log: (msg: string, fields: object) => void }): Pick<JobHandlers, "upload.sweep"> {
  return {
    "upload.sweep": async () => {
      const result = await deps.blobs.sweepPendingUploads();
      if (result.completed || result.abandoned || result.failed) deps.log("swept pending uploads", result);
    },
  };
}
