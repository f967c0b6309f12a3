// The processing pipeline end to end in one process (real PostgreSQL, disk
// store, pg-boss workers, HTTP): uploads become READY, their steps run, and the
// outputs are read back through GraphQL and the presigned URLs. Fixtures are
// made in code (support/media-fixtures.ts) so the values are exact. The one
// stand-in is the transcription endpoint: a local HTTP server speaking OpenAI's
// /v1/audio/transcriptions, because the real service is a paid third party.
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTestApp, errorCode, eventually, type TestApp } from "./harness.ts";
import * as fixtures from "./support/media-fixtures.ts";

let t: TestApp;
let w: Awaited<ReturnType<TestApp["factories"]["world"]>>;
let dir: string;
const files: Record<string, Buffer> = {};

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "cabinet-pipeline-"));
  const at = (name: string) => path.join(dir, name);
  const made = await Promise.all([
    fixtures.pngWithExif(at("photo.png")),
    fixtures.corruptPng(at("corrupt.png")),
    fixtures.pngBomb(at("bomb.png")),
    fixtures.pdf(at("two-pages.pdf"), ["Hello first page", "Second page words"], { title: "Quarterly (draft)", author: "Ada Lovelace" }),
    fixtures.wav(at("tone.wav"), 1.5),
    fixtures.video(at("turned.mp4"), { seconds: 2, width: 320, height: 240, clockwise: 90 }),
  ]);
  for (const f of made) files[path.basename(f)] = await readFile(f);
  t = await buildTestApp();
  w = await t.factories.world();
}, 120_000);

afterAll(async () => {
  await t?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

type FileAnswer = { id: string; status: string; processing?: { status: string; steps: { name: string; status: string }[] } };

async function upload(filePath: string, body: Buffer, type: string, token = w.adminToken): Promise<FileAnswer> {
  const res = await fetch(`${t.url}/api/v1/space/${w.space.id}/storage/${Buffer.from(filePath).toString("base64url")}/upload`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": type },
    body: new Uint8Array(body),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as FileAnswer;
}

const ASSET = `query($id: ID!) { node(id: $id) { ... on Asset {
  processing { status steps { name status progress error errorCode startedAt finishedAt } }
  contentMetadata {
    __typename
    ... on ImageMetadata { width height format orientation colorSpace hasAlpha cameraMake cameraModel lens takenAt gps { latitude } }
    ... on DocumentMetadata { documentFormat pages title author }
    ... on AudioMetadata { durationSeconds sampleRate channels codec }
    ... on VideoMetadata { durationSeconds width height rotation videoCodec }
  }
  placeholder
  small: thumbnail(size: 200) { url width height }
  large: thumbnail(size: 2000) { url width height }
} } }`;

async function asset(id: string) {
  const res = await t.gql<{ node: any }, { id: string }>(ASSET, { id }, w.adminToken);
  expect(res.errors).toBeUndefined();
  return res.data!.node;
}

/** Waits until no step is QUEUED or RUNNING. */
async function settled(id: string) {
  return eventually(async () => {
    const a = await asset(id);
    return ["DONE", "FAILED", "NONE"].includes(a.processing.status) ? a : null;
  }, 60_000);
}

const derivedOf = (blobId: string) => t.deps.prisma.blob.findMany({ where: { sourceBlobId: blobId }, orderBy: { role: "asc" } });
const blobIdOf = async (entryId: string) => (await t.deps.prisma.entry.findUniqueOrThrow({ where: { id: entryId } })).blobId!;
const objectFile = (key: string) => path.join(t.dataDir, "blobs", key.slice(0, 2), key);

describe("images", () => {
  let id: string;

  it("an upload's answer names its steps; the image step ends DONE with exact metadata and no GPS", async () => {
    const answer = await upload("photos/photo.png", files["photo.png"]!, "image/png");
    id = answer.id;
    expect(answer.processing?.steps.map((s) => s.name)).toEqual(["image"]);
    expect(["QUEUED", "RUNNING", "DONE"]).toContain(answer.processing?.status);

    const a = await settled(id);
    expect(a.processing.status).toBe("DONE");
    expect(a.processing.steps).toMatchObject([{ name: "image", status: "DONE", progress: 1, error: null }]);
    expect(a.processing.steps[0].startedAt).not.toBeNull();
    expect(a.contentMetadata).toEqual({
      __typename: "ImageMetadata",
      width: 1200,
      height: 1600,
      format: "png",
      orientation: 6,
      colorSpace: "srgb",
      hasAlpha: false,
      cameraMake: "Cabinet Optics",
      cameraModel: "TestCam 1",
      lens: "Fix 35mm f/2",
      takenAt: "2024-05-06T07:08:09",
      gps: null,
    });
    expect(typeof a.placeholder).toBe("string");
  });

  it("thumbnails are derived blobs served through presigned URLs: WebP, oriented, without metadata, not billed", async () => {
    const a = await asset(id);
    expect(a.small).toMatchObject({ width: 192, height: 256 });
    expect(a.large).toMatchObject({ width: 768, height: 1024 });
    const res = await fetch(a.small.url);
    expect(res.status).toBe(200);
    const bytes = Buffer.from(await res.arrayBuffer());
    const meta = await sharp(bytes).metadata();
    expect({ format: meta.format, width: meta.width, height: meta.height, exif: meta.exif, orientation: meta.orientation }).toEqual({
      format: "webp",
      width: 192,
      height: 256,
      exif: undefined,
      orientation: undefined,
    });

    const blobId = await blobIdOf(id);
    const derived = await derivedOf(blobId);
    expect(derived.map((d) => [d.role, d.ownerKind, d.status])).toEqual([
      ["thumbnail:1024", "DERIVED", "READY"],
      ["thumbnail:256", "DERIVED", "READY"],
    ]);
    const org = await t.deps.prisma.organization.findUniqueOrThrow({ where: { id: w.org.id } });
    expect(org.usedBytes).toBe(BigInt(files["photo.png"]!.length));
  });

  it("reprocessAsset runs the step again and replaces the thumbnails (no duplicates, old objects purged)", async () => {
    const blobId = await blobIdOf(id);
    const before = await derivedOf(blobId);
    const res = await t.gql<any, { id: string }>(`mutation($id: ID!) { reprocessAsset(id: $id) { id processing { status } } }`, { id }, w.adminToken);
    expect(res.errors).toBeUndefined();
    expect(["QUEUED", "RUNNING"]).toContain(res.data.reprocessAsset.processing.status);
    await eventually(
      async () => (await asset(id)).processing.steps[0].status === "DONE" && (await derivedOf(blobId)).every((d) => !before.some((b) => b.key === d.key)),
      60_000,
    );
    const after = await derivedOf(blobId);
    expect(after.map((d) => d.role)).toEqual(["thumbnail:1024", "thumbnail:256"]);
    await eventually(() => before.every((b) => !existsSync(objectFile(b.key))));
    expect(after.every((d) => existsSync(objectFile(d.key)))).toBe(true);
  });

  it("an overwrite processes the new bytes; deleting the file purges its thumbnails with it", async () => {
    const oldBlob = await blobIdOf(id);
    const oldDerived = await derivedOf(oldBlob);
    await upload("photos/photo.png", files["photo.png"]!, "image/png");
    const newBlob = await blobIdOf(id);
    expect(newBlob).not.toBe(oldBlob);
    await settled(id);
    expect((await derivedOf(newBlob)).length).toBe(2);
    expect(await t.deps.prisma.blob.count({ where: { id: { in: oldDerived.map((d) => d.id) } } })).toBe(0);
    await eventually(() => oldDerived.every((d) => !existsSync(objectFile(d.key))));

    const newDerived = await derivedOf(newBlob);
    const del = await fetch(`${t.url}/api/v1/space/${w.space.id}/storage/${Buffer.from("photos/photo.png").toString("base64url")}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${w.adminToken}` },
    });
    expect(del.status).toBeLessThan(300);
    expect(await t.deps.prisma.blob.count({ where: { id: { in: [newBlob, ...newDerived.map((d) => d.id)] } } })).toBe(0);
    expect(await t.deps.prisma.processingStep.count({ where: { blobId: newBlob } })).toBe(0);
    await eventually(() => newDerived.every((d) => !existsSync(objectFile(d.key))));
    const org = await t.deps.prisma.organization.findUniqueOrThrow({ where: { id: w.org.id } });
    expect(org.usedBytes).toBe(0n);
  });

  it("a corrupt PNG and a decompression bomb end FAILED with a reason, and the worker goes on", async () => {
    const corrupt = await upload("bad/corrupt.png", files["corrupt.png"]!, "image/png");
    const bomb = await upload("bad/bomb.png", files["bomb.png"]!, "image/png");
    const c = await settled(corrupt.id);
    const b = await settled(bomb.id);
    expect(c.processing).toMatchObject({ status: "FAILED", steps: [{ name: "image", status: "FAILED", errorCode: "CORRUPT" }] });
    expect(b.processing).toMatchObject({ status: "FAILED", steps: [{ name: "image", status: "FAILED", errorCode: "TOO_LARGE" }] });
    expect(b.processing.steps[0].error).toMatch(/100000x100000/);
    expect(c.small).toBeNull();
    const fine = await upload("bad/after.png", files["photo.png"]!, "image/png");
    expect((await settled(fine.id)).processing.status).toBe("DONE");
  });
});

describe("two-stage uploads", () => {
  it("a pending upload has no steps; its completion queues them in the committing transaction", async () => {
    const pathId = Buffer.from("big/photo.png").toString("base64url");
    const png = files["photo.png"]!;
    const started = await fetch(`${t.url}/api/v1/space/${w.space.id}/storage/${pathId}/upload`, {
      method: "POST",
      headers: { authorization: `Bearer ${w.adminToken}`, "content-type": "application/json" },
      body: JSON.stringify({ file: { type: "image/png", size: png.length } }),
    });
    const { id, uploadRequest } = (await started.json()) as { id: string; uploadRequest: { url: string; headers: Record<string, string> } };
    expect((await asset(id)).processing).toEqual({ status: "NONE", steps: [] });
    const put = await fetch(uploadRequest.url, { method: "PUT", headers: uploadRequest.headers, body: new Uint8Array(png) });
    expect(put.status).toBeLessThan(300);
    const done = await fetch(`${t.url}/api/v1/space/${w.space.id}/storage/${pathId}/complete`, {
      method: "POST",
      headers: { authorization: `Bearer ${w.adminToken}` },
    });
    const answer = (await done.json()) as FileAnswer;
    expect(answer.status).toBe("READY");
    expect(answer.processing?.steps.map((s) => s.name)).toEqual(["image"]);
    const a = await settled(id);
    expect(a.processing.status).toBe("DONE");
    expect(a.contentMetadata).toMatchObject({ width: 1200, height: 1600 });
    // One job for the blob, whichever of the PUT route and the client completed it.
    const jobs = await t.deps.prisma.$queryRaw<
      { n: bigint }[]
    >`SELECT count(*) AS n FROM pgboss.job WHERE name = 'blob.analyze.images' AND data->>'blobId' = ${await blobIdOf(id)}`;
    expect(Number(jobs[0]!.n)).toBe(1);
  });
});

describe("documents, audio, video", () => {
  it("a PDF: pages, title, author, a first-page thumbnail, and its text paged by characters", async () => {
    const { id } = await upload("docs/two-pages.pdf", files["two-pages.pdf"]!, "application/pdf");
    const a = await settled(id);
    expect(a.processing.steps.map((s: any) => [s.name, s.status])).toEqual([["pdf", "DONE"]]);
    expect(a.contentMetadata).toEqual({ __typename: "DocumentMetadata", documentFormat: "PDF", pages: 2, title: "Quarterly (draft)", author: "Ada Lovelace" });
    expect(a.small).not.toBeNull();

    const TEXT = `query($id: ID!, $after: String) { node(id: $id) { ... on Asset { text(first: 10, after: $after) { text totalChars truncated hasNextPage endCursor } } } }`;
    const page1 = (await t.gql<any, any>(TEXT, { id }, w.adminToken)).data.node.text;
    expect(page1).toMatchObject({ text: "Hello firs", hasNextPage: true, endCursor: "10", truncated: false });
    let all = page1.text;
    let cursor = page1.endCursor;
    for (let i = 0; i < 20 && cursor; i++) {
      const p = (await t.gql<any, any>(TEXT, { id, after: cursor }, w.adminToken)).data.node.text;
      all += p.text;
      cursor = p.hasNextPage ? p.endCursor : null;
    }
    expect(all.length).toBe(page1.totalChars);
    expect(all).toContain("Hello first page");
    expect(all).toContain("Second page words");
    expect(errorCode(await t.gql<any, any>(TEXT, { id, after: "x" }, w.adminToken))).toBe("BAD_USER_INPUT");
  });

  it("a WAV: duration within 50 ms; transcription SKIPPED without an endpoint", async () => {
    const { id } = await upload("audio/tone.wav", files["tone.wav"]!, "audio/wav");
    const a = await settled(id);
    expect(a.processing.status).toBe("DONE");
    expect(a.processing.steps.map((s: any) => [s.name, s.status])).toEqual([
      ["audio", "DONE"],
      ["transcription", "SKIPPED"],
    ]);
    expect(a.processing.steps[1].error).toMatch(/no transcription endpoint/);
    expect(a.contentMetadata.__typename).toBe("AudioMetadata");
    expect(Math.abs(a.contentMetadata.durationSeconds - 1.5)).toBeLessThanOrEqual(0.05);
    expect(a.contentMetadata).toMatchObject({ sampleRate: 8000, channels: 1 });
  });

  it("a video: displayed size (rotation applied), duration within 50 ms, a poster", async () => {
    const { id } = await upload("video/turned.mp4", files["turned.mp4"]!, "video/mp4");
    const a = await settled(id);
    expect(a.processing.steps.find((s: any) => s.name === "video").status).toBe("DONE");
    expect(a.contentMetadata).toMatchObject({ __typename: "VideoMetadata", width: 240, height: 320, rotation: 90, videoCodec: "h264" });
    expect(Math.abs(a.contentMetadata.durationSeconds - 2)).toBeLessThanOrEqual(0.05);
    expect(a.large).not.toBeNull();
    expect(a.large.height).toBeGreaterThan(a.large.width);
  });
});

describe("operations", () => {
  it("processingQueue counts steps per pool for org admins, and is FORBIDDEN to others", async () => {
    const Q = `{ processingQueue { kind queued running failed done skipped } }`;
    const res = await t.gql<any, any>(Q, {}, w.adminToken);
    expect(res.errors).toBeUndefined();
    const byKind = Object.fromEntries(res.data.processingQueue.map((k: any) => [k.kind, k]));
    expect(Object.keys(byKind)).toEqual(["images", "documents", "media"]);
    expect(byKind.images.failed).toBe(2); // the corrupt PNG and the bomb
    expect(byKind.documents.done).toBeGreaterThanOrEqual(1);
    expect(byKind.media.skipped).toBeGreaterThanOrEqual(1);
    const member = await t.factories.member(w.org.id, w.space.id, ["assets:read", "assets:update"]);
    expect(errorCode(await t.gql<any, any>(Q, {}, member.token))).toBe("FORBIDDEN");
  });

  it("backfill: blobs without steps (uploaded before processing) and failed steps are queued again", async () => {
    const { id } = await upload("old/before.pdf", files["two-pages.pdf"]!, "application/pdf");
    await settled(id);
    const blobId = await blobIdOf(id);
    await t.deps.prisma.processingStep.deleteMany({ where: { blobId } });
    expect((await asset(id)).processing.status).toBe("NONE");
    const missing = await t.deps.services.processing.backfill({ missingOnly: true, spaceId: w.space.id });
    expect(missing).toEqual({ missing: 1, failed: 0 });
    expect((await settled(id)).processing.status).toBe("DONE");
    // Without --missing the two failed images are queued again (and fail again: the bytes are still bad).
    const again = await t.deps.services.processing.backfill({ spaceId: w.space.id });
    expect(again).toEqual({ missing: 0, failed: 2 });
  });
});

describe("transcription", () => {
  // The only stand-in allowed: a local server speaking OpenAI's /v1/audio/transcriptions (a paid third party).
  let server: Server;
  let app: TestApp;
  const seen: { auth?: string; model?: string }[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString("latin1");
        seen.push({ auth: req.headers.authorization, model: /name="model"\r\n\r\n([^\r]*)/.exec(body)?.[1] });
        if (req.url !== "/v1/audio/transcriptions") return res.writeHead(404).end();
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ text: "hello from the stand-in", language: "english", segments: [{ start: 0, end: 1.2, text: "hello from the stand-in" }] }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    app = await buildTestApp({
      env: { TRANSCRIPTION_URL: `http://127.0.0.1:${port}/v1`, TRANSCRIPTION_API_KEY: "sk-test", TRANSCRIPTION_MODEL: "whisper-test" },
    });
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await new Promise((resolve) => server?.close(resolve));
  });

  it("with TRANSCRIPTION_URL, audio gets a transcript with segment timings", async () => {
    const world = await app.factories.world();
    const res = await fetch(`${app.url}/api/v1/space/${world.space.id}/storage/${Buffer.from("a/tone.wav").toString("base64url")}/upload`, {
      method: "POST",
      headers: { authorization: `Bearer ${world.adminToken}`, "content-type": "audio/wav" },
      body: new Uint8Array(files["tone.wav"]!),
    });
    const { id } = (await res.json()) as FileAnswer;
    const Q = `query($id: ID!) { node(id: $id) { ... on Asset { processing { status steps { name status error } } transcript { text language truncated segments { start end text } } } } }`;
    const a = await eventually(async () => {
      const node = (await app.gql<any, any>(Q, { id }, world.adminToken)).data.node;
      return node.processing.status === "DONE" || node.processing.status === "FAILED" ? node : null;
    }, 60_000);
    expect(a.processing.steps).toEqual([
      { name: "audio", status: "DONE", error: null },
      { name: "transcription", status: "DONE", error: null },
    ]);
    expect(a.transcript).toEqual({
      text: "hello from the stand-in",
      language: "english",
      truncated: false,
      segments: [{ start: 0, end: 1.2, text: "hello from the stand-in" }],
    });
    expect(seen[0]).toEqual({ auth: "Bearer sk-test", model: "whisper-test" });
  });
});
