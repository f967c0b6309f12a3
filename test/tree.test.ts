// The folder tree: rename, move and recursive delete, with the directory rules
// (ALREADY_EXISTS, PATH_IS_FILE, PATH_IS_DIRECTORY) and the quota given back.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CreateFolderByPathDocument,
  DeleteEntryDocument,
  EntryPathDocument,
  MoveEntryDocument,
  RenameEntryDocument,
  SpaceUsageDocument,
  UsageDocument,
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
  spaceId = w.space.id;
});
afterAll(() => t?.close());

const folder = async (path: string) => {
  const res = await t.gql(CreateFolderByPathDocument, { spaceId, path, createParents: true }, token);
  expect(res.errors).toBeUndefined();
  return res.data!.createFolder.id;
};
const file = async (path: string, body: Buffer | string = "x") => {
  const res = await uploadAsset(t.graphqlUrl, { token, spaceId, path, body, createParents: true });
  expect(res.errors).toBeUndefined();
  return res.data!.uploadAsset;
};
const at = async (path: string) => (await t.gql(EntryPathDocument, { spaceId, path }, token)).data?.entry ?? null;

describe("rename", () => {
  it("renames in place; the subtree's paths follow", async () => {
    const id = await folder("ren/old");
    await file("ren/old/deep/a.txt");
    const res = await t.gql(RenameEntryDocument, { id, name: "new name ✓" }, token);
    expect(res.data?.renameEntry).toMatchObject({ id, name: "new name ✓", path: "ren/new name ✓" });
    expect((await at("ren/new name ✓/deep/a.txt"))?.kind).toBe("FILE");
    expect(await at("ren/old/deep/a.txt")).toBeNull();
  });

  it("refuses a taken name, an invalid name and the root", async () => {
    const a = await folder("ren2/a");
    await file("ren2/b.txt");
    expect(errorCode(await t.gql(RenameEntryDocument, { id: a, name: "b.txt" }, token))).toBe("ALREADY_EXISTS");
    for (const bad of ["", ".", "..", "x/y", "nul\u0000", "bell\u0007", "é".repeat(128)]) {
      expect(errorCode(await t.gql(RenameEntryDocument, { id: a, name: bad }, token))).toBe("INVALID_PATH");
    }
    const root = (await at(""))!.id;
    expect(errorCode(await t.gql(RenameEntryDocument, { id: root, name: "x" }, token))).toBe("BAD_USER_INPUT");
  });
});

describe("move", () => {
  it("moves a folder with its subtree, optionally renaming it", async () => {
    const src = await folder("mv/src/inner");
    await file("mv/src/inner/f.txt");
    const dest = await folder("mv/dest");
    const res = await t.gql(MoveEntryDocument, { id: src, parentId: dest, name: "renamed" }, token);
    expect(res.data?.moveEntry).toMatchObject({ id: src, name: "renamed", path: "mv/dest/renamed", parent: { id: dest } });
    expect((await at("mv/dest/renamed/f.txt"))?.kind).toBe("FILE");
    expect(await at("mv/src/inner")).toBeNull();
  });

  it("refuses moving a folder into itself or its own subtree", async () => {
    const top = await folder("cycle/top");
    const below = await folder("cycle/top/mid/below");
    expect(errorCode(await t.gql(MoveEntryDocument, { id: top, parentId: top }, token))).toBe("BAD_USER_INPUT");
    expect(errorCode(await t.gql(MoveEntryDocument, { id: top, parentId: below }, token))).toBe("BAD_USER_INPUT");
    expect((await at("cycle/top/mid/below"))?.id).toBe(below);
  });

  it("refuses a taken name (file or folder), a file as target and a folder of another space", async () => {
    const moving = await file("mvx/moving.txt");
    const dest = await folder("mvx/dest");
    await file("mvx/dest/moving.txt");
    expect(errorCode(await t.gql(MoveEntryDocument, { id: moving.id, parentId: dest }, token))).toBe("ALREADY_EXISTS");
    await folder("mvx/dest/sub");
    expect(errorCode(await t.gql(MoveEntryDocument, { id: moving.id, parentId: dest, name: "sub" }, token))).toBe("ALREADY_EXISTS");
    const aFile = await file("mvx/target.txt");
    expect(errorCode(await t.gql(MoveEntryDocument, { id: moving.id, parentId: aFile.id }, token))).toBe("PATH_IS_FILE");

    const other = await t.factories.space((await t.deps.prisma.space.findUniqueOrThrow({ where: { id: spaceId } })).organizationId);
    const otherRoot = await t.deps.prisma.entry.findFirstOrThrow({ where: { spaceId: other.id, parentId: null } });
    expect(errorCode(await t.gql(MoveEntryDocument, { id: moving.id, parentId: otherRoot.id }, token))).toBe("NOT_FOUND");
  });
});

describe("delete", () => {
  it("deletes a subtree at once, gives the quota back, and purges its blobs after commit", async () => {
    const before = (await t.gql(UsageDocument, {}, token)).data!.organization.usedBytes;
    const spaceBefore = (await t.gql(SpaceUsageDocument, { id: spaceId }, token)).data!.space!.usedBytes;
    const id = await folder("del/top");
    const sizes = [1000, 2000, 3000];
    const files = [];
    for (const [i, size] of sizes.entries()) files.push(await file(`del/top/level${i}/deeper/f${i}.bin`, randomBytes(size)));
    const keys = await t.deps.prisma.blob.findMany({ where: { entry: { id: { in: files.map((f) => f.id) } } }, select: { key: true } });
    expect(keys.length).toBe(3);
    expect((await t.gql(UsageDocument, {}, token)).data!.organization.usedBytes).toBe(before + 6000);

    const res = await t.gql(DeleteEntryDocument, { id }, token);
    expect(res.data?.deleteEntry).toEqual({ id, deletedFiles: 3 });
    expect(await at("del/top")).toBeNull();
    expect(await t.deps.prisma.entry.count({ where: { id: { in: files.map((f) => f.id) } } })).toBe(0);
    expect((await t.gql(UsageDocument, {}, token)).data!.organization.usedBytes).toBe(before);
    expect((await t.gql(SpaceUsageDocument, { id: spaceId }, token)).data!.space!.usedBytes).toBe(spaceBefore);
    for (const { key } of keys) await eventually(async () => (await t.deps.blobStore.head(key)) === null);
  });

  it("deletes a single file and refuses the root", async () => {
    const f = await file("single/x.txt");
    expect((await t.gql(DeleteEntryDocument, { id: f.id }, token)).data?.deleteEntry.deletedFiles).toBe(1);
    expect(await at("single/x.txt")).toBeNull();
    expect(errorCode(await t.gql(DeleteEntryDocument, { id: (await at(""))!.id }, token))).toBe("BAD_USER_INPUT");
  });
});

describe("directory rules", () => {
  it("PATH_IS_FILE when a folder would go where a file is (or under it)", async () => {
    await file("rules/report.pdf");
    expect(errorCode(await t.gql(CreateFolderByPathDocument, { spaceId, path: "rules/report.pdf" }, token))).toBe("PATH_IS_FILE");
    expect(errorCode(await t.gql(CreateFolderByPathDocument, { spaceId, path: "rules/report.pdf/sub", createParents: true }, token))).toBe("PATH_IS_FILE");
    const under = await uploadAsset(t.graphqlUrl, { token, spaceId, path: "rules/report.pdf/x.txt", body: "x", createParents: true });
    expect(errorCode(under)).toBe("PATH_IS_FILE");
  });

  it("PATH_IS_DIRECTORY when a file would go where a folder is", async () => {
    await folder("rules2/dir");
    expect(errorCode(await uploadAsset(t.graphqlUrl, { token, spaceId, path: "rules2/dir", body: "x" }))).toBe("PATH_IS_DIRECTORY");
  });
});
