// Two-stage uploads on S3 (through the signature-checking emulator): the client
// PUTs straight to the store, so no byte passes through the API; the store
// refuses a wrong type or length; completeAssetUpload verifies and bills.
import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { S3BlobStore } from "../src/storage/s3/s3-blob-store.ts";
import { CompleteAssetUploadDocument, CreateAssetUploadDocument } from "./generated/graphql.ts";
import { buildTestApp, errorCode, type TestApp } from "./harness.ts";
import { adaptClientToS3rver, startS3rver, type TestS3 } from "./support/s3rver.ts";

let s3: TestS3;
let t: TestApp;
let w: Awaited<ReturnType<TestApp["factories"]["world"]>>;
beforeAll(async () => {
  s3 = await startS3rver();
  t = await buildTestApp({
    workers: false,
    blobStore: () => {
      const store = new S3BlobStore(s3.config);
      adaptClientToS3rver(store.client);
      return store;
    },
  });
  w = await t.factories.world();
});
afterAll(async () => {
  await t?.close();
  await s3?.stop();
});

type Req = { method: string; url: string; headers: Record<string, string> };
const put = (req: Req, body: Uint8Array, headers = req.headers) =>
  fetch(req.url, {
    method: "PUT",
    headers: Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== "content-length")),
    body: new Uint8Array(body),
  });

it("uploads straight to S3 and completes with completeAssetUpload", async () => {
  const bytes = randomBytes(64 * 1024);
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const created = await t.gql(
    CreateAssetUploadDocument,
    { input: { spaceId: w.space.id, path: "s3/file.bin", mimeType: "application/octet-stream", size: bytes.length, sha256, createParents: true } },
    w.adminToken,
  );
  expect(created.errors).toBeUndefined();
  const { asset, uploadRequest } = created.data!.createAssetUpload;
  // The URL points at the store, not at this server.
  expect(uploadRequest.url.startsWith(s3.endpoint)).toBe(true);
  expect(uploadRequest.url.startsWith(t.url)).toBe(false);

  expect(errorCode(await t.gql(CompleteAssetUploadDocument, { id: asset.id }, w.adminToken))).toBe("UPLOAD_INCOMPLETE");
  // The store itself refuses bytes that differ from what was signed.
  expect((await put(uploadRequest as Req, bytes, { ...(uploadRequest as Req).headers, "Content-Type": "image/png" })).status).toBe(403);
  expect((await put(uploadRequest as Req, bytes.subarray(1))).status).toBe(403);
  // The PUT is conditional (If-None-Match: *, signed): a client cannot drop the condition.
  expect(uploadRequest.headers).toMatchObject({ "If-None-Match": "*" });
  const { "If-None-Match": _condition, ...unconditional } = (uploadRequest as Req).headers;
  expect((await put(uploadRequest as Req, bytes, unconditional)).status).toBe(403);

  expect((await put(uploadRequest as Req, bytes)).status).toBe(200);
  const before = await t.deps.prisma.organization.findUniqueOrThrow({ where: { id: w.org.id } });
  const done = await t.gql(CompleteAssetUploadDocument, { id: asset.id }, w.adminToken);
  expect(done.data?.completeAssetUpload).toMatchObject({ status: "READY", size: bytes.length, sha256 });
  const after = await t.deps.prisma.organization.findUniqueOrThrow({ where: { id: w.org.id } });
  expect(after.usedBytes - before.usedBytes).toBe(BigInt(bytes.length));
  expect(before.reservedBytes - after.reservedBytes).toBe(BigInt(bytes.length));
  // Idempotent.
  expect((await t.gql(CompleteAssetUploadDocument, { id: asset.id }, w.adminToken)).data?.completeAssetUpload.status).toBe("READY");
});
