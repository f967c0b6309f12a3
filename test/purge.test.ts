// Bytes awaiting purge are bounded: the request that orphans bytes (an
// overwrite, a delete) deletes them itself once it committed, and the purge
// jobs (the safety net) drain in batches. Measured on the real disk store.
import { randomBytes } from "node:crypto";
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, expect, it } from "vitest";
import { randomToken } from "../src/ids.ts";
import { CreateAssetUploadDocument, DeleteEntryDocument } from "./generated/graphql.ts";
import { buildTestApp, eventually, type TestApp } from "./harness.ts";

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(() => t?.close());

const QUOTA = 1_000_000;
const FILE = 500_000;

/** Bytes of every file under the blob directory, `.partial` included. */
async function bytesOnDisk(dir = path.join(t.dataDir, "blobs")): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const full = path.join(dir, entry.name);
    total += entry.isDirectory()
      ? await bytesOnDisk(full)
      : await stat(full).then(
          (s) => s.size,
          () => 0,
        );
  }
  return total;
}

async function overwriteWorld() {
  const w = await t.factories.world({ quotaBytes: BigInt(QUOTA), maxFileSizeBytes: BigInt(FILE) });
  const url = `${t.url}/api/v1/space/${w.space.id}/storage/${Buffer.from("big.bin").toString("base64url")}/upload`;
  const upload = async () => {
    const res = await fetch(url, {
      method: "POST",
      headers: { authorization: `Bearer ${w.adminToken}`, "content-type": "application/octet-stream" },
      body: randomBytes(FILE),
    });
    await res.arrayBuffer();
    return res.status;
  };
  expect(await upload()).toBe(200);
  return { w, upload };
}

async function expectBoundedWithin10s(organizationId: string) {
  // The bound: the quota, plus one file (an upload in flight may stream that much before it is refused).
  await eventually(async () => (await bytesOnDisk()) <= QUOTA + FILE, 10_000, 100);
  const org = await t.deps.prisma.organization.findUniqueOrThrow({ where: { id: organizationId } });
  expect(org.usedBytes).toBe(BigInt(FILE));
  expect(await t.deps.prisma.blob.count({ where: { organizationId } })).toBe(1);
}

it("200 sequential overwrites of 500 kB under a 1 MB quota leave no more than quota + one file on disk", async () => {
  const { w, upload } = await overwriteWorld();
  for (let i = 0; i < 200; i++) expect(await upload()).toBe(200);
  await expectBoundedWithin10s(w.org.id);
}, 120_000);

it("the same from 8 concurrent clients", async () => {
  const { w, upload } = await overwriteWorld();
  const statuses = await Promise.all(
    Array.from({ length: 8 }, async () => {
      const mine: number[] = [];
      for (let i = 0; i < 25; i++) mine.push(await upload());
      return mine;
    }),
  );
  expect(statuses.flat().filter((s) => s !== 200)).toEqual([]);
  await expectBoundedWithin10s(w.org.id);
}, 120_000);

it("deleting files purges their bytes before the delete answers", async () => {
  const { w } = await overwriteWorld();
  const entry = await t.deps.prisma.entry.findFirstOrThrow({ where: { spaceId: w.space.id, kind: "FILE" }, include: { blob: true } });
  expect(await t.deps.blobStore.head(entry.blob!.key)).not.toBeNull();
  expect((await t.gql(DeleteEntryDocument, { id: entry.id }, w.adminToken)).errors).toBeUndefined();
  expect(await t.deps.blobStore.head(entry.blob!.key)).toBeNull();
});

it("a two-stage upload that replaces a file purges the old bytes before its PUT answers", async () => {
  const { w } = await overwriteWorld();
  const old = await t.deps.prisma.entry.findFirstOrThrow({ where: { spaceId: w.space.id, kind: "FILE" }, include: { blob: true } });
  const created = await t.gql(
    CreateAssetUploadDocument,
    { input: { spaceId: w.space.id, path: "big.bin", mimeType: "application/octet-stream", size: 1000 } },
    w.adminToken,
  );
  const { url, headers } = created.data!.createAssetUpload.uploadRequest;
  const { "Content-Length": _length, ...sent } = headers as Record<string, string>;
  expect((await fetch(url, { method: "PUT", headers: sent, body: randomBytes(1000) })).status).toBe(200);
  expect(await t.deps.blobStore.head(old.blob!.key)).toBeNull();
  expect((await t.deps.prisma.organization.findUniqueOrThrow({ where: { id: w.org.id } })).usedBytes).toBe(1000n);
});

it("a backlog of 200 purge jobs drains in batches, in seconds", async () => {
  const keys = Array.from({ length: 200 }, () => randomToken(20));
  for (const key of keys) await t.deps.blobStore.put(key, Readable.from([randomBytes(64)]), { contentType: "application/octet-stream" });
  // One job per key, as 200 overwrites would leave behind if their requests could not purge.
  for (const key of keys) await t.deps.queue.send("blob.purge", { keys: [key] });
  const started = Date.now();
  await eventually(async () => (await Promise.all(keys.map((k) => t.deps.blobStore.head(k)))).every((h) => h === null), 10_000, 100);
  expect(Date.now() - started).toBeLessThan(10_000);
}, 60_000);
