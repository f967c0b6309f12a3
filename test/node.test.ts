// node(id)/nodes(ids) through the per-module loader registry: every Node type
// of the schema has a loader (checked at startup, and here), and each loader
// shows its type exactly to the viewers its access/ rule allows.
import { isObjectType } from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { schema } from "../src/graphql/schema.ts";
import { ID_PREFIXES } from "../src/ids.ts";
import { nodeLoaderProblems, registeredNodeTypes, registerNodeLoader } from "../src/modules/node/node-registry.ts";
import { buildTestApp, errorCode, type TestApp } from "./harness.ts";
import { uploadAsset } from "./support/upload.ts";

const nodeTypeNames = Object.values(schema.getTypeMap())
  .filter((type) => isObjectType(type) && type.getInterfaces().some((i) => i.name === "Node"))
  .map((type) => type.name)
  .sort();

describe("the registry is complete", () => {
  it("has a loader for every Node type of the schema", () => {
    expect(nodeTypeNames).toEqual(["Account", "ApiToken", "Asset", "Conversation", "Folder", "Message", "Organization", "Room", "Space", "Webhook"]);
    expect(nodeLoaderProblems(schema)).toEqual([]);
    const loaded = [...registeredNodeTypes().values()].flat().sort();
    expect(loaded).toEqual(nodeTypeNames);
    for (const kind of registeredNodeTypes().keys()) expect(ID_PREFIXES).toHaveProperty(kind);
  });

  it("names a Node type whose registration is missing", () => {
    const withoutSpace = new Map(registeredNodeTypes());
    withoutSpace.delete("Space");
    expect(nodeLoaderProblems(schema, withoutSpace)).toEqual(['Space implements Node, but no registerNodeLoader("Space", …) returns it']);

    // A loader that forgets one of its kind's types (a new Entry variant, say) is caught too.
    const folderOnly = new Map(registeredNodeTypes());
    folderOnly.set("Entry", ["Folder"]);
    expect(nodeLoaderProblems(schema, folderOnly)).toEqual(['Asset implements Node, but no registerNodeLoader("Entry", …) returns it']);
  });

  it("names a registration of a type that is not a Node", () => {
    const stray = new Map(registeredNodeTypes());
    stray.set("SpaceGrant", ["SpaceGrant"]);
    expect(nodeLoaderProblems(schema, stray)).toEqual(["the SpaceGrant loader returns SpaceGrant, which is not a Node type of the schema"]);
  });

  it("refuses a second loader for the same id kind", () => {
    expect(() => registerNodeLoader("Space", [], async () => null)).toThrow(/registered twice/);
  });
});

describe("each loader's visibility", () => {
  let t: TestApp;
  let w: Awaited<ReturnType<TestApp["factories"]["world"]>>;
  let other: Awaited<ReturnType<TestApp["factories"]["world"]>>;
  let ids: Record<string, string>;
  let member: { account: { id: string }; token: string };
  let peer: { account: { id: string }; token: string };

  beforeAll(async () => {
    t = await buildTestApp({ workers: false, env: { IMPORT_ALLOW_HOSTS: "127.0.0.1" } });
    w = await t.factories.world();
    other = await t.factories.world();
    // A member of the space with just assets:read (and conversations:read, as a room's participant),
    // and a second plain account of the organization.
    member = await t.factories.member(w.org.id, w.space.id, ["assets:read", "conversations:read"]);
    peer = await t.factories.member(w.org.id, (await t.factories.space(w.org.id)).id, ["assets:read"]);
    const folder = await t.gql<{ createFolder: { id: string } }, unknown>(
      `mutation($s: ID!) { createFolder(input: { spaceId: $s, path: "docs" }) { id } }`,
      { s: w.space.id },
      w.adminToken,
    );
    const file = await uploadAsset(t.graphqlUrl, { token: w.adminToken, spaceId: w.space.id, path: "docs/a.txt", body: "a" });
    const admin = <T>(query: string, variables: Record<string, unknown>) => t.gql<T, unknown>(query, variables, w.adminToken).then((r) => r.data!);
    const room = await admin<{ createRoom: { id: string } }>(
      `mutation($s: ID!, $a: ID!) { createRoom(input: { spaceId: $s, participants: [{ accountId: $a }] }) { id } }`,
      { s: w.space.id, a: member.account.id },
    );
    const conversation = await admin<{ createConversation: { id: string } }>(`mutation($r: ID!) { createConversation(input: { roomId: $r }) { id } }`, {
      r: room.createRoom.id,
    });
    const message = await admin<{ postMessage: { id: string } }>(`mutation($c: ID!) { postMessage(input: { conversationId: $c, text: "hi" }) { id } }`, {
      c: conversation.createConversation.id,
    });
    const webhook = await t.gql<{ createWebhook: { webhook: { id: string } } }, unknown>(
      `mutation($s: ID!) { createWebhook(input: { spaceId: $s, url: "http://127.0.0.1:9/hook", events: ["*"] }) { webhook { id } } }`,
      { s: w.space.id },
      w.adminToken,
    );
    ids = {
      Room: room.createRoom.id,
      Conversation: conversation.createConversation.id,
      Message: message.postMessage.id,
      Organization: w.org.id,
      Space: w.space.id,
      Folder: folder.data!.createFolder.id,
      Asset: file.data!.uploadAsset.id,
      Account: member.account.id,
      ApiToken: (await t.factories.token(member.account.id)).id,
      Webhook: webhook.data!.createWebhook.webhook.id,
    };
  });
  afterAll(() => t?.close());

  const typeOf = async (id: string, token: string) => {
    const res = await t.gql<{ node: { __typename: string; id: string } | null }, unknown>(`query($id: ID!) { node(id: $id) { __typename id } }`, { id }, token);
    expect(res.errors).toBeUndefined();
    return res.data!.node ? `${res.data!.node.__typename}:${res.data!.node.id}` : null;
  };

  it("has a fixture for every Node type (a new type must be added here)", () => {
    expect(Object.keys(ids).sort()).toEqual(nodeTypeNames);
  });

  it("shows every type to the organization admin, branded with its type", async () => {
    for (const [type, id] of Object.entries(ids)) expect(await typeOf(id, w.adminToken)).toBe(`${type}:${id}`);
  });

  it("shows nothing to another organization's admin", async () => {
    for (const id of Object.values(ids)) expect(await typeOf(id, other.adminToken)).toBeNull();
  });

  it("shows a member its space, its entries, its organization, itself and its tokens; webhooks only to space admins", async () => {
    for (const [type, id] of Object.entries(ids)) {
      if (type !== "Webhook") expect(await typeOf(id, member.token)).toBe(`${type}:${id}`);
    }
    expect(await typeOf(ids.Webhook!, member.token)).toBeNull();
    const spaceAdmin = await t.factories.member(w.org.id, w.space.id, ["space:admin"]);
    expect(await typeOf(ids.Webhook!, spaceAdmin.token)).toBe(`Webhook:${ids.Webhook}`);
  });

  it("hides another account, its tokens and a space without a grant from a non-admin", async () => {
    for (const id of [ids.Account!, ids.ApiToken!, ids.Space!, ids.Folder!, ids.Asset!, ids.Room!, ids.Conversation!, ids.Message!, ids.Webhook!]) {
      expect(await typeOf(id, peer.token)).toBeNull();
    }
    expect(await typeOf(ids.Organization!, peer.token)).toBe(`Organization:${ids.Organization}`);
  });

  it("answers null for unknown prefixes and ids that do not exist", async () => {
    for (const id of ["nope", "xyz_123", `${ID_PREFIXES.Space}_doesnotexist`, `${ID_PREFIXES.SpaceGrant}_x`, `${ID_PREFIXES.Organization}_x`]) {
      expect(await typeOf(id, w.adminToken)).toBeNull();
    }
  });

  it("nodes(ids) keeps order and puts null where an id is hidden", async () => {
    const res = await t.gql<{ nodes: ({ __typename: string } | null)[] }, unknown>(
      `query($ids: [ID!]!) { nodes(ids: $ids) { __typename } }`,
      { ids: [ids.Asset, ids.Account, "nope", ids.Space] },
      peer.token,
    );
    expect(res.data?.nodes).toEqual([null, null, null, null]);
    const mine = await t.gql<{ nodes: ({ __typename: string } | null)[] }, unknown>(
      `query($ids: [ID!]!) { nodes(ids: $ids) { __typename } }`,
      { ids: [ids.Asset, "nope", ids.Folder] },
      member.token,
    );
    expect(mine.data?.nodes).toEqual([{ __typename: "Asset" }, null, { __typename: "Folder" }]);
  });

  it("is UNAUTHENTICATED without a token, whatever the id", async () => {
    for (const id of [ids.Space!, "nope"]) expect(errorCode(await t.gql(`query($id: ID!) { node(id: $id) { id } }`, { id }))).toBe("UNAUTHENTICATED");
  });
});
