// The one interface every byte goes through. Drivers: disk-blob-store.ts (embedded
// default; presigned URLs are HMAC-signed routes on this server) and
// s3-blob-store.ts (any S3-compatible store). test/blob-store.contract.test.ts
// runs the same suite against both.
import type { Readable } from "node:stream";

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
  size: number;
};

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
  presignPut(key: string, options: PresignPutOptions): Promise<UploadRequest>;
  /** Throws an AppError (STORAGE_*) when the store cannot serve requests. */
  checkReady(): Promise<void>;
}
