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
const S3rver = createRequire(import.meta.url)("@20minutes/s3rver") as new (options: S3rverOptions) => S3rverInstance;

export type TestS3 = { endpoint: string; bucket: string; config: S3Config; stop(): Promise<void> };

export async function startS3rver(bucket = "cabinet-test"): Promise<TestS3> {
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
