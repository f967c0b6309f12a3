// Orphans: objects in the store that no row owns are deleted; READY rows whose
// object vanished are marked FAILED with a reason. Through the job's function
// and through the CLI, with --dry-run changing nothing.
import { randomBytes } from "node:crypto";
import { access, mkdir, mkdtemp, rm, utimes, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.ts";
import { createDeps } from "../src/deps.ts";
import { randomToken } from "../src/ids.ts";
import { reconcileBlobStore } from "../src/modules/blob/blob.reconcile.ts";
import { AssetAtPathDocument, CreateAssetUploadDocument, DeleteEntryDocument } from "./generated/graphql.ts";
import { buildTestApp, createTestDatabase, type TestApp } from "./harness.ts";
import { runCli } from "./support/processes.ts";
import { uploadAsset } from "./support/upload.ts";

let t: TestApp;
let w: Awaited<ReturnType<TestApp["factories"]["world"]>>;
beforeAll(async () => {
  t = await buildTestApp({ workers: false });
  w = await t.factories.world();
});
afterAll(() => t?.close());

const putObject = (key: string) => t.deps.blobStore.put(key, Readable.from([randomBytes(64)]), { contentType: "application/octet-stream" });

it("finds objects without rows and rows without objects, and fixes both unless it is a dry run", async () => {
  // Healthy files, one whose object will vanish, a pending upload with no bytes yet, and two stray objects.
  for (const name of ["a", "b", "c"])
    await uploadAsset(t.graphqlUrl, { token: w.adminToken, spaceId: w.space.id, path: `${name}.bin`, body: randomBytes(100) });
  const vanished = await uploadAsset(t.graphqlUrl, { token: w.adminToken, spaceId: w.space.id, path: "vanished.bin", body: randomBytes(100) });
  const vanishedBlob = await t.deps.prisma.blob.findFirstOrThrow({ where: { entry: { id: vanished.data!.uploadAsset.id } } });
  await t.deps.blobStore.delete(vanishedBlob.key);
  await t.gql(CreateAssetUploadDocument, { input: { spaceId: w.space.id, path: "pending.bin", mimeType: "application/octet-stream", size: 10 } }, w.adminToken);
  const strays = [randomToken(20), randomToken(20)];
  for (const key of strays) await putObject(key);

  const dry = await reconcileBlobStore(t.deps, { dryRun: true, minAgeSeconds: 0 });
  expect(dry.orphanObjectCount).toBe(2);
  expect(dry.orphanObjects.sort()).toEqual([...strays].sort());
  expect(dry.missingObjects).toEqual([{ id: vanishedBlob.id, key: vanishedBlob.key }]);
  expect(dry.objectsScanned).toBe(5);
  for (const key of strays) expect(await t.deps.blobStore.head(key)).not.toBeNull();
  expect((await t.deps.prisma.blob.findUniqueOrThrow({ where: { id: vanishedBlob.id } })).status).toBe("READY");

  // Too young to judge: an upload writes its object before its row commits.
  const young = await reconcileBlobStore(t.deps, { dryRun: false, minAgeSeconds: 3600 });
  expect(young.skippedYoungObjects).toBe(2);
  for (const key of strays) expect(await t.deps.blobStore.head(key)).not.toBeNull();

  const real = await reconcileBlobStore(t.deps, { dryRun: false, minAgeSeconds: 0 });
  expect(real.orphanObjectCount).toBe(2);
  for (const key of strays) expect(await t.deps.blobStore.head(key)).toBeNull();
  const failed = await t.deps.prisma.blob.findUniqueOrThrow({ where: { id: vanishedBlob.id } });
  expect(failed).toMatchObject({ status: "FAILED", failureReason: "The object is missing from the blob store" });
  const entry = await t.gql(AssetAtPathDocument, { spaceId: w.space.id, path: "vanished.bin" }, w.adminToken);
  expect(entry.data?.entry).toMatchObject({ status: "FAILED" });
  // The pending upload is left to the upload sweep.
  expect(await t.deps.prisma.blob.count({ where: { status: "PENDING", spaceId: w.space.id } })).toBe(1);

  const clean = await reconcileBlobStore(t.deps, { dryRun: false, minAgeSeconds: 0 });
  expect(clean).toMatchObject({ orphanObjectCount: 0, missingObjectCount: 0 });
});

it("runs from the CLI, where --dry-run reports without changing anything", async () => {
  const stray = randomToken(20);
  await putObject(stray);
  const env = { DATA_DIR: t.dataDir, DATABASE_URL: t.deps.runtime.databaseUrl, LOG_LEVEL: "silent" };
  const dry = await runCli(["orphans", "--dry-run", "--min-age", "0"], env);
  expect(dry.code).toBe(0);
  expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, orphanObjectCount: 1, orphanObjects: [stray] });
  expect(await t.deps.blobStore.head(stray)).not.toBeNull();
  const real = await runCli(["orphans", "--min-age", "0"], env);
  expect(JSON.parse(real.stdout)).toMatchObject({ dryRun: false, orphanObjectCount: 1 });
  expect(await t.deps.blobStore.head(stray)).toBeNull();
});

it("deleting a file reconciliation marked FAILED gives its bytes back to the quota", async () => {
  const own = await t.factories.world();
  const usage = async () => (await t.deps.prisma.organization.findUniqueOrThrow({ where: { id: own.org.id } })).usedBytes;
  const before = await usage();
  const uploaded = await uploadAsset(t.graphqlUrl, { token: own.adminToken, spaceId: own.space.id, path: "lost.bin", body: randomBytes(3_000) });
  const blob = await t.deps.prisma.blob.findFirstOrThrow({ where: { entry: { id: uploaded.data!.uploadAsset.id } } });
  expect(await usage()).toBe(before + 3_000n);
  await t.deps.blobStore.delete(blob.key);
  await reconcileBlobStore(t.deps, { dryRun: false, minAgeSeconds: 0 });
  expect((await t.deps.prisma.blob.findUniqueOrThrow({ where: { id: blob.id } })).status).toBe("FAILED");
  expect(await usage()).toBe(before + 3_000n);

  expect((await t.gql(DeleteEntryDocument, { id: uploaded.data!.uploadAsset.id }, own.adminToken)).errors).toBeUndefined();
  expect(await usage()).toBe(before);
  expect((await t.deps.prisma.space.findUniqueOrThrow({ where: { id: own.space.id } })).usedBytes).toBe(0n);
});

describe("writes that died with their process (.partial files)", () => {
  const HOUR = 3600 * 1000;
  /** A real .partial file under `root`, last modified `ageMs` ago. */
  async function partial(root: string, ageMs: number): Promise<string> {
    const dir = path.join(root, ".partial");
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, `${randomToken(20)}.${randomToken(6)}`);
    await writeFile(file, randomBytes(100));
    const when = new Date(Date.now() - ageMs);
    await utimes(file, when, when);
    return file;
  }
  const exists = (file: string) =>
    access(file).then(
      () => true,
      () => false,
    );

  it("reconciliation removes those untouched for an hour and keeps younger ones (and all in a dry run)", async () => {
    const root = path.join(t.dataDir, "blobs");
    const [stale, fresh] = [await partial(root, 2 * HOUR), await partial(root, 10 * 60 * 1000)];
    const dry = await reconcileBlobStore(t.deps, { dryRun: true, minAgeSeconds: 0 });
    expect(dry.abandonedWrites).toBe(1);
    expect(await exists(stale)).toBe(true);
    const real = await reconcileBlobStore(t.deps, { dryRun: false, minAgeSeconds: 0 });
    expect(real.abandonedWrites).toBe(1);
    expect(await exists(stale)).toBe(false);
    expect(await exists(fresh)).toBe(true);
    // Never reported as objects, and the store still works around them.
    expect(real.orphanObjects.some((key) => fresh.includes(key))).toBe(false);
    await rm(fresh);
  });

  it("are removed when the server starts on an existing DATA_DIR, the young ones kept", async () => {
    const db = await createTestDatabase();
    const dataDir = await mkdtemp(path.join(os.tmpdir(), "cabinet-partials-"));
    try {
      const root = path.join(dataDir, "blobs");
      const [stale, fresh] = [await partial(root, 2 * HOUR), await partial(root, 60 * 1000)];
      const config = loadConfig({ DATA_DIR: dataDir, DATABASE_URL: db.url, LOG_LEVEL: "silent", CABINET_SIGNING_SECRET: randomToken(32) });
      const deps = await createDeps(
        config,
        { databaseUrl: db.url, signingSecret: randomToken(32), publicUrl: "http://127.0.0.1:1" },
        { logger: pino({ level: "silent" }) },
      );
      try {
        expect(await exists(stale)).toBe(false);
        expect(await exists(fresh)).toBe(true);
      } finally {
        await deps.close();
      }
    } finally {
      await db.drop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
