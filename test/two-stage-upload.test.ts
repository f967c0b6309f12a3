// Two-stage uploads on the disk store: the client PUTs straight to a signed URL
// bound to type and length; the store completes the upload itself; quota is
// reserved meanwhile; expired or wrong uploads leave nothing behind.
import { createHash, randomBytes } from "node:crypto";
import { readdir } from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AssetAtPathDocument,
  CompleteAssetUploadDocument,
  CreateAssetUploadDocument,
  DeleteEntryDocument,
  RenewAssetUploadDocument,
} from "./generated/graphql.ts";
import type { ByteRange } from "../src/storage/blob-store.ts";
import { DiskBlobStore } from "../src/storage/disk/disk-blob-store.ts";
import { buildTestApp, errorCode, eventually, type TestApp } from "./harness.ts";
import { uploadAsset } from "./support/upload.ts";

let t: TestApp;
let w: Awaited<ReturnType<TestApp["factories"]["world"]>>;

/** Whole-object reads made to verify a completion (not the sniffer's head read, not processing's). */
const verifyingReads: string[] = [];
class CountingDiskStore extends DiskBlobStore {
  override async getStream(key: string, range?: ByteRange) {
    if (!range && new Error().stack?.includes("verify")) verifyingReads.push(key);
    return super.getStream(key, range);
  }
}

beforeAll(async () => {
  t = await buildTestApp({
    blobStore: ({ publicUrl, signingSecret, dataDir }) => new CountingDiskStore({ root: `${dataDir}/blobs`, publicUrl, signingSecret }),
  });
  w = await t.factories.world({ quotaBytes: 1_000_000n, maxFileSizeBytes: 500_000n });
});
afterAll(() => t?.close());

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const org = () => t.deps.prisma.organization.findUniqueOrThrow({ where: { id: w.org.id } });

async function create(path: string, size: number, extra: { mimeType?: string; sha256?: string; expiresIn?: number; meta?: unknown } = {}) {
  const res = await t.gql(
    CreateAssetUploadDocument,
    { input: { spaceId: w.space.id, path, mimeType: extra.mimeType ?? "application/octet-stream", size, createParents: true, ...extra } },
    w.adminToken,
  );
  return res;
}
type Req = { url: string; headers: Record<string, string> };
const put = (req: Req, body: Uint8Array | string, headers: Record<string, string> = req.headers) =>
  // fetch sets Content-Length from the body itself (it refuses to be told).
  fetch(req.url, {
    method: "PUT",
    headers: Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== "content-length")),
    body: typeof body === "string" ? body : new Uint8Array(body),
  });
const errorOf = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;

/**
 * A PUT whose body is held open after `first` until finish() sends the rest
 * (over node:http: fetch will not send a Content-Length with a streamed body).
 */
function heldPut(req: Req, first: Uint8Array) {
  const request = http.request(req.url, { method: "PUT", headers: req.headers });
  const answered = new Promise<{ status: number; code?: string }>((resolve, reject) => {
    request.on("error", reject);
    request.on("response", (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode!, code: text ? (JSON.parse(text) as { error?: { code: string } }).error?.code : undefined }));
    });
  });
  request.flushHeaders();
  request.write(first);
  return {
    finish: (rest: Uint8Array) => {
      request.end(rest);
      return answered;
    },
  };
}

const keyOf = (req: Req) => new URL(req.url).pathname.split("/").pop()!;
/** The temporary files of PUTs in flight for `key`. */
const partials = async (key: string) => (await readdir(path.join(t.dataDir, "blobs", ".partial")).catch(() => [])).filter((f) => f.startsWith(key));
/** Resolves once the route is streaming a held PUT for `key` (it passed the signature and state checks). */
const streaming = (key: string, count = 1) => eventually(async () => (await partials(key)).length >= count, 5_000, 20);
const download = async (path: string) => {
  const entry = (await t.gql(AssetAtPathDocument, { spaceId: w.space.id, path }, w.adminToken)).data!.entry as {
    status: string;
    mimeType: string;
    downloadUrl: string;
  };
  return { entry, bytes: Buffer.from(await (await fetch(entry.downloadUrl)).arrayBuffer()) };
};

describe("the happy path", () => {
  it("creates a PENDING asset with a signed PUT, reserves the size, and completes when the bytes land", async () => {
    const bytes = randomBytes(200_000);
    const before = await org();
    const created = await create("big/movie.bin", bytes.length, { meta: { description: "User profile photo" } });
    expect(created.errors).toBeUndefined();
    const { asset, uploadRequest } = created.data!.createAssetUpload;
    expect(asset).toMatchObject({ path: "big/movie.bin", status: "PENDING", size: bytes.length, metadata: { meta: { description: "User profile photo" } } });
    expect(uploadRequest.method).toBe("PUT");
    expect(uploadRequest.headers).toEqual({ "Content-Type": "application/octet-stream", "Content-Length": String(bytes.length) });
    expect(new Date(uploadRequest.expiresAt).getTime()).toBeGreaterThan(Date.now() + 800_000);
    expect((await org()).reservedBytes - before.reservedBytes).toBe(BigInt(bytes.length));
    expect((await org()).usedBytes).toBe(before.usedBytes);

    const res = await put(uploadRequest as Req, bytes);
    expect(res.status).toBe(200);

    const after = await org();
    expect(after.reservedBytes).toBe(before.reservedBytes);
    expect(after.usedBytes - before.usedBytes).toBe(BigInt(bytes.length));
    const entry = (await t.gql(AssetAtPathDocument, { spaceId: w.space.id, path: "big/movie.bin" }, w.adminToken)).data!.entry!;
    if (entry.__typename !== "Asset") throw new Error("expected an Asset");
    expect(entry).toMatchObject({ status: "READY", size: bytes.length });
    const downloaded = Buffer.from(await (await fetch(entry.downloadUrl)).arrayBuffer());
    expect(sha256(downloaded)).toBe(sha256(bytes));

    // Completion is idempotent.
    const again = await t.gql(CompleteAssetUploadDocument, { id: asset.id }, w.adminToken);
    expect(again.data?.completeAssetUpload).toMatchObject({ status: "READY", size: bytes.length });
  });

  it("verifies a declared sha256 and the content type against the bytes that arrived", async () => {
    const bytes = randomBytes(5_000);
    const ok = await create("sha/ok.bin", bytes.length, { sha256: sha256(bytes) });
    verifyingReads.length = 0;
    expect((await put(ok.data!.createAssetUpload.uploadRequest as Req, bytes)).status).toBe(200);
    // Each byte hashed once: the PUT hashed the body as it streamed in, so its completion does not read the object back.
    expect(verifyingReads).toEqual([]);
    const done = await t.gql(CompleteAssetUploadDocument, { id: ok.data!.createAssetUpload.asset.id }, w.adminToken);
    expect(done.data?.completeAssetUpload).toMatchObject({ status: "READY", sha256: sha256(bytes) });

    // Bytes that contradict the signed checksum are refused like S3's BadDigest;
    // the upload stays open, and the right bytes still complete it.
    const right = randomBytes(5_000);
    const checked = await create("sha/checked.bin", right.length, { sha256: sha256(right) });
    const req = checked.data!.createAssetUpload.uploadRequest as Req;
    expect(req.headers["x-amz-checksum-sha256"]).toBe(createHash("sha256").update(right).digest("base64"));
    const res = await put(req, randomBytes(5_000));
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toBe("BAD_USER_INPUT");
    expect((await t.gql(AssetAtPathDocument, { spaceId: w.space.id, path: "sha/checked.bin" }, w.adminToken)).data?.entry).toMatchObject({ status: "PENDING" });
    expect((await put(req, right)).status).toBe(200);

    // Completion re-checks the declared sha256 of whatever arrived (S3 may not verify it).
    const before = await org();
    const declared = await create("sha/declared.bin", bytes.length, { sha256: sha256(randomBytes(10)) });
    const key = (await t.deps.prisma.blob.findFirstOrThrow({ where: { uploadEntryId: declared.data!.createAssetUpload.asset.id } })).key;
    await t.deps.blobStore.put(key, Readable.from([bytes]), { contentType: "application/octet-stream" });
    const completed = await t.gql(CompleteAssetUploadDocument, { id: declared.data!.createAssetUpload.asset.id }, w.adminToken);
    expect(errorCode(completed)).toBe("UPLOAD_INCOMPLETE");
    expect((await t.gql(AssetAtPathDocument, { spaceId: w.space.id, path: "sha/declared.bin" }, w.adminToken)).data?.entry).toBeNull();
    expect((await org()).reservedBytes).toBe(before.reservedBytes);
    // The refused object is purged after commit.
    await eventually(async () => (await t.deps.blobStore.head(key)) === null);

    const html = Buffer.from("<!doctype html><html><script>alert(1)</script></html>");
    const lying = await create("lie.png", html.length, { mimeType: "image/png" });
    const refused = await put(lying.data!.createAssetUpload.uploadRequest as Req, html);
    expect(refused.status).toBe(415);
    expect(await errorOf(refused)).toBe("UNSUPPORTED_MEDIA_TYPE");
    expect((await t.gql(AssetAtPathDocument, { spaceId: w.space.id, path: "lie.png" }, w.adminToken)).data?.entry).toBeNull();
  });

  it("replaces an existing file only when the upload completes", async () => {
    const v1 = await uploadAsset(t.graphqlUrl, { token: w.adminToken, spaceId: w.space.id, path: "over.txt", body: "version one", type: "text/plain" });
    const before = await org();
    const v2 = Buffer.from("version two, longer");
    const created = await create("over.txt", v2.length, { mimeType: "text/plain" });
    const { asset, uploadRequest } = created.data!.createAssetUpload;
    expect(asset).toMatchObject({ id: v1.data!.uploadAsset.id, status: "READY", size: 11 });
    expect((await put(uploadRequest as Req, v2)).status).toBe(200);
    const entry = (await t.gql(AssetAtPathDocument, { spaceId: w.space.id, path: "over.txt" }, w.adminToken)).data!.entry!;
    if (entry.__typename !== "Asset") throw new Error("expected an Asset");
    expect(entry).toMatchObject({ id: v1.data!.uploadAsset.id, size: v2.length });
    expect(await (await fetch(entry.downloadUrl)).text()).toBe("version two, longer");
    const after = await org();
    expect(after.usedBytes - before.usedBytes).toBe(BigInt(v2.length - 11));
    expect(after.reservedBytes).toBe(before.reservedBytes);
  });
});

describe("the store refuses what was not signed", () => {
  it("refuses a wrong content type, a wrong length, a GET URL used to PUT and a PUT URL used to GET", async () => {
    const bytes = randomBytes(1_000);
    const created = await create("strict.bin", bytes.length, { mimeType: "application/pdf" });
    const req = created.data!.createAssetUpload.uploadRequest as Req;
    expect((await put(req, bytes, { ...req.headers, "Content-Type": "image/png" })).status).toBe(403);
    expect((await put(req, randomBytes(999))).status).toBe(403);
    expect((await put(req, randomBytes(1_001))).status).toBe(403);
    expect((await fetch(req.url)).status).toBe(403);

    const existing = await uploadAsset(t.graphqlUrl, { token: w.adminToken, spaceId: w.space.id, path: "get.txt", body: "x" });
    const entry = (await t.gql(AssetAtPathDocument, { spaceId: w.space.id, path: "get.txt" }, w.adminToken)).data!.entry as { downloadUrl: string };
    expect(existing.errors).toBeUndefined();
    expect((await fetch(entry.downloadUrl, { method: "PUT", body: "overwrite!" })).status).toBe(403);
    expect(await (await fetch(entry.downloadUrl)).text()).toBe("x");
  });

  it("refuses an expired URL with 403; renewing gives one that works", async () => {
    const bytes = randomBytes(100);
    const created = await create("late.bin", bytes.length, { expiresIn: 1 });
    await new Promise((r) => setTimeout(r, 2100));
    expect((await put(created.data!.createAssetUpload.uploadRequest as Req, bytes)).status).toBe(403);
    const renewed = await t.gql(RenewAssetUploadDocument, { id: created.data!.createAssetUpload.asset.id }, w.adminToken);
    expect((await put(renewed.data!.renewAssetUpload.uploadRequest as Req, bytes)).status).toBe(200);
  });

  it("refuses a second PUT once the upload completed", async () => {
    const created = await create("once.bin", 3);
    const req = created.data!.createAssetUpload.uploadRequest as Req;
    expect((await put(req, "abc")).status).toBe(200);
    expect((await put(req, "xyz")).status).toBe(403);
  });
});

describe("a PUT never replaces verified bytes", () => {
  // A PNG of `size` bytes (file-type only reads the chunks up to the first IDAT).
  const png = (size: number) => {
    const head = Buffer.from("89504e470d0a1a0a0000000d494844520000000100000001080600000000000000000a494441540000000000000000000000000000", "hex");
    return Buffer.concat([head, randomBytes(size - head.length)]);
  };
  const htmlOf = (size: number) => Buffer.from(`<!doctype html><html><script>alert(document.cookie)</script></html>`.padEnd(size, " "));

  it("a slow PUT that finishes after completion gets 409 UPLOAD_CLOSED and the READY bytes stay", async () => {
    const size = 20_000;
    const image = png(size);
    const created = await create("race/photo.png", size, { mimeType: "image/png" });
    const req = created.data!.createAssetUpload.uploadRequest as Req;
    const slow = heldPut(req, htmlOf(size).subarray(0, 1_000));
    await streaming(keyOf(req));
    expect((await put(req, image)).status).toBe(200);
    expect((await download("race/photo.png")).entry).toMatchObject({ status: "READY", mimeType: "image/png" });

    expect(await slow.finish(htmlOf(size).subarray(1_000))).toEqual({ status: 409, code: "UPLOAD_CLOSED" });
    const after = await download("race/photo.png");
    expect(after.entry).toMatchObject({ status: "READY", mimeType: "image/png" });
    expect(sha256(after.bytes)).toBe(sha256(image));
    expect(await partials(keyOf(req))).toEqual([]);
  });

  it("with a declared sha256, a wrong body that finishes after completion removes only itself", async () => {
    const bytes = randomBytes(20_000);
    const created = await create("race/checked.bin", bytes.length, { sha256: sha256(bytes) });
    const req = created.data!.createAssetUpload.uploadRequest as Req;
    const wrong = randomBytes(bytes.length);
    const slow = heldPut(req, wrong.subarray(0, 1_000));
    await streaming(keyOf(req));
    expect((await put(req, bytes)).status).toBe(200);

    expect(await slow.finish(wrong.subarray(1_000))).toEqual({ status: 400, code: "BAD_USER_INPUT" });
    const after = await download("race/checked.bin");
    expect(after.entry.status).toBe("READY");
    expect(sha256(after.bytes)).toBe(sha256(bytes));
    expect(await t.deps.blobStore.head(keyOf(req))).toEqual({ size: bytes.length });
    expect(await partials(keyOf(req))).toEqual([]);
  });

  it("two concurrent PUTs: one wins and completes the upload, the other gets 409", async () => {
    const bytes = randomBytes(20_000);
    const created = await create("race/twice.bin", bytes.length);
    const req = created.data!.createAssetUpload.uploadRequest as Req;
    const [a, b] = [heldPut(req, bytes.subarray(0, 1_000)), heldPut(req, bytes.subarray(0, 1_000))];
    await streaming(keyOf(req), 2);
    const answers = await Promise.all([a.finish(bytes.subarray(1_000)), b.finish(bytes.subarray(1_000))]);
    expect(answers.map((r) => r.status).sort()).toEqual([200, 409]);
    expect(answers.find((r) => r.status === 409)?.code).toBe("UPLOAD_CLOSED");
    const after = await download("race/twice.bin");
    expect(after.entry.status).toBe("READY");
    expect(sha256(after.bytes)).toBe(sha256(bytes));
    expect(await partials(keyOf(req))).toEqual([]);
  });

  it("a body cut short mid-stream leaves the pending upload open and no temporary file", async () => {
    const bytes = randomBytes(20_000);
    const created = await create("race/short.bin", bytes.length);
    const req = created.data!.createAssetUpload.uploadRequest as Req;
    const request = http.request(req.url, { method: "PUT", headers: req.headers });
    request.on("error", () => {});
    request.write(bytes.subarray(0, 5_000));
    await streaming(keyOf(req));
    request.destroy();
    await eventually(async () => (await partials(keyOf(req))).length === 0, 5_000, 20);
    expect(await t.deps.blobStore.head(keyOf(req))).toBeNull();
    expect((await put(req, bytes)).status).toBe(200);
    expect((await download("race/short.bin")).entry.status).toBe("READY");
  });
});

describe("completion, limits and abandonment", () => {
  it("refuses an upload URL lifetime outside 1 s .. the configured maximum", async () => {
    expect(errorCode(await create("life.bin", 1, { expiresIn: 0 }))).toBe("BAD_USER_INPUT");
    expect(errorCode(await create("life.bin", 1, { expiresIn: t.deps.config.presign.maxExpiresSeconds + 1 }))).toBe("BAD_USER_INPUT");
  });

  it("answers UPLOAD_INCOMPLETE before the bytes arrived", async () => {
    const created = await create("wait.bin", 10);
    expect(errorCode(await t.gql(CompleteAssetUploadDocument, { id: created.data!.createAssetUpload.asset.id }, w.adminToken))).toBe("UPLOAD_INCOMPLETE");
  });

  it("reserves quota at creation: over the quota or the file limit is LIMITS_REACHED, and reservations count", async () => {
    const small = await t.factories.world({ quotaBytes: 10_000n, maxFileSizeBytes: 8_000n });
    const mk = (path: string, size: number) =>
      t.gql(CreateAssetUploadDocument, { input: { spaceId: small.space.id, path, mimeType: "application/octet-stream", size } }, small.adminToken);
    expect(errorCode(await mk("too-big.bin", 8_001))).toBe("LIMITS_REACHED");
    expect((await mk("a.bin", 7_000)).errors).toBeUndefined();
    expect(errorCode(await mk("b.bin", 4_000))).toBe("LIMITS_REACHED");
    // A direct upload sees the reservation too.
    expect(errorCode(await uploadAsset(t.graphqlUrl, { token: small.adminToken, spaceId: small.space.id, path: "c.bin", body: randomBytes(4_000) }))).toBe(
      "LIMITS_REACHED",
    );
  });

  it("the sweep completes uploads whose client never said so, and abandons expired ones", async () => {
    const bytes = randomBytes(300);
    const arrived = await create("sweep/arrived.bin", bytes.length);
    const abandoned = await create("sweep/abandoned.bin", 700, { expiresIn: 1 });
    const before = await org();
    // Bytes that reached the store without the client completing (S3 never tells us).
    const key = (await t.deps.prisma.blob.findFirstOrThrow({ where: { uploadEntryId: arrived.data!.createAssetUpload.asset.id } })).key;
    await t.deps.blobStore.put(key, Readable.from([bytes]), { contentType: "application/octet-stream" });

    const later = new Date(Date.now() + (t.deps.config.uploads.abandonAfterSeconds + 5) * 1000);
    const result = await t.deps.services.blobs.sweepPendingUploads(later);
    expect(result.completed).toBeGreaterThanOrEqual(1);
    expect(result.abandoned).toBeGreaterThanOrEqual(1);
    const status = async (path: string) =>
      ((await t.gql(AssetAtPathDocument, { spaceId: w.space.id, path }, w.adminToken)).data?.entry as { status?: string } | null)?.status ?? null;
    expect(await status("sweep/arrived.bin")).toBe("READY");
    expect(await status("sweep/abandoned.bin")).toBeNull();
    expect(await t.deps.prisma.blob.count({ where: { uploadEntryId: abandoned.data!.createAssetUpload.asset.id } })).toBe(0);
    const after = await org();
    expect(after.usedBytes - before.usedBytes).toBe(300n);
    // Every pending reservation in this org was settled or given back.
    expect(after.reservedBytes).toBe(
      BigInt((await t.deps.prisma.blob.aggregate({ _sum: { size: true }, where: { organizationId: w.org.id, status: "PENDING" } }))._sum.size ?? 0n),
    );
  });

  it("deleting a file with an upload in flight gives the reservation back", async () => {
    await uploadAsset(t.graphqlUrl, { token: w.adminToken, spaceId: w.space.id, path: "del/target.txt", body: "x", createParents: true });
    const before = await org();
    const created = await create("del/target.txt", 5_000);
    expect((await org()).reservedBytes - before.reservedBytes).toBe(5_000n);
    await t.gql(DeleteEntryDocument, { id: created.data!.createAssetUpload.asset.id }, w.adminToken);
    const after = await org();
    expect(after.reservedBytes).toBe(before.reservedBytes);
    expect(after.usedBytes).toBe(before.usedBytes - 1n);
  });
});
