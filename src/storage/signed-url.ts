// HMAC-SHA256 signatures for the disk driver's URLs. Everything that must not be
// changed by the holder (method, key, expiry, response headers, the upload's
// content type and length) is in the signed string, so a GET URL cannot PUT, a
// URL for one key cannot fetch another, and tampering with any field fails.
import { createHmac, timingSafeEqual } from "node:crypto";

export type SignedFields = {
  method: "GET" | "PUT";
  key: string;
  expires: number; // unix seconds
  disposition?: string;
  contentType?: string;
  contentLength?: number;
};

// Query parameter names, shared by signer and verifier.
export const Q = {
  expires: "X-Cabinet-Expires",
  method: "X-Cabinet-Method",
  disposition: "response-content-disposition",
  contentType: "response-content-type",
  uploadType: "X-Cabinet-Content-Type",
  uploadLength: "X-Cabinet-Content-Length",
  signature: "X-Cabinet-Signature",
} as const;

function canonical(f: SignedFields): string {
  return [f.method, f.key, f.expires, f.disposition ?? "", f.contentType ?? "", f.contentLength ?? ""].join("\n");
}

export function sign(secret: string, fields: SignedFields): string {
  return createHmac("sha256", secret).update(canonical(fields)).digest("base64url");
}

export function verify(secret: string, fields: SignedFields, signature: string): boolean {
  const expected = Buffer.from(sign(secret, fields));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
