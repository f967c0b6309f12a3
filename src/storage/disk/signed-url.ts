// HMAC-SHA256 signatures for the disk driver's URLs. Everything that must not be
// changed by the holder (method, key, expiry, response headers, the upload's
// content type and length, and its SHA-256 when one was promised) is in the
// signed string, so a GET URL cannot PUT, a URL for one key cannot fetch another,
// and tampering with any field fails.
import { createHmac, timingSafeEqual } from "node:crypto";

export type SignedFields = {
  method: "GET" | "PUT";
  key: string;
  expires: number; // unix seconds
  disposition?: string;
  contentType?: string;
  contentLength?: number;
  /**
   * Lowercase hex SHA-256 the PUT body must have. The URL carries it as
   * Q.uploadSha256 and the client sends it, base64, in the x-amz-checksum-sha256
   * header (blob-store.ts CHECKSUM_SHA256_HEADER); the route checks both.
   */
  sha256?: string;
  /** An upload of unknown size: the most bytes the PUT may send (instead of contentLength). */
  maxLength?: number;
};

// Query parameter names, shared by signer and verifier.
export const Q = {
  expires: "X-Cabinet-Expires",
  method: "X-Cabinet-Method",
  disposition: "response-content-disposition",
  contentType: "response-content-type",
  uploadType: "X-Cabinet-Content-Type",
  uploadLength: "X-Cabinet-Content-Length",
  uploadSha256: "X-Cabinet-Checksum-Sha256",
  uploadMaxLength: "X-Cabinet-Max-Length",
  signature: "X-Cabinet-Signature",
} as const;

function canonical(f: SignedFields): string {
  const base = [f.method, f.key, f.expires, f.disposition ?? "", f.contentType ?? "", f.contentLength ?? ""].join("\n");
  // Appended only when present, so URLs signed before the field existed stay valid.
  // The field before it is a number (no "\n"), so no other field can be shifted into it.
  const withSha = f.sha256 ? `${base}\n${f.sha256.toLowerCase()}` : base;
  // Tagged, so a max length can never be read as a digest or the other way round.
  return f.maxLength === undefined ? withSha : `${withSha}\nmax:${f.maxLength}`;
}

export function sign(secret: string, fields: SignedFields): string {
  return createHmac("sha256", secret).update(canonical(fields)).digest("base64url");
}

export function verify(secret: string, fields: SignedFields, signature: string): boolean {
  const expected = Buffer.from(sign(secret, fields));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
