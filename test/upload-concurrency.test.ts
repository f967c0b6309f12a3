// Concurrency beyond the database pool queues for a connection instead of
// failing (Prisma's P2028, "Unable to start a transaction in the given time",
// used to surface as HTTP 500 once a transaction waited 2 s for a connection),
// and an upload holds no connection while its bytes stream. Real HTTP, real
// database, a small pool. bench/upload-burst.ts measures 1,000 uploads from 64 clients.
import { randomBytes } from "node:crypto";
import { readdir } from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { buildTestApp, eventually, type TestApp } from "./harness.ts";

const POOL = 4;
let t: TestApp;
let w: Awaited<ReturnType<TestApp["factories"]["world"]>>;
beforeAll(async () => {
  t = await buildTestApp({ poolSize: POOL });
  w = await t.factories.world({ quotaBytes: 1n << 30n, maxFileSizeBytes: 1n << 20n });
});
afterAll(() => t?.close());

const uploadUrl = (path: string) => `${t.url}/api/v1/space/${w.space.id}/storage/${Buffer.from(path).toString("base64url")}/upload`;
const headers = () => ({ authorization: `Bearer ${w.adminToken}`, "content-type": "application/octet-stream" });

/** An upload over node:http whose body is held open after its first 5,000 bytes (past the sniffed head) until finish(). */
function heldUpload(path: string, size = 8192) {
  const body = randomBytes(size);
  const req = http.request(uploadUrl(path), { method: "POST", headers: { ...headers(), "content-length": String(size) } });
  const answered = new Promise<string>((resolve, reject) => {
    req.on("error", reject);
    req.on("response", (res) => {
      let text = "";
      res.on("data", (chunk) => (text += chunk));
      res.on("end", () => resolve(res.statusCode === 200 ? "200" : `${res.statusCode} ${text.slice(0, 200)}`));
    });
  });
  req.write(body.subarray(0, 5000));
  return {
    req,
    finish: () => {
      req.end(body.subarray(5000));
      return answered;
    },
  };
}

const streamingUploads = async () => (await readdir(path.join(t.dataDir, "blobs", ".partial")).catch(() => [])).length;

it("uploads whose commit finds every pooled connection busy for 3 s wait for one, and then all succeed", async () => {
  // 16 uploads streaming their bytes (they hold no connection meanwhile)...
  const uploads = Array.from({ length: 16 }, (_, i) => heldUpload(`queued/f${i}.bin`));
  await eventually(async () => (await streamingUploads()) === 16, 10_000, 20);
  // ...then every pooled connection is taken for longer than Prisma's default 2 s wait...
  const busy = Array.from({ length: POOL }, () => t.deps.prisma.$transaction((tx) => tx.$executeRaw`SELECT pg_sleep(3)`));
  await new Promise((r) => setTimeout(r, 300));
  // ...and their bodies end: every commit transaction has to queue for a connection.
  const started = Date.now();
  const statuses = await Promise.all(uploads.map((u) => u.finish()));
  await Promise.all(busy);
  expect(statuses.filter((s) => s !== "200")).toEqual([]);
  expect(Date.now() - started).toBeGreaterThan(2_000); // they did wait for the pool
  expect(await t.deps.prisma.entry.count({ where: { spaceId: w.space.id, kind: "FILE", parent: { name: "queued" } } })).toBe(16);
});

it("uploads whose bytes are still streaming hold no database connection", async () => {
  // As many stalled uploads as the pool has connections, each mid-body.
  const stalled = Array.from({ length: POOL }, (_, i) => {
    const req = http.request(uploadUrl(`stalled/s${i}.bin`), { method: "POST", headers: { ...headers(), "content-length": "2000" } });
    req.on("error", () => {});
    req.write(randomBytes(1000));
    return req;
  });
  try {
    await new Promise((r) => setTimeout(r, 500));
    const res = await fetch(uploadUrl("stalled/meanwhile.bin"), {
      method: "POST",
      headers: headers(),
      body: randomBytes(100),
      signal: AbortSignal.timeout(10_000),
    });
    expect(res.status).toBe(200);
  } finally {
    for (const req of stalled) req.destroy();
  }
});
