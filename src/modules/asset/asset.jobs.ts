// Job handlers for assets.
import type { JobHandlers } from "../../jobs/catalogue.ts";
import type { AssetUploadService } from "./asset-upload.service.ts";

export function assetJobHandlers(deps: { uploads: AssetUploadService; log: (msg: string, fields: object) => void }): Pick<JobHandlers, "upload.sweep"> {
  return {
    "upload.sweep": async () => {
      const result = await deps.uploads.sweepPendingUploads();
      if (result.completed || result.abandoned || result.failed) deps.log("swept pending uploads", result);
    },
  };
}
