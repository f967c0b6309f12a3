// The foundation's vertical slice, end to end over HTTP: create a space, nest
// folders, upload through GraphQL multipart, list children, fetch a download
// URL and get the very same bytes back.
import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AssetAtPathDocument,
  CreateFolderByPathDocument,
  CreateFolderUnderDocument,
  CreateSpaceDocument,
  FolderChildrenDocument,
  ViewerDocument,
} from "./generated/graphql.ts";
import { buildTestApp, errorCode, eventually, type TestApp } from "./harness.ts";
import { uploadAsset } from "./support/upload.ts";

let t: TestApp;
let token: string;
let spaceId: string;

beforeAll(async () => {
  t = await buildTestApp();
  const w = await t.factories.world();
  token = w.adminToken;
  const res = await t.gql(CreateSpaceDocument, { name: "Vertical slice" }, token);
  expect(res.errors).toBeUndefined();
  spaceId = res.data!.createSpace.id;
});
afterAll(() => t?.close());

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

describe("vertical slice", () => {
  it("creates a space with a root folder and prefixed ids", async () => {
    const res = await t.gql(CreateSpaceDocument, { name: "Another" }, token);
    expect(res.data?.createSpace.id).toMatch(/^spc_[0-9a-z]{26}$/);
    expect(res.data?.createSpace.root.id).toMatch(/^ent_/);
    expect(res.data?.createSpace.root.path).toBe("");
  });

  it("nests folders by path (creating parents when asked) and under a parent id", async () => {
    const deep = await t.gql(CreateFolderByPathDocument, { spaceId, path: "documents/contracts/2024", createParents: true }, token);
    expect(deep.errors).toBeUndefined();
    expect(deep.data!.createFolder.path).toBe("documents/contracts/2024");
    expect(deep.data!.createFolder.parent?.path).toBe("documents/contracts");

    const under = await t.gql(CreateFolderUnderDocument, { spaceId, parentId: deep.data!.createFolder.id, name: "Q1" }, token);
    expect(under.data?.createFolder.path).toBe("documents/contracts/2024/Q1");

    const missingParent = await t.gql(CreateFolderByPathDocument, { spaceId, path: "nope/child" }, token);
    expect(errorCode(missingParent)).toBe("NOT_FOUND");
    const again = await t.gql(CreateFolderByPathDocument, { spaceId, path: "documents" }, token);
    expect(errorCode(again)).toBe("ALREADY_EXISTS");
  });

  it("uploads through GraphQL multipart and downloads the same bytes from the presigned URL", async () => {
    const bytes = randomBytes(3 * 1024 * 1024 + 17);
    const up = await uploadAsset(t.graphqlUrl, { token, spaceId, path: "documents/contracts/Vertrag Ü 契約.pdf", body: bytes, type: "application/pdf" });
    expect(up.errors).toBeUndefined();
    const asset = up.data!.uploadAsset;
    expect(asset).toMatchObject({
      name: "Vertrag Ü 契約.pdf",
      path: "documents/contracts/Vertrag Ü 契約.pdf",
      size: bytes.length,
      sha256: sha256(bytes),
      mimeType: "application/pdf",
      status: "READY",
    });
    expect(asset.id).toMatch(/^ent_/);

    const got = await t.gql(AssetAtPathDocument, { spaceId, path: "documents/contracts/Vertrag Ü 契約.pdf", expiresIn: 60 }, token);
    expect(got.errors).toBeUndefined();
    const entry = got.data!.entry!;
    if (entry.__typename !== "Asset") throw new Error("expected an Asset");
    const res = await fetch(entry.downloadUrl);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/pdf");
    expect(res.headers.get("content-disposition")).toContain("filename*=UTF-8''Vertrag%20%C3%9C%20%E5%A5%91%E7%B4%84.pdf");
    const downloaded = Buffer.from(await res.arrayBuffer());
    expect(downloaded.length).toBe(bytes.length);
    expect(sha256(downloaded)).toBe(sha256(bytes));
  });

  it("streams uploads larger than any request-body limit (30 MB)", async () => {
    const bytes = randomBytes(30 * 1024 * 1024);
    const up = await uploadAsset(t.graphqlUrl, { token, spaceId, path: "big/thirty.bin", body: bytes, createParents: true });
    expect(up.errors).toBeUndefined();
    expect(up.data!.uploadAsset).toMatchObject({ size: bytes.length, sha256: sha256(bytes) });
  });

  it("keeps a download URL's lifetime between 1 s and the configured maximum (BAD_USER_INPUT otherwise)", async () => {
    const path = "documents/contracts/Vertrag Ü 契約.pdf";
    const max = t.deps.config.presign.maxExpiresSeconds;
    for (const expiresIn of [0, -5, max + 1]) {
      expect(errorCode(await t.gql(AssetAtPathDocument, { spaceId, path, expiresIn }, token))).toBe("BAD_USER_INPUT");
    }
    const ok = (await t.gql(AssetAtPathDocument, { spaceId, path, expiresIn: max }, token)).data!.entry as { downloadUrl: string };
    const expires = Number(new URL(ok.downloadUrl).searchParams.get("X-Cabinet-Expires"));
    expect(Math.abs(expires - (Date.now() / 1000 + max))).toBeLessThan(5);
  });

  it("lists a folder's children as a relay connection, folders first, paged", async () => {
    await t.gql(CreateFolderByPathDocument, { spaceId, path: "listing/zeta", createParents: true }, token);
    await t.gql(CreateFolderByPathDocument, { spaceId, path: "listing/alpha" }, token);
    for (const name of ["b.txt", "a.txt", "c.txt"]) {
      const r = await uploadAsset(t.graphqlUrl, { token, spaceId, path: `listing/${name}`, body: name, type: "text/plain" });
      expect(r.errors).toBeUndefined();
    }
    const first = await t.gql(FolderChildrenDocument, { spaceId, path: "listing", first: 3 }, token);
    const entry = first.data!.entry!;
    if (entry.__typename !== "Folder") throw new Error("expected a Folder");
    expect(entry.children.edges.map((e) => e.node.name)).toEqual(["alpha", "zeta", "a.txt"]);
    expect(entry.children.pageInfo.hasNextPage).toBe(true);

    const rest = await t.gql(FolderChildrenDocument, { spaceId, path: "listing", first: 3, after: entry.children.pageInfo.endCursor }, token);
    const next = rest.data!.entry!;
    if (next.__typename !== "Folder") throw new Error("expected a Folder");
    expect(next.children.edges.map((e) => e.node.name)).toEqual(["b.txt", "c.txt"]);
    expect(next.children.pageInfo.hasNextPage).toBe(false);
    const file = next.children.edges[0]!.node;
    expect(file.__typename).toBe("Asset");
    expect(file.createdBy?.name).toBe("admin");
  });

  it("overwrites an existing path in place: same id, new bytes, old blob purged after commit, usage adjusted", async () => {
    const first = await uploadAsset(t.graphqlUrl, { token, spaceId, path: "over/write.bin", body: randomBytes(1000), createParents: true });
    const before = await t.deps.prisma.entry.findUniqueOrThrow({ where: { id: first.data!.uploadAsset.id }, include: { blob: true } });
    const usageBefore = (await t.gql(ViewerDocument, {}, token)).data!.organization.usedBytes;

    const second = await uploadAsset(t.graphqlUrl, { token, spaceId, path: "over/write.bin", body: randomBytes(400) });
    expect(second.errors).toBeUndefined();
    expect(second.data!.uploadAsset.id).toBe(first.data!.uploadAsset.id);
    expect(second.data!.uploadAsset.size).toBe(400);
    expect(new Date(second.data!.uploadAsset.updatedAt).getTime()).toBeGreaterThan(before.updatedAt.getTime());

    const usageAfter = (await t.gql(ViewerDocument, {}, token)).data!.organization.usedBytes;
    expect(usageAfter - usageBefore).toBe(-600);
    expect(await t.deps.prisma.blob.findUnique({ where: { id: before.blob!.id } })).toBeNull();
    // The purge job deletes the old object from the store once the swap committed.
    await eventually(async () => (await t.deps.blobStore.head(before.blob!.key)) === null);
  });

  it("refuses to upload onto a folder's path and leaves nothing behind", async () => {
    const blobsBefore = await t.deps.prisma.blob.count();
    const res = await uploadAsset(t.graphqlUrl, { token, spaceId, path: "documents", body: "x" });
    expect(errorCode(res)).toBe("PATH_IS_DIRECTORY");
    expect(await t.deps.prisma.blob.count()).toBe(blobsBefore);
  });

  it("keeps usage exact: organization usage equals the sum of stored blob sizes", async () => {
    const org = (await t.gql(ViewerDocument, {}, token)).data!.organization;
    const sum = await t.deps.prisma.blob.aggregate({ _sum: { size: true }, where: { organizationId: org.id, status: "READY" } });
    expect(org.usedBytes).toBe(Number(sum._sum.size ?? 0n));
  });
});

describe("limits", () => {
  it("cuts an upload over the max file size off mid-stream with LIMITS_REACHED, leaving no blob, row or usage", async () => {
    const w = await t.factories.world({ maxFileSizeBytes: 1024n * 1024n, quotaBytes: 100n * 1024n * 1024n });
    const res = await uploadAsset(t.graphqlUrl, { token: w.adminToken, spaceId: w.space.id, path: "big.bin", body: randomBytes(5 * 1024 * 1024) });
    expect(errorCode(res)).toBe("LIMITS_REACHED");
    expect(res.errors![0]!.extensions!.details).toMatchObject({ reason: "MAX_FILE_SIZE" });
    expect(await t.deps.prisma.blob.count({ where: { spaceId: w.space.id } })).toBe(0);
    expect(await t.deps.prisma.entry.count({ where: { spaceId: w.space.id, kind: "FILE" } })).toBe(0);
    const org = await t.deps.prisma.organization.findUniqueOrThrow({ where: { id: w.org.id } });
    expect(org.usedBytes).toBe(0n);
  });

  it("refuses an upload that would cross the quota and bills nothing", async () => {
    const w = await t.factories.world({ quotaBytes: 10_000n, maxFileSizeBytes: 1_000_000n });
    const ok = await uploadAsset(t.graphqlUrl, { token: w.adminToken, spaceId: w.space.id, path: "a.bin", body: randomBytes(8_000) });
    expect(ok.errors).toBeUndefined();
    const over = await uploadAsset(t.graphqlUrl, { token: w.adminToken, spaceId: w.space.id, path: "b.bin", body: randomBytes(3_000) });
    expect(errorCode(over)).toBe("LIMITS_REACHED");
    expect(over.errors![0]!.extensions!.details).toMatchObject({ reason: "QUOTA" });
    const org = await t.deps.prisma.organization.findUniqueOrThrow({ where: { id: w.org.id } });
    expect(org.usedBytes).toBe(8_000n);
    expect(await t.deps.prisma.blob.count({ where: { spaceId: w.space.id } })).toBe(1);
  });
});
