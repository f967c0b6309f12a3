// Jobs: enqueued inside the transaction that needs them (a rolled-back change
// leaves no job behind), run by the worker registry, idempotent on repeat.
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { afterAll, beforeAll, expect, it } from "vitest";
import { randomToken } from "../src/ids.ts";
import { buildTestApp, eventually, type TestApp } from "./harness.ts";

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(() => t?.close());

const jobsFor = async (key: string) =>
  t.deps.prisma.$queryRaw<{ state: string }[]>`SELECT state::text FROM pgboss.job WHERE name = 'blob.purge' AND data->'keys' ? ${key}`;

it("a job sent in a rolled-back transaction never exists", async () => {
  const key = randomToken(20);
  await expect(
    t.deps.prisma.$transaction(async (tx) => {
      await t.deps.queue.send("blob.purge", { keys: [key] }, { tx });
      throw new Error("roll back");
    }),
  ).rejects.toThrow("roll back");
  expect(await jobsFor(key)).toEqual([]);
});

it("a committed blob.purge job deletes the object, and running it twice is harmless", async () => {
  const key = randomToken(20);
  await t.deps.blobStore.put(key, Readable.from([randomBytes(1024)]), { contentType: "application/octet-stream" });
  expect(await t.deps.blobStore.head(key)).toEqual({ size: 1024 });
  await t.deps.prisma.$transaction((tx) => t.deps.queue.send("blob.purge", { keys: [key] }, { tx }));
  await eventually(async () => (await t.deps.blobStore.head(key)) === null);
  await eventually(async () => (await jobsFor(key))[0]?.state === "completed");

  await t.deps.queue.send("blob.purge", { keys: [key] });
  await eventually(async () => (await jobsFor(key)).filter((j) => j.state === "completed").length === 2);
});
