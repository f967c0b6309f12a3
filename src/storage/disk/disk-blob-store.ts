// Local-disk BlobStore, the embedded default. Objects live under <root>/<k0k1>/<key>;
// writes go to <root>/.partial first and are renamed into place only when the
// whole stream arrived, so a half-written object is never visible. Presigned
// URLs point at this server's /blobs route (disk-blob.routes.ts), signed with
// HMAC over everything the holder must not change (signed-url.ts); a PUT there
// is written as a TemporaryObject and only placed under a key nothing holds yet.
import { createReadStream, createWriteStream } from "node:fs";
import { access, constants, link, mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { AppError } from "../../errors.ts";
import { randomToken } from "../../ids.ts";
import {
  CHECKSUM_SHA256_HEADER,
  checksumSha256HeaderValue,
  type BlobHead,
  type BlobListEntry,
  type BlobStore,
  type ByteRange,
  type PresignGetOptions,
  type PresignPutOptions,
  type UploadRequest,
  isBlobKey,
} from "../blob-store.ts";
import { contentDisposition } from "../content-disposition.ts";
import { Q, sign, type SignedFields } from "./signed-url.ts";

// The fan-out directories: the first two characters of the key.
const SHARD_PATTERN = /^[0-9a-z]{2}$/;

const isEnoent = (e: unknown) => (e as NodeJS.ErrnoException)?.code === "ENOENT";

/** The bytes of one PUT, in a private file under `.partial`: visible under no key until placed. */
export type TemporaryObject = {
  /**
   * Links the bytes under their key unless an object is already there, in one
   * step (link(2) never replaces its target). False, and nothing changed, when
   * the key was taken. Either way the temporary file is gone afterwards.
   */
  placeIfAbsent(): Promise<boolean>;
  /** Removes the temporary file; idempotent, and harmless after placeIfAbsent(). */
  discard(): Promise<void>;
};

export type DiskBlobStoreOptions = {
  root: string;
  /** Base URL of this server as clients reach it, e.g. http://localhost:4000 */
  publicUrl: string;
  signingSecret: string;
};

const READ_CHUNK_BYTES = 256 * 1024;

export class DiskBlobStore implements BlobStore {
  readonly driver = "disk" as const;
  readonly root: string;
  readonly signingSecret: string;
  private readonly publicUrl: string;
  private readonly partialDir: string;

  constructor(options: DiskBlobStoreOptions) {
    this.root = path.resolve(options.root);
    this.partialDir = path.join(this.root, ".partial");
    this.publicUrl = options.publicUrl.replace(/\/+$/, "");
    this.signingSecret = options.signingSecret;
  }

  static isValidKey(key: string): boolean {
    return isBlobKey(key);
  }

  pathFor(key: string): string {
    if (!DiskBlobStore.isValidKey(key)) throw new AppError("BAD_USER_INPUT", "Invalid blob key");
    return path.join(this.root, key.slice(0, 2), key);
  }

  async put(key: string, body: Readable, _options: { contentType: string; size?: number }): Promise<void> {
    const final = this.pathFor(key);
    await mkdir(path.dirname(final), { recursive: true });
    const partial = await this.writePartial(key, body);
    try {
      await rename(partial, final);
    } catch (e) {
      await rm(partial, { force: true });
      throw e;
    }
  }

  /**
   * Writes the whole stream to a temporary file of its own, for the PUT route:
   * concurrent PUTs to one key never see or touch each other's bytes, and
   * nothing under `key` changes until placeIfAbsent(). Nothing remains when it throws.
   */
  async writeTemporary(key: string, body: Readable): Promise<TemporaryObject> {
    const final = this.pathFor(key);
    const partial = await this.writePartial(key, body);
    return {
      async placeIfAbsent() {
        try {
          await mkdir(path.dirname(final), { recursive: true });
          await link(partial, final);
          return true;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
          throw e;
        } finally {
          await rm(partial, { force: true });
        }
      },
      discard: () => rm(partial, { force: true }),
    };
  }

  /** Streams `body` into a fresh file under .partial and returns its path; removes it when the stream fails. */
  private async writePartial(key: string, body: Readable): Promise<string> {
    await mkdir(this.partialDir, { recursive: true });
    const partial = path.join(this.partialDir, `${key}.${randomToken(6)}`);
    try {
      await pipeline(body, createWriteStream(partial, { flags: "wx" }));
      return partial;
    } catch (e) {
      await rm(partial, { force: true });
      throw e;
    }
  }

  /**
   * Removes `.partial` files last modified before `before`: writes that died
   * with their process. A live write touches its file with every chunk, so only
   * a writer stalled that long could lose its file (its put then fails).
   */
  async removeAbandonedWrites(before: Date, options: { dryRun?: boolean } = {}): Promise<number> {
    let removed = 0;
    for (const name of await this.readdirOrEmpty(this.partialDir)) {
      const file = path.join(this.partialDir, name);
      let s: Awaited<ReturnType<typeof stat>>;
      try {
        s = await stat(file);
      } catch (e) {
        if (isEnoent(e)) continue; // placed or discarded meanwhile
        throw this.unavailable(e);
      }
      if (!s.isFile() || s.mtime >= before) continue;
      if (!options.dryRun) await rm(file, { force: true });
      removed++;
    }
    return removed;
  }

  async head(key: string): Promise<BlobHead | null> {
    const s = await this.stat(key);
    return s && { size: s.size };
  }

  /** Size and modification time of the object (the GET route's Last-Modified); null when absent. */
  async stat(key: string): Promise<{ size: number; lastModified: Date } | null> {
    try {
      const s = await stat(this.pathFor(key));
      return { size: s.size, lastModified: s.mtime };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw e;
    }
  }

  async getStream(key: string, range?: ByteRange): Promise<Readable> {
    const file = this.pathFor(key);
    // Open eagerly so a missing object is an error here, not a late stream error.
    // 256 KiB reads instead of the default 64 KiB: a quarter of the syscalls and chunks
    // through Fastify's pipe per byte, for the same bounded memory per download.
    const stream = createReadStream(file, { highWaterMark: READ_CHUNK_BYTES, ...(range ? { start: range.start, end: range.end } : {}) });
    await new Promise<void>((resolve, reject) => {
      stream.once("open", () => resolve());
      stream.once("error", (e) => reject((e as NodeJS.ErrnoException).code === "ENOENT" ? new AppError("NOT_FOUND", "Blob not found") : e));
    });
    return stream;
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathFor(key), { force: true });
  }

  private url(fields: SignedFields, extra: Record<string, string>): string {
    const params = new URLSearchParams({
      [Q.method]: fields.method,
      [Q.expires]: String(fields.expires),
      ...extra,
      [Q.signature]: sign(this.signingSecret, fields),
    });
    return `${this.publicUrl}/blobs/${fields.key}?${params}`;
  }

  async presignGet(key: string, options: PresignGetOptions): Promise<string> {
    this.pathFor(key);
    const disposition = options.fileName || options.disposition ? contentDisposition(options.disposition ?? "inline", options.fileName) : undefined;
    const fields: SignedFields = {
      method: "GET",
      key,
      expires: Math.floor(Date.now() / 1000) + options.expiresInSeconds,
      disposition,
      contentType: options.contentType,
    };
    const extra: Record<string, string> = {};
    if (disposition) extra[Q.disposition] = disposition;
    if (options.contentType) extra[Q.contentType] = options.contentType;
    return this.url(fields, extra);
  }

  async presignPut(key: string, options: PresignPutOptions): Promise<UploadRequest> {
    this.pathFor(key);
    const checksum = options.sha256 === undefined ? undefined : checksumSha256HeaderValue(options.sha256);
    const sha256 = options.sha256?.toLowerCase();
    const expires = Math.floor(Date.now() / 1000) + options.expiresInSeconds;
    const length = options.size === undefined ? { maxLength: options.maxSize } : { contentLength: options.size };
    const fields: SignedFields = { method: "PUT", key, expires, contentType: options.contentType, ...length, sha256 };
    const url = this.url(fields, {
      [Q.uploadType]: options.contentType,
      ...(options.size === undefined ? { [Q.uploadMaxLength]: String(options.maxSize) } : { [Q.uploadLength]: String(options.size) }),
      ...(sha256 ? { [Q.uploadSha256]: sha256 } : {}),
    });
    const headers: Record<string, string> = { "Content-Type": options.contentType };
    if (options.size !== undefined) headers["Content-Length"] = String(options.size);
    if (checksum) headers[CHECKSUM_SHA256_HEADER] = checksum;
    return { method: "PUT", url, headers, expiresAt: new Date(expires * 1000) };
  }

  /**
   * Walks <root>/<k0k1>/ in key order. `.partial` (writes in flight) and
   * anything that is not a key-shaped regular file are skipped; an object
   * deleted while the walk runs is simply not reported.
   */
  async *list(options: { prefix?: string } = {}): AsyncGenerator<BlobListEntry> {
    const prefix = options.prefix ?? "";
    const shards = await this.readdirOrEmpty(this.root);
    for (const shard of shards) {
      if (!SHARD_PATTERN.test(shard)) continue;
      if (prefix.length >= 2 ? shard !== prefix.slice(0, 2) : !shard.startsWith(prefix)) continue;
      for (const name of await this.readdirOrEmpty(path.join(this.root, shard))) {
        if (!name.startsWith(prefix) || !isBlobKey(name) || !name.startsWith(shard)) continue;
        let s: Awaited<ReturnType<typeof stat>>;
        try {
          s = await stat(path.join(this.root, shard, name));
        } catch (e) {
          if (isEnoent(e)) continue;
          throw this.unavailable(e);
        }
        if (s.isFile()) yield { key: name, size: s.size, lastModified: s.mtime };
      }
    }
  }

  /** Sorted names in `dir` ([0-9a-z] only, so this is S3's byte order); none when it does not exist. */
  private async readdirOrEmpty(dir: string): Promise<string[]> {
    try {
      return (await readdir(dir)).sort();
    } catch (e) {
      if (isEnoent(e)) return [];
      throw this.unavailable(e);
    }
  }

  private unavailable(cause: unknown): AppError {
    return new AppError("STORAGE_UNAVAILABLE", `Blob directory ${this.root} is not readable`, undefined, { cause });
  }

  async checkReady(): Promise<void> {
    try {
      await mkdir(this.partialDir, { recursive: true });
      await access(this.root, constants.W_OK);
    } catch (e) {
      throw new AppError("STORAGE_UNAVAILABLE", `Blob directory ${this.root} is not writable`, undefined, { cause: e });
    }
  }
}
