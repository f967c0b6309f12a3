// S3-compatible BlobStore (AWS S3, MinIO, R2, Ceph…). Streams of unknown length
// go up as multipart uploads (bounded memory: queueSize × partSize); an aborted
// stream aborts the multipart upload, so nothing is left under the key.
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import type { Readable } from "node:stream";
import type { S3Config } from "../config.ts";
import { AppError } from "../errors.ts";
import type { BlobHead, BlobStore, ByteRange, PresignGetOptions, PresignPutOptions, UploadRequest } from "./blob-store.ts";
import { contentDisposition } from "./content-disposition.ts";

const PART_SIZE = 8 * 1024 * 1024;

function isNotFound(e: unknown): boolean {
  return e instanceof S3ServiceException && (e.$metadata.httpStatusCode === 404 || e.name === "NotFound" || e.name === "NoSuchKey");
}

export class S3BlobStore implements BlobStore {
  readonly driver = "s3" as const;
  readonly client: S3Client;
  readonly bucket: string;

  constructor(config: S3Config) {
    this.bucket = config.bucket;
    this.client = new S3Client({
      region: config.region,
      endpoint: config.endpoint,
      forcePathStyle: config.forcePathStyle,
      credentials:
        config.accessKeyId && config.secretAccessKey
          ? { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey }
          : undefined,
      // The default (WHEN_SUPPORTED) bakes an empty-body CRC32 into presigned PUTs.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      maxAttempts: 3,
    });
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
      await this.delete(key).catch(() => {});
      throw streamError ?? e;
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
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { size: Number(out.ContentLength ?? 0), contentType: out.ContentType };
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  async getStream(key: string, range?: ByteRange): Promise<Readable> {
    try {
      const out = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: range ? `bytes=${range.start}-${range.end}` : undefined }),
      );
      return out.Body as Readable;
    } catch (e) {
      if (isNotFound(e)) throw new AppError("NOT_FOUND", "Blob not found");
      throw e;
    }
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  // A presigned GET can override only the response-* headers S3 knows (content type,
  // disposition, cache control, language, encoding, expires). It cannot add
  // `X-Content-Type-Options: nosniff`, and object metadata cannot either, so unlike
  // the disk driver's route the answer may be sniffed by old browsers. For active
  // content (HTML, SVG, XML, JavaScript) the protection here is the attachment
  // disposition that asset.service.ts forces; nosniff needs a proxy or CDN in front
  // (e.g. a CloudFront response headers policy).
  async presignGet(key: string, options: PresignGetOptions): Promise<string> {
    const disposition = options.fileName || options.disposition
      ? contentDisposition(options.disposition ?? "inline", options.fileName)
      : undefined;
    return getSignedUrl(
      this.client,
      new GetObjectCommand({ Bucket: this.bucket, Key: key, ResponseContentDisposition: disposition, ResponseContentType: options.contentType }),
      { expiresIn: options.expiresInSeconds },
    );
  }

  async presignPut(key: string, options: PresignPutOptions): Promise<UploadRequest> {
    const url = await getSignedUrl(
      this.client,
      new PutObjectCommand({ Bucket: this.bucket, Key: key, ContentType: options.contentType, ContentLength: options.size }),
      // Without this the SDK leaves content-type out of the signature.
      { expiresIn: options.expiresInSeconds, signableHeaders: new Set(["content-type", "content-length"]) },
    );
    return {
      method: "PUT",
      url,
      headers: { "Content-Type": options.contentType, "Content-Length": String(options.size) },
      expiresAt: new Date(Date.now() + options.expiresInSeconds * 1000),
    };
  }

  async checkReady(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (e) {
      if (isNotFound(e)) throw new AppError("STORAGE_NOT_CONFIGURED", `Bucket "${this.bucket}" does not exist`, undefined, { cause: e });
      throw new AppError("STORAGE_UNAVAILABLE", `The S3 endpoint is not reachable: ${(e as Error).message}`, undefined, { cause: e });
    }
  }
}
