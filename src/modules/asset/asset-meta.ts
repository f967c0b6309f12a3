// The client's own JSON kept with a file (`meta`): given to createAssetUpload,
// edited by updateAssetMetadata, stored in the blob's metadata under `meta`.
import { errors } from "../../errors.ts";

export const MAX_META_BYTES = 16 * 1024;

/** Throws BAD_USER_INPUT for meta over the size cap; null and absent are fine (no meta). */
export function validateMeta(meta: unknown): void {
  if (meta != null && Buffer.byteLength(JSON.stringify(meta)) > MAX_META_BYTES) {
    throw errors.badInput(`meta can be at most ${MAX_META_BYTES} bytes of JSON`);
  }
}
