// Paths: normalized (NFC), validated (INVALID_PATH), resolved in one SQL
// statement, and any name a person types round-trips exactly: in paths,
// listings and download file names.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AssetAtPathDocument, CreateFolderByPathDocument, EntryPathDocument, FolderChildrenDocument } from "./generated/graphql.ts";
import { buildTestApp, errorCode, type TestApp } from "./harness.ts";
import { uploadAsset } from "./support/upload.ts";

let t: TestApp;
let token: string;
let spaceId: string;
const sql: string[] = [];

beforeAll(async () => {
  t = await buildTestApp({ sqlLog: sql });
  const w = await t.factories.world();
  token = w.adminToken;
  spaceId = w.space.id;
});
afterAll(() => t?.close());

const NAMES = ["Grüße ÄÖÜ ß.txt", "报告 2024 年.pdf", "emoji 😀🎉 file.png", "  spaced  name .md", "a:b+c#d%e?f.csv", "100% & more; (x) [y] {z}.txt"];

describe("normalization and validation", () => {
  it.each([
    ["empty segment", "a//b"],
    ["dot", "a/./b"],
    ["dot-dot", "a/../b"],
    ["NUL", "a/b\u0000c"],
    ["control character", "a/b\u001fc"],
    ["DEL", "a/\u007f"],
    ["segment over 255 bytes", `a/${"é".repeat(128)}`],
    ["path over 4096 bytes", Array.from({ length: 20 }, () => "x".repeat(250)).join("/")],
  ])("refuses %s with INVALID_PATH", async (_what, path) => {
    expect(errorCode(await t.gql(CreateFolderByPathDocument, { spaceId, path, createParents: true }, token))).toBe("INVALID_PATH");
    expect(errorCode(await uploadAsset(t.graphqlUrl, { token, spaceId, path: `${path}/f.txt`, body: "x", createParents: true }))).toBe("INVALID_PATH");
    expect(errorCode(await t.gql(EntryPathDocument, { spaceId, path }, token))).toBe("INVALID_PATH");
  });

  it("accepts a 255-byte name and a leading or trailing slash", async () => {
    const long = `${"é".repeat(127)}x`; // 255 bytes
    const res = await t.gql(CreateFolderByPathDocument, { spaceId, path: `/limits/${long}/`, createParents: true }, token);
    expect(res.data?.createFolder.path).toBe(`limits/${long}`);
  });

  it("treats NFC and NFD spellings as the same name", async () => {
    const nfd = "cafe\u0301"; // e + combining acute
    const created = await t.gql(CreateFolderByPathDocument, { spaceId, path: `nf/${nfd}`, createParents: true }, token);
    expect(created.data?.createFolder.name).toBe("café".normalize("NFC"));
    const found = await t.gql(EntryPathDocument, { spaceId, path: "nf/café".normalize("NFC") }, token);
    expect(found.data?.entry?.id).toBe(created.data?.createFolder.id);
    expect(errorCode(await t.gql(CreateFolderByPathDocument, { spaceId, path: "nf/café".normalize("NFC") }, token))).toBe("ALREADY_EXISTS");
  });
});

describe("resolution", () => {
  it("resolves a deep path in one SQL statement", async () => {
    const deep = Array.from({ length: 30 }, (_, i) => `level ${i}`).join("/");
    await t.gql(CreateFolderByPathDocument, { spaceId, path: deep, createParents: true }, token);
    sql.length = 0;
    const res = await t.gql(EntryPathDocument, { spaceId, path: deep }, token);
    expect(res.data?.entry?.path).toBe(deep);
    expect(sql.filter((s) => s.includes("WITH RECURSIVE walk"))).toHaveLength(1);
  });

  it("answers null for a missing path", async () => {
    expect((await t.gql(EntryPathDocument, { spaceId, path: "no/such/thing" }, token)).data?.entry).toBeNull();
  });
});

describe("names round-trip exactly", () => {
  it.each(NAMES)("%s: in the path, the listing and the download file name", async (name) => {
    const path = `names/${name}`;
    const up = await uploadAsset(t.graphqlUrl, { token, spaceId, path, body: `content of ${name}`, createParents: true });
    expect(up.errors).toBeUndefined();
    expect(up.data!.uploadAsset).toMatchObject({ name, path });

    const listing = await t.gql(FolderChildrenDocument, { spaceId, path: "names", first: 50 }, token);
    const entry = listing.data!.entry!;
    if (entry.__typename !== "Folder") throw new Error("expected a Folder");
    expect(entry.children.edges.map((e) => e.node.name)).toContain(name);

    const asset = (await t.gql(AssetAtPathDocument, { spaceId, path }, token)).data!.entry!;
    if (asset.__typename !== "Asset") throw new Error("expected an Asset");
    const res = await fetch(asset.downloadUrl);
    expect(await res.text()).toBe(`content of ${name}`);
    const disposition = res.headers.get("content-disposition")!;
    const encoded = /filename\*=UTF-8''([^;]+)/.exec(disposition)![1]!;
    expect(decodeURIComponent(encoded)).toBe(name);
    // The ASCII fallback must stay a valid quoted-string.
    expect(/filename="([^"\\]*)"/.test(disposition)).toBe(true);
  });
});
