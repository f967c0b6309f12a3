// Chat attachments over real HTTP: presigned uploads through the blob lifecycle
// (REST and GraphQL), the MIME allow-list and the sniffed type, quota, binding
// to messages in the posting transaction, download URLs for participants, the
// unbound sweep, expired URLs, and STORAGE_NOT_CONFIGURED on a missing bucket.
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3BlobStore } from "../src/storage/s3/s3-blob-store.ts";
import { buildTestApp, eventually, type TestApp } from "./harness.ts";
import { call, conversationWorld, ok } from "./support/conversations.ts";
import * as fixtures from "./support/media-fixtures.ts";
import { adaptClientToS3rver, startS3rver, type TestS3 } from "./support/s3rver.ts";

const UPLOAD_EXPIRES = 4;
let t: TestApp;
let w: Awaited<ReturnType<typeof conversationWorld>>;

beforeAll(async () => {
  t = await buildTestApp({ env: { ATTACHMENT_UPLOAD_EXPIRES_SECONDS: String(UPLOAD_EXPIRES), CONVERSATION_POST_LIMIT: "200" } });
  w = await conversationWorld(t);
});
afterAll(() => t?.close());

// A 1x1 PNG.
const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==", "base64");
const PDF = Buffer.from("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n");
const DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

const q = {
  createRoom: `mutation($s: ID!, $p: [ParticipantInput!]) { createRoom(input: { spaceId: $s, name: "r", participants: $p }) { id } }`,
  createConversation: `mutation($r: ID!) { createConversation(input: { roomId: $r, title: "c" }) { id lastSeq } }`,
  createUpload: `mutation($i: CreateAttachmentUploadInput!) { createAttachmentUpload(input: $i) { attachmentId url method headers expiresAt attachment { id uploaded mimeType } } }`,
  complete: `mutation($id: ID!) { completeAttachmentUpload(attachmentId: $id) { id uploaded mimeType size } }`,
  renew: `mutation($id: ID!) { renewAttachmentUpload(attachmentId: $id) { attachmentId url headers } }`,
  post: `mutation($c: ID!, $text: String, $a: [ID!]) { postMessage(input: { conversationId: $c, text: $text, attachmentIds: $a }) { id seq attachmentIds attachments { id filename mimeType size messageId downloadUrl available } } }`,
  message: `query($id: ID!) { node(id: $id) { ... on Message { attachments { id filename downloadUrl available } } } }`,
  lastSeq: `query($c: ID!) { conversation(id: $c) { lastSeq } }`,
};

type Presigned = { attachmentId: string; url: string; method: string; headers: Record<string, string>; expiresAt: string };

async function setup() {
  const owner = await w.user();
  const agent = await w.agent();
  const room = (
    await ok<{ createRoom: { id: string } }>(t.graphqlUrl, owner.token, q.createRoom, { s: w.space.id, p: [{ accountId: agent.id, role: "AGENT" }] })
  ).createRoom.id;
  const conv = (await ok<{ createConversation: { id: string } }>(t.graphqlUrl, owner.token, q.createConversation, { r: room })).createConversation.id;
  return { owner, agent, room, conv };
}

const rest = (token: string, method: string, path: string, body?: unknown) =>
  fetch(`${t.url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

const presign = async (token: string, body: Record<string, unknown>) => {
  const res = await rest(token, "POST", "/agent/attachments/presigned", body);
  return { status: res.status, json: (await res.json()) as Presigned & { error?: { code: string; details?: unknown } } };
};

const put = (p: { url: string; headers: Record<string, string> }, body: Buffer) =>
  fetch(p.url, {
    method: "PUT",
    headers: Object.fromEntries(Object.entries(p.headers).filter(([k]) => k.toLowerCase() !== "content-length")),
    body: new Uint8Array(body),
  });

const org = () => t.deps.prisma.organization.findUniqueOrThrow({ where: { id: w.org.id } });

/** An uploaded (READY) attachment of `token` in `conv`. */
async function uploaded(token: string, conv: string, bytes: Buffer = PNG, filename = "dot.png", mimeType = "image/png") {
  const p = await presign(token, { conversationId: conv, filename, mimeType, size: bytes.length });
  expect(p.status).toBe(200);
  expect((await put(p.json, bytes)).status).toBe(200);
  return p.json.attachmentId;
}

describe("the seed's SDK flow", () => {
  it("presigned -> PUT with fetch -> postMessage with the attachment -> the agent downloads it", async () => {
    const { owner, agent, conv } = await setup();
    const before = await org();
    const p = await presign(owner.token, { conversationId: conv, filename: "dot.png", mimeType: "image/png", size: PNG.length });
    expect(p.status).toBe(200);
    expect(p.json).toMatchObject({ attachmentId: expect.stringMatching(/^att_/), method: "PUT", url: expect.any(String) });
    const expiresIn = new Date(p.json.expiresAt).getTime() - Date.now();
    expect(expiresIn).toBeGreaterThan(0);
    expect(expiresIn).toBeLessThanOrEqual(UPLOAD_EXPIRES * 1000);
    // Reserved while pending.
    expect((await org()).reservedBytes - before.reservedBytes).toBe(BigInt(PNG.length));
    expect((await put(p.json, PNG)).status).toBe(200);
    // The disk store's PUT completed it: billed, reservation settled.
    const after = await org();
    expect(after.usedBytes - before.usedBytes).toBe(BigInt(PNG.length));
    expect(after.reservedBytes).toBe(before.reservedBytes);

    const posted = await ok<{ postMessage: { id: string; attachmentIds: string[]; attachments: { id: string; messageId: string; mimeType: string }[] } }>(
      t.graphqlUrl,
      owner.token,
      q.post,
      { c: conv, text: "look", a: [p.json.attachmentId] },
    );
    expect(posted.postMessage.attachmentIds).toEqual([p.json.attachmentId]);
    expect(posted.postMessage.attachments).toMatchObject([{ id: p.json.attachmentId, messageId: posted.postMessage.id, mimeType: "image/png" }]);
    // The message_posted event carries them.
    const event = await t.deps.prisma.event.findFirstOrThrow({ where: { type: "conversation.message_posted", subjectId: posted.postMessage.id } });
    expect((event.payload as { attachmentIds: string[] }).attachmentIds).toEqual([p.json.attachmentId]);

    // The agent (a participant) gets a download URL; the bytes are the upload's.
    const seen = await ok<{ node: { attachments: { downloadUrl: string; available: boolean }[] } }>(t.graphqlUrl, agent.token, q.message, {
      id: posted.postMessage.id,
    });
    expect(seen.node.attachments[0]!.available).toBe(true);
    const download = await fetch(seen.node.attachments[0]!.downloadUrl);
    expect(download.status).toBe(200);
    expect(Buffer.from(await download.arrayBuffer())).toEqual(PNG);
    // And the REST view of it.
    const res = await rest(agent.token, "GET", `/agent/attachments/${p.json.attachmentId}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: p.json.attachmentId, messageId: posted.postMessage.id, available: true, downloadUrl: expect.any(String) });
    // Processing ran on it like on every blob.
    await eventually(async () => (await t.deps.prisma.blob.count({ where: { source: { attachment: { id: p.json.attachmentId } } } })) > 0, 20_000);
  });

  it("GraphQL createAttachmentUpload with sha256, explicit completion, idempotent", async () => {
    const { owner, conv } = await setup();
    const res = await ok<{ createAttachmentUpload: Presigned & { attachment: { uploaded: boolean } } }>(t.graphqlUrl, owner.token, q.createUpload, {
      i: { conversationId: conv, filename: "doc.pdf", mimeType: "application/pdf", size: PDF.length, sha256: sha256(PDF) },
    });
    const up = res.createAttachmentUpload;
    expect(up.attachment.uploaded).toBe(false);
    const early = await call(t.graphqlUrl, owner.token, q.complete, { id: up.attachmentId });
    expect(early.errors?.[0]?.extensions?.code).toBe("UPLOAD_INCOMPLETE");
    expect((await put(up, PDF)).status).toBe(200);
    for (let i = 0; i < 2; i++) {
      const done = await ok<{ completeAttachmentUpload: { uploaded: boolean; mimeType: string; size: number } }>(t.graphqlUrl, owner.token, q.complete, {
        id: up.attachmentId,
      });
      expect(done.completeAttachmentUpload).toEqual({ id: up.attachmentId, uploaded: true, mimeType: "application/pdf", size: PDF.length });
    }
  });
});

describe("REST presign without a size", () => {
  const blobRows = (id: string) => t.deps.prisma.blob.count({ where: { attachment: { id } } });
  const limits = (data: { maxFileSizeBytes?: bigint; quotaBytes?: bigint }) => t.deps.prisma.organization.update({ where: { id: w.org.id }, data });

  it("the URL takes any body up to the max file size, and the real size is billed on completion", async () => {
    const { owner, conv } = await setup();
    const before = await org();
    const p = await presign(owner.token, { conversationId: conv, filename: "notes.txt", mimeType: "text/plain" });
    expect(p.status).toBe(200);
    expect(Object.keys(p.json.headers).map((h) => h.toLowerCase())).not.toContain("content-length");
    // Nothing is reserved for it.
    expect((await org()).reservedBytes).toBe(before.reservedBytes);
    const body = Buffer.from("x".repeat(5_000));
    expect((await put(p.json, body)).status).toBe(200);
    const a = await t.deps.prisma.attachment.findUniqueOrThrow({ where: { id: p.json.attachmentId }, include: { blob: true } });
    expect([a.size, a.blob!.size, a.blob!.status]).toEqual([5_000n, 5_000n, "READY"]);
    expect((await org()).usedBytes - before.usedBytes).toBe(5_000n);
  });

  it("a body over the max file size is refused as it streams (413), and nothing is stored", async () => {
    const { owner, conv } = await setup();
    const saved = await org();
    await limits({ maxFileSizeBytes: 2_000n });
    try {
      const p = await presign(owner.token, { conversationId: conv, filename: "big.txt", mimeType: "text/plain" });
      const res = await put(p.json, Buffer.from("y".repeat(3_000)));
      expect(res.status).toBe(413);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("LIMITS_REACHED");
      const a = await t.deps.prisma.attachment.findUniqueOrThrow({ where: { id: p.json.attachmentId }, include: { blob: true } });
      // Still waiting for bytes (a retry may send fewer); nothing under its key.
      expect(a.blob!.status).toBe("PENDING");
      expect(await t.deps.blobStore.head(a.blob!.key)).toBeNull();
      expect((await org()).usedBytes).toBe(saved.usedBytes);
    } finally {
      await limits({ maxFileSizeBytes: saved.maxFileSizeBytes });
    }
  });

  it("bytes that do not fit the quota on completion: LIMITS_REACHED, the upload dropped, usage unchanged", async () => {
    const { owner, conv } = await setup();
    const saved = await org();
    await limits({ quotaBytes: saved.usedBytes + saved.reservedBytes + 100n });
    try {
      const p = await presign(owner.token, { conversationId: conv, filename: "fat.txt", mimeType: "text/plain" });
      const res = await put(p.json, Buffer.from("z".repeat(500)));
      expect(res.status).toBe(413);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("LIMITS_REACHED");
      expect(await t.deps.prisma.attachment.findUnique({ where: { id: p.json.attachmentId } })).toBeNull();
      expect(await blobRows(p.json.attachmentId)).toBe(0);
      const now = await org();
      expect([now.usedBytes, now.reservedBytes]).toEqual([saved.usedBytes, saved.reservedBytes]);
    } finally {
      await limits({ quotaBytes: saved.quotaBytes });
    }
  });
});

describe("refusals leave nothing behind", () => {
  const counts = async () => ({
    attachments: await t.deps.prisma.attachment.count(),
    pending: await t.deps.prisma.blob.count({ where: { status: "PENDING" } }),
    reserved: (await org()).reservedBytes,
  });

  it("a declared type outside the allow-list: 415 UNSUPPORTED_MEDIA_TYPE (REST and GraphQL)", async () => {
    const { owner, conv } = await setup();
    const before = await counts();
    const p = await presign(owner.token, { conversationId: conv, filename: "x.html", mimeType: "text/html", size: 10 });
    expect(p.status).toBe(415);
    expect(p.json.error?.code).toBe("UNSUPPORTED_MEDIA_TYPE");
    const g = await call(t.graphqlUrl, owner.token, q.createUpload, { i: { conversationId: conv, filename: "x.zip", mimeType: "application/zip", size: 10 } });
    expect(g.errors?.[0]?.extensions?.code).toBe("UNSUPPORTED_MEDIA_TYPE");
    expect(await counts()).toEqual(before);
  });

  it("bytes whose sniffed type contradicts the declared one: the PUT answers 415 and the attachment is gone", async () => {
    const { owner, conv } = await setup();
    const before = await counts();
    const used = (await org()).usedBytes;
    const p = await presign(owner.token, { conversationId: conv, filename: "dot.png", mimeType: "image/png", size: PDF.length });
    const res = await put(p.json, PDF);
    expect(res.status).toBe(415);
    expect(await t.deps.prisma.attachment.findUnique({ where: { id: p.json.attachmentId } })).toBeNull();
    expect(await counts()).toEqual(before);
    expect((await org()).usedBytes).toBe(used);
  });

  it("text/plain declared on ZIP bytes (stored type outside the list): refused on completion, nothing kept", async () => {
    const { owner, conv } = await setup();
    const before = await counts();
    const zip = Buffer.concat([Buffer.from("PK\u0003\u0004"), Buffer.alloc(60)]);
    const p = await presign(owner.token, { conversationId: conv, filename: "a.txt", mimeType: "text/plain", size: zip.length });
    await put(p.json, zip);
    expect(await t.deps.prisma.attachment.findUnique({ where: { id: p.json.attachmentId } })).toBeNull();
    expect(await counts()).toEqual(before);
  });

  it("non-participants get NOT_FOUND, observers FORBIDDEN, bad sizes BAD_USER_INPUT", async () => {
    const { owner, room, conv } = await setup();
    const outsider = await w.user();
    const before = await counts();
    expect((await presign(outsider.token, { conversationId: conv, filename: "a.png", mimeType: "image/png", size: 1 })).status).toBe(404);
    const observer = await w.user();
    await ok(t.graphqlUrl, owner.token, `mutation($r: ID!, $a: ID!) { addParticipant(input: { roomId: $r, accountId: $a, role: OBSERVER }) { accountId } }`, {
      r: room,
      a: observer.id,
    });
    expect((await presign(observer.token, { conversationId: conv, filename: "a.png", mimeType: "image/png", size: 1 })).status).toBe(403);
    expect((await presign(owner.token, { conversationId: conv, filename: "a/b.png", mimeType: "image/png", size: 1 })).status).toBe(400);
    expect((await presign(owner.token, { conversationId: conv, filename: "a.png", mimeType: "image/png", size: 10_000_000_000 })).json.error?.code).toBe(
      "LIMITS_REACHED",
    );
    expect(await counts()).toEqual(before);
  });
});

describe("binding", () => {
  const refused = async (token: string, conv: string, ids: string[]) => {
    const before = await ok<{ conversation: { lastSeq: number } }>(t.graphqlUrl, token, q.lastSeq, { c: conv });
    const res = await call(t.graphqlUrl, token, q.post, { c: conv, text: "x", a: ids });
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", details: { reason: "ATTACHMENT_NOT_BINDABLE" } });
    // Nothing was posted.
    expect(await ok(t.graphqlUrl, token, q.lastSeq, { c: conv })).toEqual(before);
  };

  it("only the poster's own, completed, unbound attachments of that conversation", async () => {
    const { owner, agent, room, conv } = await setup();
    const otherConv = (await ok<{ createConversation: { id: string } }>(t.graphqlUrl, owner.token, q.createConversation, { r: room })).createConversation.id;
    const mine = await uploaded(owner.token, conv);
    const agents = await uploaded(agent.token, conv);
    const elsewhere = await uploaded(owner.token, otherConv);
    const pending = (await presign(owner.token, { conversationId: conv, filename: "p.png", mimeType: "image/png", size: PNG.length })).json.attachmentId;
    await refused(owner.token, conv, [agents]);
    await refused(owner.token, conv, [mine, elsewhere]);
    await refused(owner.token, conv, [pending]);
    await refused(owner.token, conv, ["att_doesnotexist"]);
    await refused(owner.token, conv, [mine, mine]);
    // Still unbound after the refusals: it binds now, once.
    const posted = await ok<{ postMessage: { attachmentIds: string[] } }>(t.graphqlUrl, owner.token, q.post, { c: conv, a: [mine] });
    expect(posted.postMessage.attachmentIds).toEqual([mine]);
    await refused(owner.token, conv, [mine]);
  });

  it("non-participants cannot read a message's attachments; GET answers NOT_FOUND", async () => {
    const { owner, conv } = await setup();
    const id = await uploaded(owner.token, conv);
    await ok(t.graphqlUrl, owner.token, q.post, { c: conv, text: "x", a: [id] });
    const outsider = await w.user();
    expect((await rest(outsider.token, "GET", `/agent/attachments/${id}`)).status).toBe(404);
  });
});

describe("expiry", () => {
  it("an upload URL used after it expired answers 403; renewing gives a working one", async () => {
    const { owner, conv } = await setup();
    const p = await presign(owner.token, { conversationId: conv, filename: "dot.png", mimeType: "image/png", size: PNG.length });
    await new Promise((r) => setTimeout(r, (UPLOAD_EXPIRES + 1) * 1000));
    expect((await put(p.json, PNG)).status).toBe(403);
    const renewed = await ok<{ renewAttachmentUpload: Presigned }>(t.graphqlUrl, owner.token, q.renew, { id: p.json.attachmentId });
    expect((await put(renewed.renewAttachmentUpload, PNG)).status).toBe(200);
    expect((await t.deps.prisma.attachment.findUniqueOrThrow({ where: { id: p.json.attachmentId }, include: { blob: true } })).blob?.status).toBe("READY");
  });

  it("the unbound sweep removes attachments no message took: bytes purged, quota back; bound ones stay", async () => {
    const { owner, conv } = await setup();
    const unbound = await uploaded(owner.token, conv);
    const bound = await uploaded(owner.token, conv);
    await ok(t.graphqlUrl, owner.token, q.post, { c: conv, a: [bound] });
    const key = (await t.deps.prisma.attachment.findUniqueOrThrow({ where: { id: unbound }, include: { blob: true } })).blob!.key;
    const ttl = t.deps.config.attachments.unboundTtlSeconds;
    // Not yet due.
    await t.deps.services.attachments.sweepUnbound();
    expect(await t.deps.prisma.attachment.findUnique({ where: { id: unbound } })).not.toBeNull();
    // Every unbound attachment is due then (other tests' too): their bytes leave the usage.
    const due = await t.deps.prisma.attachment.findMany({ where: { messageId: null }, include: { blob: true } });
    const dueBytes = due.filter((a) => a.blob?.status === "READY").reduce((sum, a) => sum + a.size, 0n);
    const before = await org();
    await t.deps.services.attachments.sweepUnbound(new Date(Date.now() + (ttl + 1) * 1000));
    expect(await t.deps.prisma.attachment.findUnique({ where: { id: unbound } })).toBeNull();
    expect(await t.deps.prisma.attachment.findUnique({ where: { id: bound } })).not.toBeNull();
    expect(await t.deps.prisma.attachment.count({ where: { messageId: null } })).toBe(0);
    expect(before.usedBytes - (await org()).usedBytes).toBe(dueBytes);
    expect((await org()).reservedBytes).toBe(0n);
    expect(await t.deps.blobStore.head(key)).toBeNull();
    const deleted = await t.deps.prisma.$queryRaw<{ payload: { reason: string; purged: boolean } }[]>`
      SELECT payload FROM events WHERE subject_id = ${unbound} AND type = 'attachment.deleted'`;
    expect(deleted.map((e) => [e.payload.reason, e.payload.purged])).toEqual([["UNBOUND", true]]);
  });
});

describe("a store that refuses the configuration", () => {
  let s3: TestS3;
  let store: S3BlobStore;
  let bad: TestApp;
  beforeAll(async () => {
    s3 = await startS3rver();
    store = new S3BlobStore({ ...s3.config, bucket: "no-such-bucket" });
    adaptClientToS3rver(store.client);
    bad = await buildTestApp({ blobStore: () => store, workers: false });
  });
  afterAll(async () => {
    await bad?.close();
    store?.client.destroy();
    await s3?.stop();
  });

  it("answers STORAGE_NOT_CONFIGURED (503) at once and reserves nothing; the server is up and /readyz says why", async () => {
    const bw = await conversationWorld(bad);
    const u = await bw.user();
    const room = (await ok<{ createRoom: { id: string } }>(bad.graphqlUrl, u.token, q.createRoom, { s: bw.space.id, p: [] })).createRoom.id;
    const conv = (await ok<{ createConversation: { id: string } }>(bad.graphqlUrl, u.token, q.createConversation, { r: room })).createConversation.id;
    const started = performance.now();
    const res = await fetch(`${bad.url}/api/v1/agent/attachments/presigned`, {
      method: "POST",
      headers: { authorization: `Bearer ${u.token}`, "content-type": "application/json" },
      body: JSON.stringify({ conversationId: conv, filename: "a.png", mimeType: "image/png", size: 10 }),
    });
    expect(performance.now() - started).toBeLessThan(3_000);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("STORAGE_NOT_CONFIGURED");
    expect(await bad.deps.prisma.attachment.count()).toBe(0);
    expect(await bad.deps.prisma.blob.count()).toBe(0);
    const ready = await fetch(`${bad.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(JSON.stringify(await ready.json())).toContain("STORAGE_NOT_CONFIGURED");
  });
});

describe("retention", () => {
  const retention = (token: string, body: Record<string, unknown>) => rest(token, "PATCH", "/agent/attachments/retention", body);
  const row = (id: string) => t.deps.prisma.attachment.findUnique({ where: { id }, include: { blob: true } });
  const DAY = 86_400_000;

  it("a space default sets retentionAt on new attachments and recomputes those without an override; null keeps them", async () => {
    const { owner, conv } = await setup();
    const existing = await uploaded(owner.token, conv);
    const overridden = await uploaded(owner.token, conv);
    const keepAt = new Date(Date.now() + 400 * DAY).toISOString();
    expect((await retention(w.adminToken, { attachmentId: overridden, retentionAt: keepAt })).status).toBe(200);
    const res = await retention(w.adminToken, { spaceId: w.space.id, retentionDays: 30 });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ spaceId: w.space.id, retentionDays: 30 });
    const e = (await row(existing))!;
    expect(e.retentionAt!.getTime()).toBe(e.createdAt.getTime() + 30 * DAY);
    expect((await row(overridden))!.retentionAt!.toISOString()).toBe(keepAt);
    const fresh = (await row(await uploaded(owner.token, conv)))!;
    expect(fresh.retentionAt!.getTime()).toBe(fresh.createdAt.getTime() + 30 * DAY);
    // GraphQL: back to keeping.
    const g = await ok<{ setAttachmentRetention: { retentionDays: number | null } }>(
      t.graphqlUrl,
      w.adminToken,
      `mutation($s: ID!) { setAttachmentRetention(input: { spaceId: $s, retentionDays: null }) { retentionDays updated } }`,
      { s: w.space.id },
    );
    expect(g.setAttachmentRetention.retentionDays).toBeNull();
    expect((await row(existing))!.retentionAt).toBeNull();
    expect((await row(overridden))!.retentionAt!.toISOString()).toBe(keepAt);
  });

  it("who may set it: managers for the space; the uploader for its own; others FORBIDDEN or NOT_FOUND; bad input refused", async () => {
    const { owner, agent, conv } = await setup();
    const mine = await uploaded(owner.token, conv);
    expect((await retention(owner.token, { spaceId: w.space.id, retentionDays: 5 })).status).toBe(403);
    expect((await retention(owner.token, { attachmentId: mine, retentionAt: new Date(Date.now() + DAY).toISOString() })).status).toBe(200);
    expect((await retention(agent.token, { attachmentId: mine, retentionAt: null })).status).toBe(403);
    const manager = await t.factories.member(w.org.id, w.space.id, ["attachments:manage"]);
    expect((await retention(manager.token, { attachmentId: mine, retentionAt: null })).status).toBe(200);
    expect((await retention(manager.token, { spaceId: w.space.id, retentionDays: 0 })).status).toBe(400);
    expect((await retention(manager.token, { spaceId: w.space.id, attachmentId: mine })).status).toBe(400);
    expect((await row(mine))!.retentionAt).toBeNull();
  });

  it("an override in the past: never handed out (no URL, no binding) before the sweep; the sweep soft-deletes it and purges the bytes", async () => {
    const { owner, agent, conv } = await setup();
    const id = await uploaded(owner.token, conv);
    const posted = await ok<{ postMessage: { id: string } }>(t.graphqlUrl, owner.token, q.post, { c: conv, a: [id] });
    const key = (await row(id))!.blob!.key;
    const used = (await org()).usedBytes;
    expect((await retention(owner.token, { attachmentId: id, retentionAt: new Date(Date.now() - 1000).toISOString() })).status).toBe(200);
    const seen = await ok<{ node: { attachments: { downloadUrl: string | null; available: boolean }[] } }>(t.graphqlUrl, agent.token, q.message, {
      id: posted.postMessage.id,
    });
    expect(seen.node.attachments).toMatchObject([{ downloadUrl: null, available: false }]);
    expect(await (await rest(agent.token, "GET", `/agent/attachments/${id}`)).json()).toMatchObject({ available: false, downloadUrl: null });
    // An unbound one past retention cannot be bound either.
    const other = await uploaded(owner.token, conv);
    await retention(owner.token, { attachmentId: other, retentionAt: new Date(Date.now() - 1000).toISOString() });
    const refused = await call(t.graphqlUrl, owner.token, q.post, { c: conv, a: [other] });
    expect(refused.errors?.[0]?.extensions?.details).toMatchObject({ reason: "ATTACHMENT_NOT_BINDABLE" });

    const swept = await t.deps.services.attachments.sweepRetention();
    expect(swept.purged).toBeGreaterThanOrEqual(2);
    const after = (await row(id))!;
    expect(after.deletedAt).not.toBeNull();
    expect(after.blobId).toBeNull();
    expect(await t.deps.blobStore.head(key)).toBeNull();
    const sweptEvents = await t.deps.prisma.$queryRaw<{ payload: { reason: string; purged: boolean } }[]>`
      SELECT payload FROM events WHERE subject_id = ${id} AND type = 'attachment.deleted'`;
    expect(sweptEvents.map((e) => [e.payload.reason, e.payload.purged])).toEqual([["RETENTION", true]]);
    // Both purged; `used` was read before the second was uploaded.
    expect(used - (await org()).usedBytes).toBe(BigInt(PNG.length));
    // The message still lists it, unavailable.
    const later = await ok<{ node: { attachments: { available: boolean }[] } }>(t.graphqlUrl, agent.token, q.message, { id: posted.postMessage.id });
    expect(later.node.attachments).toMatchObject([{ available: false }]);
  });

  it("hard delete: row and bytes gone at once, quota given back; others may not", async () => {
    const { owner, agent, conv } = await setup();
    const id = await uploaded(owner.token, conv);
    const key = (await row(id))!.blob!.key;
    const used = (await org()).usedBytes;
    expect((await rest(agent.token, "DELETE", `/agent/attachments/${id}`)).status).toBe(403);
    const res = await rest(owner.token, "DELETE", `/agent/attachments/${id}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id });
    expect(await row(id)).toBeNull();
    expect(await t.deps.blobStore.head(key)).toBeNull();
    expect(used - (await org()).usedBytes).toBe(BigInt(PNG.length));
    // GraphQL, by a manager.
    const second = await uploaded(owner.token, conv);
    const g = await ok<{ deleteAttachment: string }>(t.graphqlUrl, w.adminToken, `mutation($id: ID!) { deleteAttachment(id: $id) }`, { id: second });
    expect(g.deleteAttachment).toBe(second);
    expect(await row(second)).toBeNull();
  });
});

describe("attachment events in the log", () => {
  /** The log's own rows about `subjectId`, in order: type and the payload fields that tell the story. */
  const logged = async (subjectId: string) =>
    (
      await t.deps.prisma.$queryRaw<{ type: string; payload: Record<string, unknown> }[]>`
        SELECT type, payload FROM events WHERE subject_id = ${subjectId} AND type LIKE 'attachment.%' ORDER BY id`
    ).map((e) => ({ type: e.type, messageId: e.payload.messageId ?? null, reason: e.payload.reason ?? null, purged: e.payload.purged ?? null }));

  it("every change is an event of the change's transaction, in order; refusals write none", async () => {
    const { owner, conv } = await setup();
    const id = await uploaded(owner.token, conv);
    expect(await logged(id)).toEqual([{ type: "attachment.uploaded", messageId: null, reason: null, purged: null }]);

    // Someone else's attachment in a post: refused, nothing bound, no event.
    const other = await w.user();
    await t.deps.prisma.roomParticipant.create({
      data: { roomId: (await t.deps.prisma.conversation.findUniqueOrThrow({ where: { id: conv } })).roomId, accountId: other.id, role: "MEMBER" },
    });
    const refused = await call(t.graphqlUrl, other.token, q.post, { c: conv, text: "mine now", a: [id] });
    expect(refused.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    expect(await logged(id)).toHaveLength(1);

    const posted = await ok<{ postMessage: { id: string } }>(t.graphqlUrl, owner.token, q.post, { c: conv, text: "here", a: [id] });
    const at = new Date(Date.now() + 86_400_000).toISOString();
    expect((await rest(owner.token, "PATCH", "/agent/attachments/retention", { attachmentId: id, retentionAt: at })).status).toBe(200);
    await ok(t.graphqlUrl, w.adminToken, `mutation($id: ID!) { softDeleteAttachment(id: $id) { deletedAt } }`, { id });
    await ok(t.graphqlUrl, w.adminToken, `mutation($id: ID!) { restoreAttachment(id: $id) { deletedAt } }`, { id });
    expect((await rest(owner.token, "DELETE", `/agent/attachments/${id}`)).status).toBe(200);
    const m = posted.postMessage.id;
    expect(await logged(id)).toEqual([
      { type: "attachment.uploaded", messageId: null, reason: null, purged: null },
      { type: "attachment.bound", messageId: m, reason: null, purged: null },
      { type: "attachment.retention_changed", messageId: m, reason: null, purged: null },
      { type: "attachment.deleted", messageId: m, reason: "DELETED", purged: false },
      { type: "attachment.restored", messageId: m, reason: null, purged: null },
      { type: "attachment.deleted", messageId: m, reason: "DELETED", purged: true },
    ]);

    // The space's default: one event for the space, with how many were recomputed.
    await ok(t.graphqlUrl, w.adminToken, `mutation($s: ID!) { setAttachmentRetention(input: { spaceId: $s, retentionDays: 30 }) { updated } }`, {
      s: w.space.id,
    });
    await ok(t.graphqlUrl, w.adminToken, `mutation($s: ID!) { setAttachmentRetention(input: { spaceId: $s, retentionDays: null }) { updated } }`, {
      s: w.space.id,
    });
    const defaults = await t.deps.prisma.$queryRaw<{ payload: { retentionDays: number | null } }[]>`
      SELECT payload FROM events WHERE subject_id = ${w.space.id} AND type = 'attachment.retention_default_changed' ORDER BY id`;
    expect(defaults.slice(-2).map((e) => e.payload.retentionDays)).toEqual([30, null]);

    // A declared type outside the allow-list: refused before anything exists, so no event either.
    const before = await t.deps.prisma.$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM events WHERE type LIKE 'attachment.%'`;
    expect((await presign(owner.token, { conversationId: conv, filename: "x.exe", mimeType: "application/x-msdownload", size: 3 })).status).toBe(415);
    const after = await t.deps.prisma.$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM events WHERE type LIKE 'attachment.%'`;
    expect(after[0]!.n).toBe(before[0]!.n);
  });
});

describe("the operator list", () => {
  const list = `query($s: ID!, $f: AttachmentFilter, $o: AttachmentOrder, $first: Int, $after: String) {
    attachments(spaceId: $s, filter: $f, orderBy: $o, first: $first, after: $after) {
      items { id filename mimeType size uploaderId conversationId messageId expiresInSeconds deletedAt } nextCursor } }`;
  type Page = { attachments: { items: { id: string; mimeType: string; size: number; expiresInSeconds: number | null }[]; nextCursor: string | null } };

  it("filters by uploader, MIME type (exact or image/*), retention, conversation, deleted; pages; soft delete and restore", async () => {
    const sp = await t.factories.space(w.org.id);
    const u = await t.factories.member(w.org.id, sp.id, ["conversations:read", "conversations:write"]);
    const room = (await ok<{ createRoom: { id: string } }>(t.graphqlUrl, u.token, q.createRoom, { s: sp.id, p: [] })).createRoom.id;
    const conv = (await ok<{ createConversation: { id: string } }>(t.graphqlUrl, u.token, q.createConversation, { r: room })).createConversation.id;
    const png = await uploaded(u.token, conv);
    const pdf = await uploaded(u.token, conv, PDF, "a.pdf", "application/pdf");
    const csvBytes = Buffer.from("a,b\n1,2\n");
    const csv = await uploaded(u.token, conv, csvBytes, "t.csv", "text/csv");
    await ok(
      t.graphqlUrl,
      w.adminToken,
      `mutation($id: ID!, $at: DateTime) { setAttachmentRetention(input: { attachmentId: $id, retentionAt: $at }) { updated } }`,
      {
        id: pdf,
        at: new Date(Date.now() + 2 * 86_400_000).toISOString(),
      },
    );
    await ok(
      t.graphqlUrl,
      w.adminToken,
      `mutation($id: ID!, $at: DateTime) { setAttachmentRetention(input: { attachmentId: $id, retentionAt: $at }) { updated } }`,
      {
        id: csv,
        at: new Date(Date.now() - 1000).toISOString(),
      },
    );
    const ids = async (f: Record<string, unknown>, token = w.adminToken) =>
      (await ok<Page>(t.graphqlUrl, token, list, { s: sp.id, f })).attachments.items.map((i) => i.id).sort();
    expect(await ids({})).toEqual([png, pdf, csv].sort());
    expect(await ids({ mimeType: "image/*" })).toEqual([png]);
    expect(await ids({ mimeType: "application/pdf" })).toEqual([pdf]);
    expect(await ids({ uploadedBy: u.account.id, conversationId: conv })).toEqual([png, pdf, csv].sort());
    expect(await ids({ uploadedBy: w.admin.id })).toEqual([]);
    expect(await ids({ retention: { kind: "NONE" } })).toEqual([png]);
    expect(await ids({ retention: { kind: "EXPIRED" } })).toEqual([csv]);
    expect(await ids({ retention: { kind: "EXPIRING_WITHIN", days: 3 } })).toEqual([pdf]);
    expect(await ids({ retention: { kind: "EXPIRING_WITHIN", days: 1 } })).toEqual([]);
    expect(await ids({ retention: { kind: "ACTIVE" } })).toEqual([png, pdf].sort());

    // Pages by size, ascending.
    const p1 = await ok<Page>(t.graphqlUrl, w.adminToken, list, { s: sp.id, o: { field: "SIZE", direction: "ASC" }, first: 2 });
    expect(p1.attachments.items.map((i) => i.size)).toEqual([PNG.length, csvBytes.length, PDF.length].sort((a, b) => a - b).slice(0, 2));
    const p2 = await ok<Page>(t.graphqlUrl, w.adminToken, list, {
      s: sp.id,
      o: { field: "SIZE", direction: "ASC" },
      first: 2,
      after: p1.attachments.nextCursor,
    });
    expect(p2.attachments.items).toHaveLength(1);
    expect(p2.attachments.nextCursor).toBeNull();

    // Soft delete: out of the default list, in deleted: true, never handed out; restore brings it back.
    await ok(t.graphqlUrl, w.adminToken, `mutation($id: ID!) { softDeleteAttachment(id: $id) { deletedAt available } }`, { id: png });
    expect(await ids({})).toEqual([pdf, csv].sort());
    expect(await ids({ deleted: true })).toEqual([png]);
    expect(await (await rest(u.token, "GET", `/agent/attachments/${png}`)).json()).toMatchObject({ available: false, downloadUrl: null });
    const restored = await ok<{ restoreAttachment: { available: boolean } }>(
      t.graphqlUrl,
      w.adminToken,
      `mutation($id: ID!) { restoreAttachment(id: $id) { available } }`,
      { id: png },
    );
    expect(restored.restoreAttachment.available).toBe(true);

    // REST listing with the same filters.
    const res = await rest(w.adminToken, "GET", `/agent/attachments?spaceId=${sp.id}&mimeType=${encodeURIComponent("image/*")}`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { items: { id: string }[] }).items.map((i) => i.id)).toEqual([png]);

    // Not for plain participants; NOT_FOUND for other spaces' members.
    expect((await call(t.graphqlUrl, u.token, list, { s: sp.id })).errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    expect((await rest(u.token, "GET", `/agent/attachments?spaceId=${sp.id}`)).status).toBe(403);
    const stranger = await t.factories.member(w.org.id, w.space.id, ["attachments:manage"]);
    expect((await rest(stranger.token, "GET", `/agent/attachments?spaceId=${sp.id}`)).status).toBe(404);
  });
});

describe("Conversation.modelInput", () => {
  const mi = `query($c: ID!, $f: ModelInputFormat!, $v: Boolean, $d: ImageDelivery, $up: SafeInt) {
    conversation(id: $c) { modelInput(format: $f, vision: $v, imageDelivery: $d, upToSeq: $up) } }`;
  const modelInput = async (token: string, vars: Record<string, unknown>) =>
    (await ok<{ conversation: { modelInput: unknown } }>(t.graphqlUrl, token, mi, vars)).conversation.modelInput;

  it("the seed's flow ends with the agent reading the turn: CSV inlined, the image as a part (URL or base64) or described, expired ones omitted", async () => {
    const { owner, agent, conv } = await setup();
    const csv = await uploaded(owner.token, conv, Buffer.from("name,qty\napple,3\n"), "stock.csv", "text/csv");
    const png = await uploaded(owner.token, conv);
    await ok(t.graphqlUrl, owner.token, q.post, { c: conv, text: "what is in these?", a: [csv, png] });
    // Processing (text, dimensions) is done before the agent reads.
    await eventually(async () => {
      const steps = await t.deps.prisma.processingStep.findMany({ where: { blob: { attachment: { id: { in: [csv, png] } } } } });
      return steps.length >= 2 && steps.every((s) => s.status === "DONE" || s.status === "SKIPPED");
    }, 30_000);

    const anthropic = (await modelInput(agent.token, { c: conv, f: "ANTHROPIC_MESSAGES", v: true, d: "URL" })) as {
      messages: { role: string; content: { type: string; text?: string; source?: { type: string; url?: string } }[] }[];
    };
    expect(anthropic.messages).toHaveLength(1);
    expect(anthropic.messages[0]!.role).toBe("user");
    const parts = anthropic.messages[0]!.content;
    expect(parts.some((p) => p.type === "text" && p.text!.includes("stock.csv") && p.text!.includes("apple,3"))).toBe(true);
    const image = parts.find((p) => p.type === "image")!;
    expect(image.source!.type).toBe("url");
    const fetched = await fetch(image.source!.url!);
    expect(fetched.status).toBe(200);
    expect(Buffer.from(await fetched.arrayBuffer())).toEqual(PNG);

    const chat = (await modelInput(agent.token, { c: conv, f: "OPENAI_CHAT", v: true, d: "BASE64" })) as {
      messages: { role: string; content: { type: string; image_url?: { url: string } }[] }[];
    };
    const dataUrl = chat.messages[0]!.content.find((p) => p.type === "image_url")!.image_url!.url;
    expect(dataUrl).toBe(`data:image/png;base64,${PNG.toString("base64")}`);

    // Without vision: a text line describing the image.
    const blind = JSON.stringify(await modelInput(agent.token, { c: conv, f: "OPENAI_RESPONSES", v: false, d: "URL" }));
    expect(blind).toContain("dot.png");
    expect(blind).not.toContain("input_image");

    // Past retention: omitted at once, before any sweep.
    await rest(owner.token, "PATCH", "/agent/attachments/retention", { attachmentId: png, retentionAt: new Date(Date.now() - 1000).toISOString() });
    const after = JSON.stringify(await modelInput(agent.token, { c: conv, f: "ANTHROPIC_MESSAGES", v: true, d: "URL" }));
    expect(after).not.toContain('"type":"image"');
    expect(after).toContain("apple,3");
    // Non-participants: hidden.
    const outsider = await w.user();
    const hidden = await call(t.graphqlUrl, outsider.token, mi, { c: conv, f: "OPENAI_CHAT" });
    expect(hidden.data?.conversation ?? null).toBeNull();
  });

  /** Waits until processing of these attachments settled (DONE or SKIPPED). */
  const processed = (ids: string[]) =>
    eventually(async () => {
      const steps = await t.deps.prisma.processingStep.findMany({ where: { blob: { attachment: { id: { in: ids } } } } });
      return steps.length >= ids.length && steps.every((s) => s.status === "DONE" || s.status === "SKIPPED");
    }, 30_000);

  it("a large image is sent at each provider's size, made once and kept as a derived blob", async () => {
    const { owner, agent, conv } = await setup();
    // 3000 x 2000: over both providers' sizes (Anthropic: long edge 1568; OpenAI: fit 2048, short side 768).
    const big = await sharp({ create: { width: 3000, height: 2000, channels: 3, background: { r: 200, g: 40, b: 90 } } })
      .png()
      .toBuffer();
    const id = await uploaded(owner.token, conv, big, "poster.png");
    await ok(t.graphqlUrl, owner.token, q.post, { c: conv, text: "describe it", a: [id] });
    await processed([id]);
    const blobId = (await t.deps.prisma.attachment.findUniqueOrThrow({ where: { id } })).blobId!;
    const variants = () => t.deps.prisma.blob.findMany({ where: { sourceBlobId: blobId, role: { startsWith: "model:" } }, orderBy: { role: "asc" } });

    const imageUrl = async (format: string) => {
      const json = JSON.stringify(await modelInput(agent.token, { c: conv, f: format, v: true, d: "URL" }));
      const url = /"(?:url|image_url)":"(http[^"]+)"/.exec(json)?.[1];
      expect(url, json).toBeDefined();
      return JSON.parse(`"${url}"`) as string;
    };
    const sizeAt = async (url: string) => {
      const res = await fetch(url);
      expect(res.status).toBe(200);
      const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
      return [meta.width, meta.height];
    };
    expect(await sizeAt(await imageUrl("ANTHROPIC_MESSAGES"))).toEqual([1568, 1045]);
    expect(await sizeAt(await imageUrl("OPENAI_CHAT"))).toEqual([1152, 768]);
    const made = await variants();
    expect(made.map((b) => b.role)).toEqual(["model:ANTHROPIC", "model:OPENAI"]);
    // Asked again (and through the other OpenAI format): the stored variants, nothing new made.
    expect(await sizeAt(await imageUrl("OPENAI_RESPONSES"))).toEqual([1152, 768]);
    expect(await sizeAt(await imageUrl("ANTHROPIC_MESSAGES"))).toEqual([1568, 1045]);
    expect((await variants()).map((b) => b.id)).toEqual(made.map((b) => b.id));
  });

  it("a DOCX attachment is its extracted text in every format", async () => {
    const { owner, agent, conv } = await setup();
    const dir = await mkdtemp(path.join(os.tmpdir(), "cabinet-docx-"));
    const docx = await readFile(await fixtures.docx(path.join(dir, "minutes.docx"), ["Minutes of the board", "The quarterly budget was approved."]));
    await rm(dir, { recursive: true, force: true });
    const id = await uploaded(owner.token, conv, docx, "minutes.docx", DOCX_TYPE);
    await ok(t.graphqlUrl, owner.token, q.post, { c: conv, text: "summarize", a: [id] });
    await processed([id]);
    for (const format of ["OPENAI_CHAT", "OPENAI_RESPONSES", "ANTHROPIC_MESSAGES"]) {
      const json = JSON.stringify(await modelInput(agent.token, { c: conv, f: format, v: true, d: "URL" }));
      expect(json, format).toContain("minutes.docx");
      expect(json, format).toContain("The quarterly budget was approved.");
      // Text, not a file part: no provider reads DOCX natively.
      expect(json, format).not.toMatch(/"type":"(file|input_file|document)"/);
    }
  });
});
