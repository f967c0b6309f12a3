// The BlobStore contract (src/storage/blob-store.ts), run unchanged against both
// drivers: the disk store behind its real /blobs route, and the S3 store against
// s3rver, which verifies SigV4 like real S3. Everything goes over real HTTP.
import { createHash, createHmac, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import Fastify from "fastify";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { freePort } from "../src/free-port.ts";
import { AppError } from "../src/errors.ts";
import { randomToken } from "../src/ids.ts";
import { CHECKSUM_SHA256_HEADER, type BlobListEntry, type BlobStore } from "../src/storage/blob-store.ts";
import { registerDiskBlobRoutes } from "../src/storage/disk/disk-blob.routes.ts";
import { DiskBlobStore } from "../src/storage/disk/disk-blob-store.ts";
import { S3BlobStore } from "../src/storage/s3/s3-blob-store.ts";
import { S3Presigner } from "../src/storage/s3/s3-presigner.ts";
import { Q, sign, verify, type SignedFields } from "../src/storage/disk/signed-url.ts";
import { adaptClientToS3rver, startS3rver, type TestS3 } from "./support/s3rver.ts";

const MiB = 1024 * 1024;
const UNICODE_NAME = "Bericht Ü 報告 😀.pdf";

type Running = { store: BlobStore; stop(): Promise<void> };

async function startDisk(): Promise<Running & { store: DiskBlobStore }> {
  const root = await mkdtemp(path.join(os.tmpdir(), "cabinet-blobs-"));
  const port = await freePort();
  const store = new DiskBlobStore({ root, publicUrl: `http://127.0.0.1:${port}`, signingSecret: randomToken(32) });
  const app = Fastify();
  await registerDiskBlobRoutes(app, store);
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
    headReportsContentType: false,
    // The disk PUT route hashes the body and refuses one whose digest is not the signed one.
    emulatorIgnoresChecksums: false,
    // The route refuses itself to place a body under a key that holds an object; no header asks for it.
    conditionalPutHeaders: {},
    emulatorIgnoresConditionalPut: false,
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
    headReportsContentType: true,
    // KNOWN S3RVER GAP (4.0.4): it never reads x-amz-checksum-sha256, so a body
    // with another digest is stored; real S3 answers 400 BadDigest. What s3rver
    // does check is the signature, so the header itself must be sent as signed.
    emulatorIgnoresChecksums: true,
    // A signed If-None-Match: * makes S3 refuse to replace an existing object.
    conditionalPutHeaders: { "If-None-Match": "*" },
    // KNOWN S3RVER GAP (4.0.4): it checks If-None-Match on GET only and
    // overwrites on PUT; real S3 answers 412 PreconditionFailed. It does check
    // the signature, so the header must be sent as signed.
    emulatorIgnoresConditionalPut: true,
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

async function collect(entries: AsyncIterable<BlobListEntry>): Promise<BlobListEntry[]> {
  const out: BlobListEntry[] = [];
  for await (const entry of entries) out.push(entry);
  return out;
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

  describe("a URL is for its method only", () => {
    it("a GET URL used to PUT gets 403 and the object is unchanged", async () => {
      const { key, bytes } = await stored(1024);
      const url = await store.presignGet(key, { expiresInSeconds: 60 });
      const res = await fetch(url, { method: "PUT", headers: { "Content-Type": "application/octet-stream" }, body: randomBytes(1024) });
      expect(res.status).toBe(403);
      expect(sha256(await readAll(await store.getStream(key)))).toBe(sha256(bytes));
    });

    it("a PUT URL used to GET gets 403", async () => {
      const { key } = await stored(1024);
      const upload = await store.presignPut(key, { expiresInSeconds: 60, contentType: "application/pdf", size: 1024 });
      expect((await fetch(upload.url)).status).toBe(403);
    });
  });

  describe("presignPut", () => {
    it("a PUT of exactly the signed body and headers stores it", async () => {
      const key = newKey();
      const body = randomBytes(100 * 1024);
      const upload = await store.presignPut(key, { expiresInSeconds: 60, contentType: "application/pdf", size: body.length });
      expect(upload.method).toBe("PUT");
      expect(upload.headers).toEqual({ "Content-Type": "application/pdf", "Content-Length": String(body.length), ...driver.conditionalPutHeaders });
      const res = await fetch(upload.url, { method: "PUT", headers: upload.headers, body });
      expect(res.status).toBe(200);
      const head = await store.head(key);
      expect(head?.size).toBe(body.length);
      if (driver.headReportsContentType) expect(head?.contentType).toBe("application/pdf");
      expect(sha256(await readAll(await store.getStream(key)))).toBe(sha256(body));
    });

    it("of unknown size (maxSize): a PUT of any body up to it stores it, with no Content-Length signed", async () => {
      const key = newKey();
      const body = randomBytes(3_000);
      const upload = await store.presignPut(key, { expiresInSeconds: 60, contentType: "application/pdf", maxSize: 10_000 });
      expect(upload.headers).toEqual({ "Content-Type": "application/pdf", ...driver.conditionalPutHeaders });
      const res = await fetch(upload.url, { method: "PUT", headers: upload.headers, body });
      expect(res.status).toBe(200);
      expect((await store.head(key))?.size).toBe(body.length);
    });

    it("a PUT with another Content-Type than signed gets 403 and stores nothing", async () => {
      const key = newKey();
      const body = randomBytes(1024);
      const upload = await store.presignPut(key, { expiresInSeconds: 60, contentType: "application/pdf", size: body.length });
      const res = await fetch(upload.url, { method: "PUT", headers: { ...upload.headers, "Content-Type": "text/html" }, body });
      expect(res.status).toBe(403);
      expect(await store.head(key)).toBeNull();
    });

    it("a PUT of another size than signed gets 403 and stores nothing", async () => {
      const key = newKey();
      const upload = await store.presignPut(key, { expiresInSeconds: 60, contentType: "application/pdf", size: 1024 });
      // fetch sets Content-Length from the body; sending the signed one with a longer body would not even leave the client.
      const res = await fetch(upload.url, { method: "PUT", headers: { "Content-Type": "application/pdf" }, body: randomBytes(2048) });
      expect(res.status).toBe(403);
      expect(await store.head(key)).toBeNull();
    });

    it("never replaces an object already under the key", async () => {
      const { key, bytes } = await stored(1024);
      const upload = await store.presignPut(key, { expiresInSeconds: 60, contentType: "application/octet-stream", size: 1024 });
      const res = await fetch(upload.url, { method: "PUT", headers: upload.headers, body: randomBytes(1024) });
      if (driver.emulatorIgnoresConditionalPut) {
        // See `emulatorIgnoresConditionalPut`: s3rver accepts the signed header and overwrites. If it ever honours it, this fails: drop the branch.
        expect(res.status).toBe(200);
        return;
      }
      expect([409, 412]).toContain(res.status);
      expect(sha256(await readAll(await store.getStream(key)))).toBe(sha256(bytes));
    });

    it("a PUT without the signed condition gets 403 and stores nothing", async () => {
      if (Object.keys(driver.conditionalPutHeaders).length === 0) return;
      const key = newKey();
      const body = randomBytes(1024);
      const upload = await store.presignPut(key, { expiresInSeconds: 60, contentType: "application/pdf", size: body.length });
      const unconditional = Object.fromEntries(Object.entries(upload.headers).filter(([name]) => !(name in driver.conditionalPutHeaders)));
      expect((await fetch(upload.url, { method: "PUT", headers: unconditional, body })).status).toBe(403);
      expect(await store.head(key)).toBeNull();
    });

    describe("with a sha256", () => {
      const body = randomBytes(64 * 1024);
      const digest = sha256(body);
      const presign = (key: string) =>
        store.presignPut(key, { expiresInSeconds: 60, contentType: "application/octet-stream", size: body.length, sha256: digest });

      it("returns the digest, base64, as a header to send; a PUT with it and the matching body stores the body", async () => {
        const key = newKey();
        const upload = await presign(key);
        expect(upload.headers[CHECKSUM_SHA256_HEADER]).toBe(Buffer.from(digest, "hex").toString("base64"));
        const res = await fetch(upload.url, { method: "PUT", headers: upload.headers, body });
        expect(res.status).toBe(200);
        expect(sha256(await readAll(await store.getStream(key)))).toBe(digest);
      });

      it("a PUT without the checksum header, or with another digest in it, gets 403 and stores nothing", async () => {
        const key = newKey();
        const upload = await presign(key);
        const { [CHECKSUM_SHA256_HEADER]: _signed, ...withoutChecksum } = upload.headers;
        expect((await fetch(upload.url, { method: "PUT", headers: withoutChecksum, body })).status).toBe(403);
        const other = createHash("sha256").update("something else").digest("base64");
        expect((await fetch(upload.url, { method: "PUT", headers: { ...upload.headers, [CHECKSUM_SHA256_HEADER]: other }, body })).status).toBe(403);
        expect(await store.head(key)).toBeNull();
      });

      it("a body whose digest is not the signed one is refused (the store checks it, not only the signature)", async () => {
        const key = newKey();
        const upload = await presign(key);
        const tampered = Buffer.from(body);
        tampered[0] = tampered[0]! ^ 0xff;
        const res = await fetch(upload.url, { method: "PUT", headers: upload.headers, body: tampered });
        if (driver.emulatorIgnoresChecksums) {
          // See `emulatorIgnoresChecksums`: s3rver stores it. If it ever starts checking, this fails: drop the branch.
          expect(res.status).toBe(200);
          return;
        }
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
        expect(await store.head(key)).toBeNull();
      });

      it("refuses a sha256 that is not 64 hex digits", async () => {
        await expect(store.presignPut(newKey(), { expiresInSeconds: 60, contentType: "text/plain", size: 1, sha256: "abc" })).rejects.toMatchObject({
          code: "BAD_USER_INPUT",
        });
      });
    });
  });

  describe("list", () => {
    it("reports exactly the objects under a prefix, in key order, with size and modification time", async () => {
      const prefix = randomToken(8);
      const started = Date.now();
      const written: { key: string; size: number }[] = [];
      for (const size of [1, 2048, 300 * 1024]) {
        const key = prefix + randomToken(12);
        await store.put(key, Readable.from([randomBytes(size)]), { contentType: "application/octet-stream", size });
        written.push({ key, size });
      }
      const outside = await stored(100);
      const listed = await collect(store.list({ prefix }));
      expect(listed.map((e) => e.key)).toEqual(written.map((w) => w.key).sort());
      for (const entry of listed) {
        expect(entry.size).toBe(written.find((w) => w.key === entry.key)?.size);
        expect(entry.lastModified).toBeInstanceOf(Date);
        // S3 keeps whole seconds: allow the truncation and a little clock slack.
        expect(entry.lastModified.getTime()).toBeGreaterThanOrEqual(started - 2000);
        expect(entry.lastModified.getTime()).toBeLessThanOrEqual(Date.now() + 2000);
      }
      expect(listed.map((e) => e.key)).not.toContain(outside.key);
    });

    it("without a prefix lists every object in key order; a one-character prefix narrows it", async () => {
      const { key, bytes } = await stored(512);
      const all = await collect(store.list());
      expect(all.find((e) => e.key === key)?.size).toBe(bytes.length);
      const keys = all.map((e) => e.key);
      expect(keys).toEqual([...keys].sort());
      expect(new Set(keys).size).toBe(keys.length);
      const narrowed = await collect(store.list({ prefix: key[0] }));
      expect(narrowed.map((e) => e.key)).toContain(key);
      expect(narrowed.every((e) => e.key.startsWith(key[0]!))).toBe(true);
      expect(narrowed.length).toBe(all.filter((e) => e.key.startsWith(key[0]!)).length);
    });

    it("no longer reports a deleted object, and a prefix nothing has lists nothing", async () => {
      const { key } = await stored(64);
      expect((await collect(store.list({ prefix: key }))).map((e) => e.key)).toEqual([key]);
      await store.delete(key);
      expect(await collect(store.list({ prefix: key }))).toEqual([]);
      expect(await collect(store.list({ prefix: randomToken(16) }))).toEqual([]);
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

  it("list skips writes in flight (.partial), stray files, misplaced keys and directories", async () => {
    const { store } = running;
    const key = newKey();
    await store.put(key, Readable.from([randomBytes(10)]), { contentType: "text/plain" });
    const shard = path.join(store.root, key.slice(0, 2));
    await mkdir(path.join(store.root, ".partial"), { recursive: true });
    const inFlight = `${newKey()}.abc123`;
    await writeFile(path.join(store.root, ".partial", inFlight), "half-written");
    const otherShard = key.slice(0, 2) === "zz" ? "yy" : "zz";
    const misplaced = otherShard + randomToken(18); // key-shaped, but not in its own shard directory
    await writeFile(path.join(shard, misplaced), "x");
    await writeFile(path.join(shard, "README.txt"), "x");
    const dirNamedLikeAKey = key.slice(0, 2) + randomToken(18);
    await mkdir(path.join(shard, dirNamedLikeAKey));
    await mkdir(path.join(store.root, "not-a-shard"), { recursive: true });
    await writeFile(path.join(store.root, "not-a-shard", newKey()), "x");

    const keys = (await collect(store.list())).map((e) => e.key);
    expect(keys).toContain(key);
    for (const k of keys) expect(k).toMatch(/^[0-9a-z]{16,64}$/);
    expect(keys).not.toContain(misplaced);
    expect(keys).not.toContain(dirNamedLikeAKey);
    expect(keys.some((k) => inFlight.startsWith(k))).toBe(false);
  });

  it("list of a store whose directory does not exist yet is empty", async () => {
    const store = new DiskBlobStore({
      root: path.join(os.tmpdir(), `cabinet-never-created-${randomToken(8)}`),
      publicUrl: "http://127.0.0.1:1",
      signingSecret: randomToken(32),
    });
    expect(await collect(store.list())).toEqual([]);
  });

  describe("signed fields with a sha256", () => {
    const secret = randomToken(32);
    const fields: SignedFields = { method: "PUT", key: newKey(), expires: 1_900_000_000, contentType: "application/pdf", contentLength: 1234 };
    const digest = sha256(Buffer.from("body"));

    it("leaves the signature of a URL without a sha256 exactly as before the field existed", () => {
      const before = createHmac("sha256", secret)
        .update([fields.method, fields.key, fields.expires, "", fields.contentType, fields.contentLength].join("\n"))
        .digest("base64url");
      expect(sign(secret, fields)).toBe(before);
    });

    it("signs the sha256: another digest, or none, does not verify", () => {
      const signature = sign(secret, { ...fields, sha256: digest });
      expect(signature).not.toBe(sign(secret, fields));
      expect(verify(secret, { ...fields, sha256: digest }, signature)).toBe(true);
      expect(verify(secret, { ...fields, sha256: digest.toUpperCase() }, signature)).toBe(true);
      expect(verify(secret, fields, signature)).toBe(false);
      expect(verify(secret, { ...fields, sha256: sha256(Buffer.from("other")) }, signature)).toBe(false);
    });

    it("presignPut puts the hex digest in the URL and the base64 digest in the headers", async () => {
      const upload = await running.store.presignPut(fields.key, {
        expiresInSeconds: 60,
        contentType: "application/pdf",
        size: 4,
        sha256: digest.toUpperCase(),
      });
      const url = new URL(upload.url);
      expect(url.searchParams.get(Q.uploadSha256)).toBe(digest);
      expect(upload.headers[CHECKSUM_SHA256_HEADER]).toBe(Buffer.from(digest, "hex").toString("base64"));
      const signed = {
        method: "PUT" as const,
        key: fields.key,
        expires: Number(url.searchParams.get(Q.expires)),
        contentType: "application/pdf",
        contentLength: 4,
      };
      expect(verify(running.store.signingSecret, { ...signed, sha256: digest }, url.searchParams.get(Q.signature) ?? "")).toBe(true);
      expect(verify(running.store.signingSecret, signed, url.searchParams.get(Q.signature) ?? "")).toBe(false);
    });
  });
});

describe("S3BlobStore specifics (s3rver)", () => {
  let running: Awaited<ReturnType<typeof startS3>>;
  beforeAll(async () => {
    running = await startS3();
  });
  afterAll(() => running?.stop());

  it("list pages through ListObjectsV2 and reports only Cabinet-shaped keys", async () => {
    const { store } = running;
    const prefix = randomToken(8);
    const written: { key: string; size: number }[] = [];
    for (let i = 0; i < 5; i++) {
      const key = prefix + randomToken(12);
      await store.put(key, Readable.from([randomBytes(10 + i)]), { contentType: "application/octet-stream" });
      written.push({ key, size: 10 + i });
    }
    // Someone else's objects in a shared bucket: never reported, so a sweep can never delete them.
    await store.client.send(new PutObjectCommand({ Bucket: store.bucket, Key: `${prefix}/foreign.txt`, Body: "not ours" }));
    await store.client.send(new PutObjectCommand({ Bucket: store.bucket, Key: `${prefix}NOT_OURS`, Body: "not ours" }));
    let pages = 0;
    store.client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === "ListObjectsV2Command") pages++;
        return next(args);
      },
      { step: "initialize", name: "countListPages" },
    );
    try {
      const listed = await collect(store.list({ prefix, pageSize: 2 }));
      expect(listed.map((e) => ({ key: e.key, size: e.size }))).toEqual([...written].sort((a, b) => (a.key < b.key ? -1 : 1)));
      expect(pages).toBe(4); // 7 objects, 2 per page
    } finally {
      store.client.middlewareStack.remove("countListPages");
    }
  });

  describe("presigned URLs beside getSignedUrl's", () => {
    const param = (url: string, name: string) => new URL(url).searchParams.get(name);
    /** Origin and path, with the key (when given) replaced, so URLs for different keys compare. */
    const shape = (url: string, key?: string) => {
      const u = new URL(url);
      return `${u.origin}${key ? u.pathname.replace(key, "<key>") : u.pathname}`;
    };

    it("GET: same host, path, signed headers and parameters; s3rver serves both", async () => {
      const { store } = running;
      const { key, bytes } = await (async () => {
        const k = newKey();
        const b = randomBytes(2048);
        await store.put(k, Readable.from([b]), { contentType: "application/octet-stream" });
        return { key: k, bytes: b };
      })();
      const ours = await store.presignGet(key, { expiresInSeconds: 60, disposition: "attachment", contentType: "text/csv" });
      const sdk = await getSignedUrl(
        store.client,
        new GetObjectCommand({ Bucket: store.bucket, Key: key, ResponseContentDisposition: "attachment", ResponseContentType: "text/csv" }),
        { expiresIn: 60 },
      );
      expect(shape(ours, key)).toBe(shape(sdk, key));
      expect(shape(ours, key)).toBe(`${running.s3.endpoint}/${store.bucket}/<key>`);
      expect(param(ours, "X-Amz-SignedHeaders")).toBe("host");
      expect(param(ours, "X-Amz-SignedHeaders")).toBe(param(sdk, "X-Amz-SignedHeaders"));
      for (const name of [
        "response-content-disposition",
        "response-content-type",
        "X-Amz-Credential",
        "X-Amz-Expires",
        "X-Amz-Algorithm",
        "X-Amz-Content-Sha256",
      ]) {
        expect(param(ours, name), name).toBe(param(sdk, name));
      }
      for (const url of [ours, sdk]) {
        const res = await fetch(url);
        expect(res.status).toBe(200);
        expect(res.headers.get("content-type")).toBe("text/csv");
        expect(res.headers.get("content-disposition")).toBe("attachment");
        expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
      }
    });

    it("PUT: content type, length and If-None-Match signed like getSignedUrl with signableHeaders, no checksum baked in; s3rver stores through both", async () => {
      const { store } = running;
      const body = randomBytes(4096);
      const [oursKey, sdkKey] = [newKey(), newKey()];
      const ours = await store.presignPut(oursKey, { expiresInSeconds: 60, contentType: "application/pdf", size: body.length });
      const sdk = await getSignedUrl(
        store.client,
        new PutObjectCommand({ Bucket: store.bucket, Key: sdkKey, ContentType: "application/pdf", ContentLength: body.length, IfNoneMatch: "*" }),
        { expiresIn: 60, signableHeaders: new Set(["content-type", "content-length", "if-none-match"]) },
      );
      expect(shape(ours.url, oursKey)).toBe(shape(sdk, sdkKey));
      expect(param(ours.url, "X-Amz-SignedHeaders")).toBe("content-length;content-type;host;if-none-match");
      expect(param(ours.url, "X-Amz-SignedHeaders")).toBe(param(sdk, "X-Amz-SignedHeaders"));
      // requestChecksumCalculation WHEN_REQUIRED: no CRC32 of an empty body that would refuse every real one.
      for (const url of [ours.url, sdk]) expect([...new URL(url).searchParams.keys()].filter((k) => /checksum/i.test(k))).toEqual([]);
      for (const [url, key] of [
        [ours.url, oursKey],
        [sdk, sdkKey],
      ] as const) {
        const res = await fetch(url, { method: "PUT", headers: ours.headers, body });
        expect(res.status).toBe(200);
        expect(await store.head(key)).toEqual({ size: body.length, contentType: "application/pdf" });
      }
    });

    it("PUT with a sha256: x-amz-checksum-sha256 is a signed header, as getSignedUrl signs it when told not to hoist it", async () => {
      const { store } = running;
      const body = randomBytes(4096);
      const [oursKey, sdkKey] = [newKey(), newKey()];
      const ours = await store.presignPut(oursKey, { expiresInSeconds: 60, contentType: "application/pdf", size: body.length, sha256: sha256(body) });
      const sdk = await getSignedUrl(
        store.client,
        new PutObjectCommand({
          Bucket: store.bucket,
          Key: sdkKey,
          ContentType: "application/pdf",
          ContentLength: body.length,
          ChecksumSHA256: createHash("sha256").update(body).digest("base64"),
          IfNoneMatch: "*",
        }),
        {
          expiresIn: 60,
          signableHeaders: new Set(["content-type", "content-length", "if-none-match"]),
          unhoistableHeaders: new Set([CHECKSUM_SHA256_HEADER]),
        },
      );
      expect(shape(ours.url, oursKey)).toBe(shape(sdk, sdkKey));
      expect(param(ours.url, "X-Amz-SignedHeaders")).toBe(`content-length;content-type;host;if-none-match;${CHECKSUM_SHA256_HEADER}`);
      expect(param(ours.url, "X-Amz-SignedHeaders")).toBe(param(sdk, "X-Amz-SignedHeaders"));
      expect(param(ours.url, CHECKSUM_SHA256_HEADER)).toBeNull(); // a header, not a query parameter
      for (const [url, key] of [
        [ours.url, oursKey],
        [sdk, sdkKey],
      ] as const) {
        expect((await fetch(url, { method: "PUT", headers: ours.headers, body })).status).toBe(200);
        expect((await store.head(key))?.size).toBe(body.length);
      }
    });

    // Pure URL construction, no request sent: host and path for each addressing style.
    const KEY = "a/b c'*(x)Ü.txt";
    it.each([
      ["custom endpoint, path style", { region: "us-east-1", endpoint: "http://127.0.0.1:9000", forcePathStyle: true }, "bkt"],
      [
        "IP endpoint: path style even when virtual hosting is allowed",
        { region: "us-east-1", endpoint: "http://127.0.0.1:9000", forcePathStyle: false },
        "bkt",
      ],
      ["named endpoint, virtual-hosted", { region: "us-east-1", endpoint: "http://localhost:9000", forcePathStyle: false }, "bkt"],
      ["endpoint with a base path, path style", { region: "us-east-1", endpoint: "https://minio.example.com/base/", forcePathStyle: true }, "bkt"],
      ["endpoint with a base path, virtual-hosted", { region: "us-east-1", endpoint: "https://minio.example.com/base", forcePathStyle: false }, "bkt"],
      ["endpoint with the scheme's default port", { region: "us-east-1", endpoint: "https://minio.example.com:443", forcePathStyle: true }, "bkt"],
      ["dotted bucket on an https endpoint", { region: "us-east-1", endpoint: "https://minio.example.com", forcePathStyle: false }, "my.bkt"],
      ["AWS, virtual-hosted", { region: "eu-central-1", forcePathStyle: false }, "bkt"],
      ["AWS us-east-1", { region: "us-east-1", forcePathStyle: false }, "bkt"],
      ["AWS, path style", { region: "eu-central-1", forcePathStyle: true }, "bkt"],
      ["AWS, dotted bucket", { region: "eu-central-1", forcePathStyle: false }, "my.bkt"],
      ["AWS China", { region: "cn-north-1", forcePathStyle: false }, "bkt"],
      ["AWS, bucket name not DNS-shaped", { region: "eu-west-1", forcePathStyle: false }, "Bad_Bucket"],
    ] as const)("URL shape: %s", async (_label, location, bucket) => {
      const credentials = { accessKeyId: "AKID", secretAccessKey: "secret" };
      const presigner = new S3Presigner({ ...location, bucket }, async () => credentials);
      const client = new S3Client({ ...location, credentials });
      try {
        const ours = await presigner.presign({ method: "GET", key: KEY, expiresInSeconds: 60 });
        const sdk = await getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: KEY }), { expiresIn: 60 });
        expect(shape(ours)).toBe(shape(sdk));
        expect(presigner.objectUrl(KEY)).toBe(shape(ours));
        expect(param(ours, "X-Amz-Credential")).toBe(param(sdk, "X-Amz-Credential"));
        expect(param(ours, "X-Amz-SignedHeaders")).toBe(param(sdk, "X-Amz-SignedHeaders"));
      } finally {
        client.destroy();
      }
    });
  });

  describe("presigning", () => {
    afterEach(() => {
      vi.restoreAllMocks();
    });

    it("refuses an expiry over S3's one-week maximum with BAD_USER_INPUT and signs the one asked for", async () => {
      const { store } = running;
      await expect(store.presignGet(newKey(), { expiresInSeconds: 7 * 24 * 3600 + 1 })).rejects.toMatchObject({ code: "BAD_USER_INPUT" });
      expect(new URL(await store.presignGet(newKey(), { expiresInSeconds: 7 * 24 * 3600 })).searchParams.get("X-Amz-Expires")).toBe("604800");
    });

    it("explicit keys are used as they are: the SDK's credential chain is never asked", async () => {
      const store = new S3BlobStore(running.s3.config);
      const provider = vi.fn(async () => {
        throw new Error("the credential chain must not be asked");
      });
      store.client.config.credentials = provider;
      const url = await store.presignGet(newKey(), { expiresInSeconds: 60 });
      expect(new URL(url).searchParams.get("X-Amz-Credential")).toMatch(/^S3RVER\//);
      expect(provider).not.toHaveBeenCalled();
      store.client.destroy();
    });

    it("without keys, the SDK's credentials are fetched once (concurrent callers share it) and again only near their expiry", async () => {
      const store = new S3BlobStore({ ...running.s3.config, accessKeyId: undefined, secretAccessKey: undefined });
      const now = Date.now();
      let fetched = 0;
      const provider = vi.fn(async () => {
        fetched++;
        await sleep(5);
        return { accessKeyId: `TEMP${fetched}`, secretAccessKey: "secret", sessionToken: `token${fetched}`, expiration: new Date(now + 60 * 60_000) };
      });
      store.client.config.credentials = provider;
      const urls = await Promise.all(Array.from({ length: 20 }, () => store.presignGet(newKey(), { expiresInSeconds: 60 })));
      await store.presignPut(newKey(), { expiresInSeconds: 60, contentType: "text/plain", size: 1 });
      expect(provider).toHaveBeenCalledTimes(1);
      for (const url of urls) {
        expect(new URL(url).searchParams.get("X-Amz-Credential")).toMatch(/^TEMP1\//);
        expect(new URL(url).searchParams.get("X-Amz-Security-Token")).toBe("token1");
      }
      // 56 minutes on, they expire within 5 minutes: fetched again before signing.
      vi.spyOn(Date, "now").mockReturnValue(now + 56 * 60_000);
      const later = await store.presignGet(newKey(), { expiresInSeconds: 60 });
      expect(provider).toHaveBeenCalledTimes(2);
      expect(new URL(later).searchParams.get("X-Amz-Credential")).toMatch(/^TEMP2\//);
      store.client.destroy();
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
