// Orphans: objects in the store that no row owns are deleted; READY rows whose
// object vanished are marked FAILED with a reason. Through the job's function
// and through the CLI, with --dry-run changing nothing.
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { afterAll, beforeAll, expect, it } from "vitest";
import { randomToken } from "../src/ids.ts";
import { reconcileBlobStore } from "../src/modules/blob/blob.reconcile.ts";
import { AssetAtPathDocument, CreateAssetUploadDocument } from "./generated/graphql.ts";
import { buildTestApp, type TestApp } from "./harness.ts";
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
