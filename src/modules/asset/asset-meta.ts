// The client's own JSON kept with a file (`meta`): given to createAssetUpload,
// edited by updateAssetMetadata, stored in the blob's metadata under `meta`.
import { errors } from "../../errors.ts";
import { holdsNul } from "../../validation/text.ts";

export const MAX_META_BYTES = 16 * 1024;

/**
 * Throws BAD_USER_INPUT for meta over the size cap, or holding NUL (jsonb
 * cannot store it, and meta reaches SQL as JSON text, past the client's NUL
 * check); null and absent are fine (no meta).
 */
export function validateMeta(meta: unknown): void {
  if (holdsNul(meta)) throw errors.badInput("meta cannot contain NUL (U+0000) characters");
  if (meta != null && Buffer.byteLength(JSON.stringify(meta)) > MAX_META_BYTES) {
    throw errors.badInput(`meta can be at most ${MAX_META_BYTES} bytes of JSON`);
  }
}
