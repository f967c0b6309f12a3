// Authentication and space isolation. Other spaces' ids must look exactly like
// ids that do not exist (NOT_FOUND / null), never FORBIDDEN.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AssetAtPathDocument,
  CreateFolderSimpleDocument,
  CreateSpaceDocument,
  NodeDocument,
  SpaceDocument,
  SpacesDocument,
  ViewerDocument,
} from "./generated/graphql.ts";
import { buildTestApp, errorCode, type TestApp } from "./harness.ts";
import { uploadAsset } from "./support/upload.ts";

let t: TestApp;
let w: Awaited<ReturnType<TestApp["factories"]["world"]>>;
let spaceB: { id: string };
let fileInB: string;
let folderInB: string;

beforeAll(async () => {
  t = await buildTestApp();
  w = await t.factories.world();
  spaceB = await t.factories.space(w.org.id, "B");
  const up = await uploadAsset(t.graphqlUrl, { token: w.adminToken, spaceId: spaceB.id, path: "secret/plan.txt", body: "secret", createParents: true });
  fileInB = up.data!.uploadAsset.id;
  folderInB = (await t.deps.prisma.entry.findFirstOrThrow({ where: { spaceId: spaceB.id, name: "secret" } })).id;
});
afterAll(() => t?.close());

async function rawPost(body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(t.graphqlUrl, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
  return (await res.json()) as { errors?: { extensions?: { code?: string } }[] };
}

describe("authentication", () => {
  it("answers UNAUTHENTICATED without a token, for queries and mutations", async () => {
    expect(errorCode(await t.gql(ViewerDocument, {}))).toBe("UNAUTHENTICATED");
    expect(errorCode(await t.gql(SpaceDocument, { id: w.space.id }))).toBe("UNAUTHENTICATED");
    expect(errorCode(await t.gql(CreateSpaceDocument, { name: "x" }))).toBe("UNAUTHENTICATED");
    const up = await uploadAsset(t.graphqlUrl, { spaceId: w.space.id, path: "x.txt", body: "x" });
    expect(errorCode(up)).toBe("UNAUTHENTICATED");
  });

  it("refuses malformed, unknown, expired and revoked tokens", async () => {
    const query = { query: "{ viewer { accountId } }" };
    expect(errorCode((await rawPost(query, { authorization: "Basic abc" })) as never)).toBe("UNAUTHENTICATED");
    expect(errorCode((await rawPost(query, { authorization: "Bearer cab_doesnotexist" })) as never)).toBe("UNAUTHENTICATED");

    const expired = await t.factories.token(w.admin.id, { expiresAt: new Date(Date.now() - 1000) });
    expect(errorCode(await t.gql(ViewerDocument, {}, expired.secret))).toBe("UNAUTHENTICATED");

    const revoked = await t.factories.token(w.admin.id);
    expect((await t.gql(ViewerDocument, {}, revoked.secret)).data?.viewer.accountId).toBe(w.admin.id);
    await t.deps.prisma.apiToken.update({ where: { id: revoked.id }, data: { revokedAt: new Date() } });
    expect(errorCode(await t.gql(ViewerDocument, {}, revoked.secret))).toBe("UNAUTHENTICATED");
  });

  it("stores only a hash of the token", async () => {
    const { secret, id } = await t.factories.token(w.admin.id);
    const row = await t.deps.prisma.apiToken.findUniqueOrThrow({ where: { id } });
    expect(row.tokenHash).not.toContain(secret);
    expect(row.tokenHash).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("space isolation", () => {
  let onlyA: string;
  beforeAll(async () => {
    onlyA = (await t.factories.member(w.org.id, w.space.id, ["assets:read", "assets:create", "assets:update", "assets:delete"])).token;
  });

  it("a token granted on space A cannot tell that space B exists", async () => {
    expect((await t.gql(SpaceDocument, { id: spaceB.id }, onlyA)).data?.space).toBeNull();
    expect((await t.gql(SpaceDocument, { id: "spc_00000000000000000000000000" }, onlyA)).data?.space).toBeNull();
    expect((await t.gql(SpacesDocument, {}, onlyA)).data?.spaces.edges.map((e) => e.node.id)).toEqual([w.space.id]);

    const readB = await t.gql(AssetAtPathDocument, { spaceId: spaceB.id, path: "secret/plan.txt" }, onlyA);
    const readMissing = await t.gql(AssetAtPathDocument, { spaceId: "spc_00000000000000000000000000", path: "secret/plan.txt" }, onlyA);
    expect(errorCode(readB)).toBe("NOT_FOUND");
    expect(readB.errors![0]!.message).toBe(readMissing.errors![0]!.message);

    expect(errorCode(await t.gql(CreateFolderSimpleDocument, { spaceId: spaceB.id, path: "x" }, onlyA))).toBe("NOT_FOUND");
    expect(errorCode(await uploadAsset(t.graphqlUrl, { token: onlyA, spaceId: spaceB.id, path: "x.txt", body: "x" }))).toBe("NOT_FOUND");
    for (const id of [fileInB, folderInB, spaceB.id]) {
      expect((await t.gql(NodeDocument, { id }, onlyA)).data?.node).toBeNull();
    }
  });

  it("an admin of another organization sees none of this organization's spaces", async () => {
    const other = await t.factories.world();
    expect((await t.gql(SpaceDocument, { id: w.space.id }, other.adminToken)).data?.space).toBeNull();
    expect(errorCode(await t.gql(AssetAtPathDocument, { spaceId: spaceB.id, path: "" }, other.adminToken))).toBe("NOT_FOUND");
    expect((await t.gql(NodeDocument, { id: fileInB }, other.adminToken)).data?.node).toBeNull();
  });

  it("node(id) resolves visible ids to their concrete types", async () => {
    const res = await t.gql(NodeDocument, { id: fileInB }, w.adminToken);
    expect(res.data?.node).toEqual({ __typename: "Asset", id: fileInB });
    expect((await t.gql(NodeDocument, { id: folderInB }, w.adminToken)).data?.node?.__typename).toBe("Folder");
    expect((await t.gql(NodeDocument, { id: spaceB.id }, w.adminToken)).data?.node?.__typename).toBe("Space");
  });
});

describe("permissions within a visible space", () => {
  it("FORBIDDEN names the missing permission; reads still work", async () => {
    const reader = (await t.factories.member(w.org.id, w.space.id, ["assets:read"])).token;
    expect((await t.gql(AssetAtPathDocument, { spaceId: w.space.id, path: "" }, reader)).data?.entry?.__typename).toBe("Folder");
    const create = await t.gql(CreateFolderSimpleDocument, { spaceId: w.space.id, path: "nope" }, reader);
    expect(errorCode(create)).toBe("FORBIDDEN");
    expect(create.errors![0]!.extensions!.details).toEqual({ permission: "assets:create" });
    expect(errorCode(await uploadAsset(t.graphqlUrl, { token: reader, spaceId: w.space.id, path: "x.txt", body: "x" }))).toBe("FORBIDDEN");
  });

  it("overwriting needs assets:update on top of assets:create", async () => {
    const creator = (await t.factories.member(w.org.id, w.space.id, ["assets:create"])).token;
    const first = await uploadAsset(t.graphqlUrl, { token: creator, spaceId: w.space.id, path: "mine.txt", body: "v1" });
    expect(first.errors).toBeUndefined();
    const again = await uploadAsset(t.graphqlUrl, { token: creator, spaceId: w.space.id, path: "mine.txt", body: "v2" });
    expect(errorCode(again)).toBe("FORBIDDEN");
  });

  it("only organization admins create spaces", async () => {
    const member = (await t.factories.member(w.org.id, w.space.id, ["assets:read", "space:admin"])).token;
    expect(errorCode(await t.gql(CreateSpaceDocument, { name: "mine" }, member))).toBe("FORBIDDEN");
  });
});
