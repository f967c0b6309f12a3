// The BlobStore contract (src/storage/blob-store.ts), run unchanged against both
// drivers: the disk store behind its real /blobs route, and the S3 store against
// s3rver, which verifies SigV4 like real S3. Everything goes over real HTTP.
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import Fastify from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../src/free-port.ts";
import { AppError } from "../src/errors.ts";
import { randomToken } from "../src/ids.ts";
import type { BlobStore } from "../src/storage/blob-store.ts";
import { registerDiskBlobRoutes } from "../src/storage/disk-blob.routes.ts";
import { DiskBlobStore } from "../src/storage/disk-blob-store.ts";
import { S3BlobStore } from "../src/storage/s3-blob-store.ts";
import { adaptClientToS3rver, startS3rver, type TestS3 } from "./support/s3rver.ts";

const MiB = 1024 * 1024;
const UNICODE_NAME = "Bericht Ü 報告 😀.pdf";

type Running = { store: BlobStore; stop(): Promise<void> };

async function startDisk(): Promise<Running & { store: DiskBlobStore }> {
  const root = await mkdtemp(path.join(os.tmpdir(), "cabinet-blobs-"));
  const port = await freePort();
  const store = new DiskBlobStore({ root, publicUrl: `http://127.0.0.1:${port}`, signingSecret: randomToken(32) });
  const app = Fastify();
  registerDiskBlobRoutes(app, store);
  await app.listen({ port, host: "127.0.0.1" });
  return {
    store,
    async stop() {
      await app.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

async function startS3(): Promise<Running & { store: S3BlobStore; s3: TestS3 }> {
  const s3 = await startS3rver();
  const store = new S3BlobStore(s3.config);
  adaptClientToS3rver(store.client);
  return {
    store,
    s3,
    async stop() {
      store.client.destroy();
      await s3.stop();
    },
  };
}

const drivers = [
  {
    name: "disk",
    start: startDisk,
    // The disk route verifies its own HMAC; any query value is fine.
    emulatorMisencodesQuery: false,
  },
  {
    name: "s3",
    start: startS3,
    // KNOWN S3RVER BUG (4.0.4): it rebuilds the canonical query string with
    // encodeURIComponent, which leaves ' and * unescaped, while SigV4 (the SDK,
    // real S3) escapes them. Every presigned GET whose response-content-disposition
    // carries `filename*=UTF-8''…` is therefore refused by s3rver with 403
    // SignatureDoesNotMatch, though real S3 serves it.
    emulatorMisencodesQuery: true,
  },
] as const;

const newKey = () => randomToken(20);
const sha256 = (buf: Buffer) => createHash("sha256").update(buf).digest("hex");

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

async function hashStream(stream: Readable): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of stream) hash.update(chunk as Uint8Array);
  return hash.digest("hex");
}

/** Random chunks, produced on demand, so the body never exists as one buffer. */
function generated(totalBytes: number, chunkBytes = 256 * 1024) {
  const hash = createHash("sha256");
  async function* chunks() {
    for (let sent = 0; sent < totalBytes; sent += chunkBytes) {
      const chunk = randomBytes(Math.min(chunkBytes, totalBytes - sent));
      hash.update(chunk);
      yield chunk;
    }
  }
  return { stream: Readable.from(chunks()), digest: () => hash.digest("hex") };
}

/** Sends `bytesBefore` bytes, then fails the way a source does: by throwing or by destroy(err). */
function failingSource(bytesBefore: number, error: Error, how: "throw" | "destroy"): Readable {
  const chunkBytes = 256 * 1024;
  if (how === "throw") {
    return Readable.from(
      (async function* () {
        for (let sent = 0; sent < bytesBefore; sent += chunkBytes) yield randomBytes(chunkBytes);
        throw error;
      })(),
    );
  }
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= bytesBefore) return void this.destroy(error);
      sent += chunkBytes;
      this.push(randomBytes(chunkBytes));
    },
  });
}

/** The same URL with one character of its signature changed (hex for S3, base64url for disk: 'a'/'b' fit both). */
function withTamperedSignature(url: string): string {
  const u = new URL(url);
  const name = [...u.searchParams.keys()].find((k) => /signature$/i.test(k));
  if (!name) throw new Error(`no signature parameter in ${url}`);
  const signature = u.searchParams.get(name) ?? "";
  const first = signature[0] === "a" ? "b" : "a";
  u.searchParams.set(name, first + signature.slice(1));
  return u.toString();
}

describe.each(drivers)("BlobStore contract: $name", (driver) => {
  let running: Running;
  let store: BlobStore;
  beforeAll(async () => {
    running = await driver.start();
    store = running.store;
  });
  afterAll(() => running?.stop());

  /** A stored object of `size` random bytes. */
  async function stored(size = 300 * 1024, contentType = "application/octet-stream") {
    const key = newKey();
    const bytes = randomBytes(size);
    await store.put(key, Readable.from([bytes]), { contentType, size });
    return { key, bytes };
  }

  describe("put / head / getStream", () => {
    it("head reports the size and getStream returns the identical bytes", async () => {
      const { key, bytes } = await stored(300 * 1024);
      expect((await store.head(key))?.size).toBe(bytes.length);
      const back = await readAll(await store.getStream(key));
      expect(back.length).toBe(bytes.length);
      expect(back.equals(bytes)).toBe(true);
    });

    it("streams a multi-MB body from a generator (larger than one S3 part)", async () => {
      const key = newKey();
      const size = 12 * MiB + 12345;
      const source = generated(size);
      await store.put(key, source.stream, { contentType: "application/octet-stream" });
      expect((await store.head(key))?.size).toBe(size);
      expect(await hashStream(await store.getStream(key))).toBe(source.digest());
    });

    it("head is null for a key that was never written", async () => {
      expect(await store.head(newKey())).toBeNull();
    });

    it("getStream with a range returns exactly those bytes (inclusive end)", async () => {
      const { key, bytes } = await stored(64 * 1024);
      const middle = await readAll(await store.getStream(key, { start: 1000, end: 1999 }));
      expect(middle.equals(bytes.subarray(1000, 2000))).toBe(true);
      // A one-byte range, but not bytes=0-0: s3rver 4.0.4 reads end 0 as "to the end"
      // and returns the whole object (real S3 returns one byte).
      const single = await readAll(await store.getStream(key, { start: 5, end: 5 }));
      expect(single.equals(bytes.subarray(5, 6))).toBe(true);
      const tail = await readAll(await store.getStream(key, { start: bytes.length - 10, end: bytes.length - 1 }));
      expect(tail.equals(bytes.subarray(bytes.length - 10))).toBe(true);
    });
  });

  describe("put is atomic", () => {
    // 9 MiB: past S3's 8 MiB part size, so a multipart upload is already under way when the source fails.
    const FAIL_AFTER = 9 * MiB;

    it("a source that errors midway: put rejects with that error and nothing remains", async () => {
      const key = newKey();
      const boom = new Error("source broke midway");
      await expect(store.put(key, failingSource(FAIL_AFTER, boom, "throw"), { contentType: "text/plain" })).rejects.toBe(boom);
      expect(await store.head(key)).toBeNull();
    });

    it("a source destroyed with an AppError: put rejects with that same AppError and nothing remains", async () => {
      const key = newKey();
      const limit = new AppError("LIMITS_REACHED", "File is larger than the space allows");
      const put = store.put(key, failingSource(FAIL_AFTER, limit, "destroy"), { contentType: "text/plain" });
      await expect(put).rejects.toBe(limit);
      await expect(put).rejects.toMatchObject({ code: "LIMITS_REACHED" });
      expect(await store.head(key)).toBeNull();
    });
  });

  describe("delete", () => {
    it("is idempotent and head is null afterwards", async () => {
      const { key } = await stored(1024);
      await store.delete(key);
      expect(await store.head(key)).toBeNull();
      await expect(store.getStream(key)).rejects.toMatchObject({ code: "NOT_FOUND" });
      await expect(store.delete(key)).resolves.toBeUndefined();
      await expect(store.delete(newKey())).resolves.toBeUndefined();
    });
  });

  describe("presignGet", () => {
    it("serves the bytes with the contentType given to presignGet (not the stored one)", async () => {
      const { key, bytes } = await stored(200 * 1024, "application/octet-stream");
      const res = await fetch(await store.presignGet(key, { expiresInSeconds: 60, contentType: "application/pdf" }));
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("application/pdf");
      expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
    });

    it("Content-Disposition carries filename and filename* for a unicode name", async () => {
      const { key } = await stored(1024);
      const url = await store.presignGet(key, { expiresInSeconds: 60, fileName: UNICODE_NAME, contentType: "application/pdf" });
      const res = await fetch(url);
      let disposition: string | null;
      if (driver.emulatorMisencodesQuery) {
        // s3rver refuses this valid URL (see `emulatorMisencodesQuery` above), so the
        // header cannot be observed here. What is checked instead: the refusal is that
        // bug and not some other failure, and the URL asks S3 for the right header
        // (S3 returns response-content-disposition verbatim as Content-Disposition).
        // If s3rver ever fixes it, this branch fails: drop it then.
        expect(res.status).toBe(403);
        expect(await res.text()).toContain("<Code>SignatureDoesNotMatch</Code>");
        disposition = new URL(url).searchParams.get("response-content-disposition");
      } else {
        expect(res.status).toBe(200);
        disposition = res.headers.get("content-disposition");
      }
      expect(disposition).toMatch(/^inline; /);
      const fallback = /filename="([^"]*)"/.exec(disposition ?? "")?.[1];
      expect(fallback).toMatch(/^[\x20-\x7e]+\.pdf$/);
      const exact = /filename\*=UTF-8''([^;\s]+)/.exec(disposition ?? "")?.[1];
      expect(exact).toBeDefined();
      expect(decodeURIComponent(exact ?? "")).toBe(UNICODE_NAME);
    });

    it("Content-Disposition without a name is just the disposition type", async () => {
      const { key } = await stored(1024);
      const res = await fetch(await store.presignGet(key, { expiresInSeconds: 60, disposition: "attachment" }));
      expect(res.status).toBe(200);
      expect(res.headers.get("content-disposition")).toBe("attachment");
    });

    it("a Range request gets 206 with exactly those bytes and a Content-Range", async () => {
      const { key, bytes } = await stored(4096);
      const res = await fetch(await store.presignGet(key, { expiresInSeconds: 60 }), { headers: { Range: "bytes=0-9" } });
      expect(res.status).toBe(206);
      expect(res.headers.get("content-range")).toBe(`bytes 0-9/${bytes.length}`);
      const body = Buffer.from(await res.arrayBuffer());
      expect(body.length).toBe(10);
      expect(body.equals(bytes.subarray(0, 10))).toBe(true);
    });

    it("an expired URL gets 403", async () => {
      const { key } = await stored(1024);
      // Both drivers count expiry in whole seconds from the signing second; signing just
      // after a second starts leaves the URL ~1 s of life, so the first fetch cannot race it.
      await sleep(1010 - (Date.now() % 1000));
      const url = await store.presignGet(key, { expiresInSeconds: 1 });
      expect((await fetch(url)).status).toBe(200);
      await sleep(2100);
      const res = await fetch(url);
      expect(res.status).toBe(403);
    });

    it("a URL with one character of its signature changed gets 403", async () => {
      const { key } = await stored(1024);
      const url = await store.presignGet(key, { expiresInSeconds: 60 });
      expect((await fetch(url)).status).toBe(200); // the untouched URL works, so the 403 below is the tampering
      expect((await fetch(withTamperedSignature(url))).status).toBe(403);
    });

    it("a URL whose key is swapped for another existing key gets 403", async () => {
      const { key } = await stored(1024);
      const other = await stored(1024);
      const url = new URL(await store.presignGet(key, { expiresInSeconds: 60 }));
      expect(url.pathname).toContain(key);
      url.pathname = url.pathname.replace(key, other.key);
      expect((await fetch(url)).status).toBe(403);
    });
  });

  describe("checkReady", () => {
    it("resolves on a healthy store", async () => {
      await expect(store.checkReady()).resolves.toBeUndefined();
    });
  });
});

describe("DiskBlobStore specifics", () => {
  let running: Awaited<ReturnType<typeof startDisk>>;
  beforeAll(async () => {
    running = await startDisk();
  });
  afterAll(() => running?.stop());

  it("a failed put leaves no partial file behind", async () => {
    const { store } = running;
    const boom = new Error("source broke midway");
    await expect(store.put(newKey(), failingSource(MiB, boom, "throw"), { contentType: "text/plain" })).rejects.toBe(boom);
    expect(await readdir(path.join(store.root, ".partial"))).toEqual([]);
  });
});

describe("S3BlobStore specifics (s3rver)", () => {
  let running: Awaited<ReturnType<typeof startS3>>;
  beforeAll(async () => {
    running = await startS3();
  });
  afterAll(() => running?.stop());

  describe("presignPut", () => {
    it("a PUT of exactly the signed body and headers stores it", async () => {
      const { store } = running;
      const key = newKey();
      const body = randomBytes(100 * 1024);
      const upload = await store.presignPut(key, { expiresInSeconds: 60, contentType: "application/pdf", size: body.length });
      expect(upload.method).toBe("PUT");
      const res = await fetch(upload.url, { method: "PUT", headers: upload.headers, body });
      expect(res.status).toBe(200);
      expect(await store.head(key)).toEqual({ size: body.length, contentType: "application/pdf" });
      expect(sha256(await readAll(await store.getStream(key)))).toBe(sha256(body));
    });

    it("a PUT with another Content-Type than signed gets 403 and stores nothing", async () => {
      const { store } = running;
      const key = newKey();
      const body = randomBytes(1024);
      const upload = await store.presignPut(key, { expiresInSeconds: 60, contentType: "application/pdf", size: body.length });
      const res = await fetch(upload.url, { method: "PUT", headers: { ...upload.headers, "Content-Type": "text/html" }, body });
      expect(res.status).toBe(403);
      expect(await store.head(key)).toBeNull();
    });

    it("a PUT of another size than signed gets 403 and stores nothing", async () => {
      const { store } = running;
      const key = newKey();
      const upload = await store.presignPut(key, { expiresInSeconds: 60, contentType: "application/pdf", size: 1024 });
      // fetch sets Content-Length from the body; sending the signed one with a longer body would not even leave the client.
      const res = await fetch(upload.url, { method: "PUT", headers: { "Content-Type": "application/pdf" }, body: randomBytes(2048) });
      expect(res.status).toBe(403);
      expect(await store.head(key)).toBeNull();
    });
  });

  describe("checkReady", () => {
    it("rejects with STORAGE_NOT_CONFIGURED when the bucket does not exist", async () => {
      const store = new S3BlobStore({ ...running.s3.config, bucket: "no-such-bucket" });
      adaptClientToS3rver(store.client);
      await expect(store.checkReady()).rejects.toMatchObject({ name: "AppError", code: "STORAGE_NOT_CONFIGURED" });
      store.client.destroy();
    });

    it("rejects with STORAGE_UNAVAILABLE, quickly, when nothing listens at the endpoint", async () => {
      const store = new S3BlobStore({ ...running.s3.config, endpoint: `http://127.0.0.1:${await freePort()}` });
      const started = Date.now();
      await expect(store.checkReady()).rejects.toMatchObject({ name: "AppError", code: "STORAGE_UNAVAILABLE" });
      expect(Date.now() - started).toBeLessThan(5000);
      store.client.destroy();
    });
  });
});
