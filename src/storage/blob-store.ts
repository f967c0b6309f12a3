// The one interface every byte goes through. Drivers: disk-blob-store.ts (embedded
// default; presigned URLs are HMAC-signed routes on this server) and
// s3-blob-store.ts (any S3-compatible store). test/blob-store.contract.test.ts
// runs the same suite against both.
import type { Readable } from "node:stream";
import { AppError } from "../errors.ts";
import { randomToken } from "../ids.ts";

/**
 * The shape of every object key Cabinet makes: random, server-made, never
 * derived from a name or path. Drivers refuse (or, when listing, skip) any
 * other key, so a key can never walk a file tree or touch foreign objects.
 */
export const BLOB_KEY_PATTERN = /^[0-9a-z]{16,64}$/;

export const isBlobKey = (key: string): boolean => BLOB_KEY_PATTERN.test(key);

/** A fresh object key: 160 random bits, 32 characters of the ids.ts alphabet. */
export const newBlobKey = (): string => randomToken(20);

export type BlobHead = { size: number; contentType?: string };

export type ByteRange = { start: number; end: number }; // inclusive, like HTTP

export type PresignGetOptions = {
  expiresInSeconds: number;
  /** Shown to the browser through Content-Disposition. */
  fileName?: string;
  disposition?: "inline" | "attachment";
  contentType?: string;
};

export type PresignPutOptions = {
  expiresInSeconds: number;
  contentType: string;
} & (
  | { size: number; maxSize?: undefined }
  /**
   * The size is not known yet: the URL takes a body of up to `maxSize` bytes (the disk
   * route enforces it; S3 cannot bound a presigned PUT, so the completion does).
   */
  | { maxSize: number; size?: undefined }
) & {
    /**
     * Hex SHA-256 of the exact body. When given, the URL only accepts a PUT that
     * sends it (base64) in the CHECKSUM_SHA256_HEADER header, and the store
     * refuses a body with another digest (S3 checks it itself; the disk route
     * hashes the body).
     */
    sha256?: string;
  };

/** S3's name for the header; the disk driver's PUT route uses the same one. */
export const CHECKSUM_SHA256_HEADER = "x-amz-checksum-sha256";

/** Validates a hex SHA-256 and returns it as S3 wants it in CHECKSUM_SHA256_HEADER (base64 of the digest). */
export function checksumSha256HeaderValue(sha256Hex: string): string {
  if (!/^[0-9a-f]{64}$/i.test(sha256Hex)) throw new AppError("BAD_USER_INPUT", "sha256 must be 64 hexadecimal digits");
  return Buffer.from(sha256Hex, "hex").toString("base64");
}

export type BlobListEntry = { key: string; size: number; lastModified: Date };

export type UploadRequest = {
  method: "PUT";
  url: string;
  /** Headers the client must send verbatim; they are part of the signature. */
  headers: Record<string, string>;
  expiresAt: Date;
};

export interface BlobStore {
  readonly driver: "disk" | "s3";
  /**
   * Writes the whole stream under `key`. Atomic: when the stream errors or is
   * destroyed, nothing remains under `key` and the stream's error is rethrown.
   */
  put(key: string, body: Readable, options: { contentType: string; size?: number }): Promise<void>;
  head(key: string): Promise<BlobHead | null>;
  getStream(key: string, range?: ByteRange): Promise<Readable>;
  /** Idempotent: deleting a missing key succeeds. */
  delete(key: string): Promise<void>;
  presignGet(key: string, options: PresignGetOptions): Promise<string>;
  /**
   * A URL that PUTs one body of exactly the signed type and length under `key`.
   * It never replaces an object already there: disk answers 409 UPLOAD_CLOSED,
   * S3 412 (a signed `If-None-Match: *`, one of the headers to send).
   */
  presignPut(key: string, options: PresignPutOptions): Promise<UploadRequest>;
  /**
   * Every stored object whose key starts with `prefix`, in key order, paged
   * lazily. Only keys of Cabinet's shape (BLOB_KEY_PATTERN) are reported, so
   * foreign objects in a shared bucket and half-written disk files never show
   * up. Meant for maintenance (orphan sweeps), not for request paths.
   */
  list(options?: { prefix?: string }): AsyncIterable<BlobListEntry>;
  /**
   * Removes what writes that died with their process left behind, if last
   * touched before `before` (disk: `.partial` files); returns how many (that
   * would be, in a dry run). Maintenance, like list().
   */
  removeAbandonedWrites(before: Date, options?: { dryRun?: boolean }): Promise<number>;
  /** Throws an AppError (STORAGE_*) when the store cannot serve requests. */
  checkReady(): Promise<void>;
}

export type PresignLimits = { defaultExpiresSeconds: number; maxExpiresSeconds: number };

/** The lifetime a presigned URL gets: the requested one (or the default), within the configured maximum. */
export function presignLifetime(requested: number | null | undefined, limits: PresignLimits): number {
  const seconds = requested ?? limits.defaultExpiresSeconds;
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > limits.maxExpiresSeconds) {
    throw new AppError("BAD_USER_INPUT", `expiresIn must be between 1 and ${limits.maxExpiresSeconds} seconds`);
  }
  return seconds;
}
