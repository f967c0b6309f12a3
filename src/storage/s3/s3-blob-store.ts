// S3-compatible BlobStore (AWS S3, MinIO, R2, Ceph…). Streams of unknown length
// go up as multipart uploads (bounded memory: queueSize × partSize); an aborted
// stream aborts the multipart upload, so nothing is left under the key.
//
// Outages and misconfiguration never hang a request and never surface as a bare
// 500: the HTTP handler has a connect timeout and a socket idle timeout, small
// requests have an overall deadline, and every SDK error goes through
// toStorageError() into STORAGE_UNAVAILABLE (may pass by itself, try again later:
// connection refused/reset, DNS, timeouts, 5xx, throttling, other refusals) or
// STORAGE_NOT_CONFIGURED (retrying cannot help, an operator must act: missing
// bucket, any 401/403 i.e. rejected or missing credentials or a denying policy,
// wrong region/endpoint, untrusted TLS certificate).
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import type { Readable } from "node:stream";
import type { S3Config } from "../../config.ts";
import { AppError } from "../../errors.ts";
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
import { S3Presigner, type AwsCredentials } from "./s3-presigner.ts";

const PART_SIZE = 8 * 1024 * 1024;
const IF_NONE_MATCH = "If-None-Match";

// Timeouts (@smithy/node-http-handler 4.14). Its `requestTimeout` is NOT a
// socket idle timeout any more: it is a wall-clock limit from the start of a
// request until the response headers, which includes writing the whole body
// (an 8 MiB part on a slow uplink can legitimately take a minute), and it only
// logs a warning unless `throwOnRequestTimeout` is set. So it stays unset, and:
export type S3Timeouts = {
  /** TCP connect (not TLS): an endpoint that drops SYNs fails after this. */
  connectMs: number;
  /**
   * `socketTimeout`: no byte in either direction for this long fails the request.
   * A slow but moving upload or download is never cut; a server that accepted the
   * connection and went silent is. It also applies while a getStream() body is
   * read: a consumer that stops reading for this long gets a TimeoutError.
   */
  idleMs: number;
  /** Overall deadline (all attempts) of a small request until its response headers: HEAD, DELETE, GET, List. */
  requestDeadlineMs: number;
  /** checkReady (/readyz) must answer well within a probe's timeout. */
  readyDeadlineMs: number;
  /** Attempts per request, with the SDK's jittered backoff between them (~0.1 s, ~0.2 s). */
  maxAttempts: number;
};

export const DEFAULT_S3_TIMEOUTS: Readonly<S3Timeouts> = Object.freeze({
  connectMs: 3_000,
  idleMs: 15_000,
  requestDeadlineMs: 10_000,
  readyDeadlineMs: 5_000,
  maxAttempts: 3,
});

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EHOSTDOWN",
  "ENETDOWN",
  "ECONNABORTED",
  "UND_ERR_SOCKET",
]);
// TLS failures that mean S3_ENDPOINT is wrong or its certificate is not trusted.
const TLS_CODES = new Set([
  "ERR_SSL_WRONG_VERSION_NUMBER",
  "CERT_HAS_EXPIRED",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);
// S3 error codes an operator has to fix: retrying cannot help.
const BUCKET_MISSING = new Set(["NoSuchBucket"]);
const CREDENTIALS_REJECTED = new Set([
  "AccessDenied",
  "AllAccessDisabled",
  "AccountProblem",
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "InvalidToken",
  "ExpiredToken",
  "InvalidSecurity",
  "NotSignedUp",
  "Forbidden",
]);
const WRONG_PLACE = new Set([
  "PermanentRedirect",
  "AuthorizationHeaderMalformed",
  "IllegalLocationConstraintException",
  "InvalidBucketName",
  "MovedPermanently",
  "Redirect",
]);

export type StorageErrorContext = { bucket: string; endpoint: string; region: string };

/** The first error code in `codes` found on `e`, inside an AggregateError, or down its causes. */
function findCode(e: unknown, codes: Set<string>, depth = 0): string | undefined {
  const err = e as { code?: unknown; errors?: unknown[]; cause?: unknown } | null;
  if (!err || depth > 4) return undefined;
  if (typeof err.code === "string" && codes.has(err.code)) return err.code;
  // Node's happy-eyeballs connect reports an AggregateError of per-address errors.
  for (const inner of Array.isArray(err.errors) ? err.errors : []) {
    const code = findCode(inner, codes, depth + 1);
    if (code) return code;
  }
  return findCode(err.cause, codes, depth + 1);
}

/**
 * Turns whatever the SDK threw into STORAGE_UNAVAILABLE or STORAGE_NOT_CONFIGURED.
 * AppErrors pass through; an error that is neither an S3 answer nor a network or
 * timeout failure (a bug, a stream's own error) is returned unchanged.
 */
export function toStorageError(e: unknown, where: StorageErrorContext): unknown {
  if (e instanceof AppError) return e;
  const name = (e as { name?: unknown } | null)?.name;
  const notConfigured = (message: string) => new AppError("STORAGE_NOT_CONFIGURED", message, { bucket: where.bucket }, { cause: e });
  const unavailable = (message: string) => new AppError("STORAGE_UNAVAILABLE", message, undefined, { cause: e });

  if (e instanceof S3ServiceException || (e as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode) {
    const s3 = e as S3ServiceException;
    const status = s3.$metadata?.httpStatusCode;
    const label = `${s3.name}${status ? `, HTTP ${status}` : ""}`;
    if (BUCKET_MISSING.has(s3.name)) return notConfigured(`Bucket "${where.bucket}" does not exist at ${where.endpoint} (${label})`);
    if (CREDENTIALS_REJECTED.has(s3.name) || status === 401 || status === 403) {
      return notConfigured(
        `S3 at ${where.endpoint} refused access to bucket "${where.bucket}" (${label}): check S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY and the bucket policy`,
      );
    }
    if (WRONG_PLACE.has(s3.name) || status === 301 || status === 307) {
      return notConfigured(
        `Bucket "${where.bucket}" is not reachable as configured (${label}): check S3_REGION ("${where.region}"), S3_ENDPOINT and S3_FORCE_PATH_STYLE`,
      );
    }
    if (status !== undefined && (status >= 500 || status === 429)) return unavailable(`S3 at ${where.endpoint} failed (${label})`);
    if (status !== undefined) return unavailable(`S3 at ${where.endpoint} refused the request (${label})`);
  }
  if (name === "CredentialsProviderError")
    return notConfigured(`No S3 credentials found: set S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY (${(e as Error).message})`);
  const tls = findCode(e, TLS_CODES);
  if (tls)
    return notConfigured(
      `TLS to S3 at ${where.endpoint} failed (${tls}): check S3_ENDPOINT and the certificate it presents (NODE_EXTRA_CA_CERTS for a private CA)`,
    );
  const code = findCode(e, NETWORK_CODES);
  if (code) return unavailable(`S3 at ${where.endpoint} is not reachable (${code})`);
  if (name === "TimeoutError" || name === "AbortError") {
    return unavailable(`S3 at ${where.endpoint} did not answer in time (${(e as Error).message})`);
  }
  return e;
}

export class S3BlobStore implements BlobStore {
  readonly driver = "s3" as const;
  readonly client: S3Client;
  readonly bucket: string;
  readonly presigner: S3Presigner;
  private readonly where: StorageErrorContext;
  private readonly staticCredentials?: AwsCredentials;
  private cachedCredentials?: { value: AwsCredentials; refreshAt: number };
  private pendingCredentials?: Promise<AwsCredentials>;

  private readonly timeouts: S3Timeouts;

  constructor(config: S3Config, options: { timeouts?: Partial<S3Timeouts> } = {}) {
    this.bucket = config.bucket;
    this.timeouts = { ...DEFAULT_S3_TIMEOUTS, ...options.timeouts };
    this.staticCredentials =
      config.accessKeyId && config.secretAccessKey ? { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey } : undefined;
    this.client = new S3Client({
      region: config.region,
      endpoint: config.endpoint,
      forcePathStyle: config.forcePathStyle,
      credentials: this.staticCredentials,
      // The default (WHEN_SUPPORTED) bakes an empty-body CRC32 into presigned PUTs.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      maxAttempts: this.timeouts.maxAttempts,
      requestHandler: new NodeHttpHandler({ connectionTimeout: this.timeouts.connectMs, socketTimeout: this.timeouts.idleMs }),
    });
    this.presigner = new S3Presigner(config, () => this.credentials());
    this.where = {
      bucket: config.bucket,
      region: config.region,
      endpoint: config.endpoint ?? this.presigner.base.origin,
    };
  }

  /**
   * Explicit keys when configured; otherwise the SDK's default chain (env, shared
   * files, SSO, container/instance roles), resolved once and kept until 5 minutes
   * before the temporary credentials expire. Concurrent first calls share one lookup.
   */
  private async credentials(): Promise<AwsCredentials> {
    if (this.staticCredentials) return this.staticCredentials;
    const cached = this.cachedCredentials;
    if (cached && Date.now() < cached.refreshAt) return cached.value;
    this.pendingCredentials ??= this.client.config
      .credentials()
      .then((value) => {
        const expiresAt = value.expiration?.getTime();
        this.cachedCredentials = {
          value,
          // Credentials that already expire within 5 minutes are asked for again after 10 s at most.
          refreshAt: expiresAt === undefined ? Infinity : Math.max(expiresAt - 5 * 60_000, Math.min(expiresAt, Date.now() + 10_000)),
        };
        return value;
      })
      .finally(() => {
        this.pendingCredentials = undefined;
      });
    return this.pendingCredentials;
  }

  private fail(e: unknown): never {
    throw toStorageError(e, this.where);
  }

  /** Runs a small request with an overall deadline that ends once its response headers arrived. */
  private async withDeadline<T>(ms: number, send: (abortSignal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error(`no answer within ${ms} ms`)), ms);
    try {
      return await send(controller.signal);
    } finally {
      clearTimeout(timer);
    }
  }

  async put(key: string, body: Readable, options: { contentType: string; size?: number }): Promise<void> {
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: key, Body: body, ContentType: options.contentType },
      partSize: PART_SIZE,
      queueSize: 2,
      leavePartsOnError: false,
    });
    let streamError: unknown;
    const onError = (e: unknown) => {
      streamError = e;
      void upload.abort();
    };
    body.once("error", onError);
    try {
      await upload.done();
    } catch (e) {
      if (streamError) {
        await this.delete(key).catch(() => {});
        throw streamError;
      }
      // S3 itself failed. A request that timed out may still have landed, so a
      // cleanup is attempted, but the caller is not kept waiting for it.
      void this.delete(key).catch(() => {});
      this.fail(e);
    } finally {
      body.off("error", onError);
    }
    if (streamError) {
      await this.delete(key).catch(() => {});
      throw streamError;
    }
  }

  async head(key: string): Promise<BlobHead | null> {
    try {
      const out = await this.withDeadline(this.timeouts.requestDeadlineMs, (abortSignal) =>
        this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal }),
      );
      return { size: Number(out.ContentLength ?? 0), contentType: out.ContentType };
    } catch (e) {
      // A HEAD answer has no body, so a missing bucket is a plain 404 here too
      // (indistinguishable from a missing key); checkReady() tells them apart.
      if (e instanceof S3ServiceException && (e.$metadata.httpStatusCode === 404 || e.name === "NotFound" || e.name === "NoSuchKey")) return null;
      this.fail(e);
    }
  }

  async getStream(key: string, range?: ByteRange): Promise<Readable> {
    try {
      const out = await this.withDeadline(this.timeouts.requestDeadlineMs, (abortSignal) =>
        this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: range ? `bytes=${range.start}-${range.end}` : undefined }), {
          abortSignal,
        }),
      );
      return out.Body as Readable;
    } catch (e) {
      if (e instanceof S3ServiceException && (e.name === "NoSuchKey" || (e.$metadata.httpStatusCode === 404 && e.name !== "NoSuchBucket"))) {
        throw new AppError("NOT_FOUND", "Blob not found");
      }
      this.fail(e);
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.withDeadline(this.timeouts.requestDeadlineMs, (abortSignal) =>
        this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal }),
      );
    } catch (e) {
      this.fail(e);
    }
  }

  /** ListObjectsV2, one page (up to `pageSize`, S3's maximum 1000) at a time. */
  async *list(options: { prefix?: string; pageSize?: number } = {}): AsyncGenerator<BlobListEntry> {
    let continuationToken: string | undefined;
    do {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await this.withDeadline(this.timeouts.requestDeadlineMs, (abortSignal) =>
          this.client.send(
            new ListObjectsV2Command({
              Bucket: this.bucket,
              Prefix: options.prefix || undefined,
              ContinuationToken: continuationToken,
              MaxKeys: options.pageSize,
            }),
            { abortSignal },
          ),
        );
      } catch (e) {
        this.fail(e);
      }
      for (const object of page.Contents ?? []) {
        if (!object.Key || !isBlobKey(object.Key)) continue;
        yield { key: object.Key, size: Number(object.Size ?? 0), lastModified: object.LastModified ?? new Date(0) };
      }
      continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (continuationToken);
  }

  /**
   * Nothing to do here: a put() is one multipart upload that S3 never shows as
   * an object, and one that died with its process is reclaimed by the bucket's
   * AbortIncompleteMultipartUpload lifecycle rule (README, S3 setup).
   */
  async removeAbandonedWrites(): Promise<number> {
    return 0;
  }

  // A presigned GET can override only the response-* headers S3 knows (content type,
  // disposition, cache control, language, encoding, expires). It cannot add
  // `X-Content-Type-Options: nosniff`, and object metadata cannot either, so unlike
  // the disk driver's route the answer may be sniffed by old browsers. For active
  // content (HTML, SVG, XML, JavaScript) the protection here is the attachment
  // disposition that asset.service.ts forces; nosniff needs a proxy or CDN in front
  // (e.g. a CloudFront response headers policy).
  async presignGet(key: string, options: PresignGetOptions): Promise<string> {
    const query: Record<string, string> = {};
    if (options.fileName || options.disposition) {
      query["response-content-disposition"] = contentDisposition(options.disposition ?? "inline", options.fileName);
    }
    if (options.contentType) query["response-content-type"] = options.contentType;
    return this.presign({ method: "GET", key, expiresInSeconds: options.expiresInSeconds, query });
  }

  /**
   * Signs content-type and content-length (and x-amz-checksum-sha256 when a
   * sha256 is given) as headers, so S3 refuses a PUT with another type, size or
   * digest. No checksum is baked in otherwise (the SDK's WHEN_SUPPORTED default
   * would sign the CRC32 of an empty body).
   *
   * `If-None-Match: *` is signed too, so the client must send it: S3 then
   * writes only while the key holds no object (412 PreconditionFailed once it
   * does, 409 ConditionalRequestConflict for the loser of two concurrent PUTs),
   * and a late or second PUT can never replace bytes that were verified.
   * Stores without conditional writes may ignore it (decision 30).
   */
  async presignPut(key: string, options: PresignPutOptions): Promise<UploadRequest> {
    // Without a declared size nothing bounds the PUT (S3 signs no maximum length for a PUT);
    // the completion refuses an object over the limit and drops it.
    const headers: Record<string, string> = {
      "Content-Type": options.contentType,
      ...(options.size === undefined ? {} : { "Content-Length": String(options.size) }),
      [IF_NONE_MATCH]: "*",
    };
    if (options.sha256 !== undefined) headers[CHECKSUM_SHA256_HEADER] = checksumSha256HeaderValue(options.sha256);
    const url = await this.presign({ method: "PUT", key, expiresInSeconds: options.expiresInSeconds, headers });
    return { method: "PUT", url, headers, expiresAt: new Date(Date.now() + options.expiresInSeconds * 1000) };
  }

  private async presign(request: Parameters<S3Presigner["presign"]>[0]): Promise<string> {
    try {
      return await this.presigner.presign(request);
    } catch (e) {
      if (e instanceof RangeError) throw new AppError("BAD_USER_INPUT", e.message);
      this.fail(e);
    }
  }

  async checkReady(): Promise<void> {
    try {
      await this.withDeadline(this.timeouts.readyDeadlineMs, (abortSignal) =>
        this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), { abortSignal }),
      );
    } catch (e) {
      // HeadBucket has no body either: its 404 is the missing bucket.
      if (e instanceof S3ServiceException && (e.$metadata.httpStatusCode === 404 || e.name === "NotFound")) {
        throw new AppError("STORAGE_NOT_CONFIGURED", `Bucket "${this.bucket}" does not exist at ${this.where.endpoint}`, { bucket: this.bucket }, { cause: e });
      }
      const mapped = toStorageError(e, this.where);
      throw mapped instanceof AppError
        ? mapped
        : new AppError("STORAGE_UNAVAILABLE", `S3 at ${this.where.endpoint} is not usable: ${(e as Error)?.message ?? String(e)}`, undefined, { cause: e });
    }
  }
}
