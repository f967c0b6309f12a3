// Quota and limits under concurrency: racing uploads can never push usage over
// the quota, and usage always equals the sum of the stored blobs.
import { randomBytes } from "node:crypto";
import { readdir } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { SpaceUsageDocument, UsageDocument } from "./generated/graphql.ts";
import { buildTestApp, errorCode, type TestApp } from "./harness.ts";
import { uploadAsset } from "./support/upload.ts";

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp({ workers: false });
});
afterAll(() => t?.close());

async function storedObjects(): Promise<string[]> {
  const root = path.join(t.dataDir, "blobs");
  const dirs = (await readdir(root).catch(() => [])).filter((d) => d !== ".partial");
  return (await Promise.all(dirs.map((d) => readdir(path.join(root, d))))).flat();
}

it("20 concurrent uploads racing for the last bytes never exceed the quota", async () => {
  // Room for exactly 7 of the 20 files.
  const size = 10_000;
  const w = await t.factories.world({ quotaBytes: BigInt(7 * size + size / 2), maxFileSizeBytes: 1_000_000n });
  const objectsBefore = (await storedObjects()).length;
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      uploadAsset(t.graphqlUrl, { token: w.adminToken, spaceId: w.space.id, path: `race/f${i}.bin`, body: randomBytes(size), createParents: true }),
    ),
  );
  const ok = results.filter((r) => !r.errors);
  const refused = results.filter((r) => errorCode(r) === "LIMITS_REACHED");
  expect(ok.length + refused.length).toBe(20);
  expect(ok.length).toBe(7);

  const org = await t.deps.prisma.organization.findUniqueOrThrow({ where: { id: w.org.id } });
  expect(org.usedBytes).toBeLessThanOrEqual(org.quotaBytes);
  expect(org.usedBytes).toBe(BigInt(7 * size));
  const stored = await t.deps.prisma.blob.aggregate({ _sum: { size: true }, _count: true, where: { organizationId: w.org.id } });
  expect(stored._sum.size).toBe(org.usedBytes);
  expect(stored._count).toBe(7);
  expect((await t.gql(SpaceUsageDocument, { id: w.space.id }, w.adminToken)).data!.space!.usedBytes).toBe(7 * size);
  expect((await t.gql(UsageDocument, {}, w.adminToken)).data!.organization.usedBytes).toBe(7 * size);
  // Refused uploads left no object behind.
  expect((await storedObjects()).length - objectsBefore).toBe(7);
  expect(await t.deps.prisma.entry.count({ where: { spaceId: w.space.id, kind: "FILE" } })).toBe(7);
});

it("overwrites are billed by the difference, also near the quota", async () => {
  const w = await t.factories.world({ quotaBytes: 10_000n, maxFileSizeBytes: 10_000n });
  expect((await uploadAsset(t.graphqlUrl, { token: w.adminToken, spaceId: w.space.id, path: "f.bin", body: randomBytes(9_000) })).errors).toBeUndefined();
  // 9,500 fits only because the 9,000 it replaces are given back.
  const over = await uploadAsset(t.graphqlUrl, { token: w.adminToken, spaceId: w.space.id, path: "f.bin", body: randomBytes(9_500) });
  expect(over.errors).toBeUndefined();
  expect((await t.deps.prisma.organization.findUniqueOrThrow({ where: { id: w.org.id } })).usedBytes).toBe(9_500n);
  const other = await uploadAsset(t.graphqlUrl, { token: w.adminToken, spaceId: w.space.id, path: "g.bin", body: randomBytes(1_000) });
  expect(errorCode(other)).toBe("LIMITS_REACHED");
});

it("the database itself refuses usage above the quota", async () => {
  const w = await t.factories.world({ quotaBytes: 100n });
  await expect(t.deps.prisma.organization.update({ where: { id: w.org.id }, data: { usedBytes: 101n } })).rejects.toThrow(/organizations_usage_within_quota/);
});
