// A local S3 for tests: @20minutes/s3rver verifies SigV4 signatures (plain
// `s3rver` does not), so presign tests mean something. One instance per caller,
// on its own port and temp directory.
import { mkdtemp, rm } from "node:fs/promises";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import type { S3Config } from "../../src/config.ts";

// The package ships no types; this is the part of its API we use.
type S3rverOptions = {
  address: string;
  port: number;
  directory: string;
  silent: boolean;
  configureBuckets: { name: string }[];
};
type S3rverInstance = { run(): Promise<AddressInfo>; close(): Promise<void>; httpServer?: Server };
const require = createRequire(import.meta.url);
const S3rver = require("@20minutes/s3rver") as new (options: S3rverOptions) => S3rverInstance;

/**
 * KNOWN S3RVER BUG (4.0.4): a truncated ListObjectsV2 page (more keys than
 * max-keys) makes s3rver build its NextContinuationToken with
 * crypto.createCipheriv("des", …). OpenSSL 3 (Node 17+) ships single DES only in
 * its legacy provider, so that throws ERR_OSSL_EVP_UNSUPPORTED and the list
 * answers 500 InternalError: no listing can page. s3rver runs in the test
 * process, so its "des" is mapped onto 3DES with the key repeated three times,
 * which is the very same cipher (EDE with K1 = K2 = K3 is single DES). Only the
 * "des" algorithm name is touched; nothing in Cabinet uses it.
 */
function letS3rverUseDes(): void {
  const crypto = require("node:crypto") as typeof import("node:crypto") & { __cabinetDesShim?: true };
  if (crypto.__cabinetDesShim) return;
  const asTripleDes = (key: unknown) => Buffer.concat([key as Buffer, key as Buffer, key as Buffer]);
  const { createCipheriv, createDecipheriv } = crypto;
  const patched = crypto as unknown as Record<string, (...args: unknown[]) => unknown>;
  patched.createCipheriv = (algorithm: unknown, key: unknown, iv: unknown, ...rest: unknown[]) =>
    algorithm === "des"
      ? createCipheriv("des-ede3-cbc", asTripleDes(key), iv as Buffer)
      : (createCipheriv as (...a: unknown[]) => unknown)(algorithm, key, iv, ...rest);
  patched.createDecipheriv = (algorithm: unknown, key: unknown, iv: unknown, ...rest: unknown[]) =>
    algorithm === "des"
      ? createDecipheriv("des-ede3-cbc", asTripleDes(key), iv as Buffer)
      : (createDecipheriv as (...a: unknown[]) => unknown)(algorithm, key, iv, ...rest);
  crypto.__cabinetDesShim = true;
}

export type TestS3 = { endpoint: string; bucket: string; config: S3Config; stop(): Promise<void> };

export async function startS3rver(bucket = "cabinet-test"): Promise<TestS3> {
  letS3rverUseDes();
  const directory = await mkdtemp(path.join(os.tmpdir(), "cabinet-s3rver-"));
  const server = new S3rver({
    address: "127.0.0.1",
    port: 0, // the OS picks a free port; no race with other test files
    directory,
    // Silences both its winston request log and Koa's console.error for 4xx/5xx.
    silent: true,
    // The SDK's CreateBucket is refused (403) by s3rver, so buckets are provisioned here.
    configureBuckets: [{ name: bucket }],
  });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    bucket,
    config: {
      bucket,
      endpoint,
      region: "us-east-1",
      accessKeyId: "S3RVER",
      secretAccessKey: "S3RVER",
      forcePathStyle: true,
    },
    async stop() {
      // Keep-alive sockets held by SDK clients would otherwise delay close().
      server.httpServer?.closeAllConnections();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/**
 * KNOWN S3RVER BUG (4.0.4): it rebuilds the canonical URI of a bucket-level
 * request as "/<bucket>", while SDK v3 sends and signs "/<bucket>/" in path
 * style, so HeadBucket (S3BlobStore.checkReady) gets 403 SignatureDoesNotMatch
 * from s3rver although real S3 accepts it. This strips that slash before
 * signing, as s3rver's own SDK v3 tests do. Object requests ("/<bucket>/<key>")
 * and presigned URLs are untouched.
 */
export function adaptClientToS3rver(client: S3Client): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { path?: unknown };
      if (typeof request.path === "string" && /^\/[^/]+\/$/.test(request.path)) request.path = request.path.slice(0, -1);
      return next(args);
    },
    { step: "build", name: "s3rverBucketPath", priority: "low" },
  );
}
