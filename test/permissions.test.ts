// The permission matrix: every space-scoped GraphQL operation, run with
//   - no token                          -> UNAUTHENTICATED
//   - a token lacking just that permission (all others granted) -> FORBIDDEN
//   - a token with every permission on ANOTHER space -> NOT_FOUND (or null)
//   - a token holding only that permission -> success
// Other spaces must always look like ids that do not exist.
import { createClient } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { PERMISSIONS, type Permission } from "../src/access/permissions.ts";
import { buildTestApp, errorCode, type GraphQLResponse, type TestApp } from "./harness.ts";
import { uploadAsset } from "./support/upload.ts";

let t: TestApp;
let w: Awaited<ReturnType<TestApp["factories"]["world"]>>;
let otherSpaceToken: string;

beforeAll(async () => {
  t = await buildTestApp({ workers: false });
  w = await t.factories.world();
  const other = await t.factories.space(w.org.id, "other");
  otherSpaceToken = (await t.factories.member(w.org.id, other.id, [...PERMISSIONS])).token;
});
afterAll(() => t?.close());

type Targets = Record<string, string>;
type Op = {
  name: string;
  permission: Permission;
  /** Creates what the operation acts on (as the admin), fresh for each run. */
  setup?: () => Promise<Targets>;
  run: (token: string | undefined, targets: Targets) => Promise<GraphQLResponse<Record<string, unknown>>>;
  /** For nullable lookups, the "not found" answer is null data instead of an error. */
  nullWhenHidden?: (res: GraphQLResponse<Record<string, unknown>>) => unknown;
};

const gql = (query: string, variables: Record<string, unknown>, token?: string) => t.gql<Record<string, unknown>, Record<string, unknown>>(query, variables, token);
let n = 0;
const unique = (prefix: string) => `${prefix}-${++n}`;
async function adminFolder(path: string) {
  const res = await gql(`mutation($s: ID!, $p: String!) { createFolder(input: { spaceId: $s, path: $p, createParents: true }) { id } }`, { s: w.space.id, p: path }, w.adminToken);
  return (res.data!.createFolder as { id: string }).id;
}
async function adminFile(path: string) {
  const res = await uploadAsset(t.graphqlUrl, { token: w.adminToken, spaceId: w.space.id, path, body: "content", createParents: true });
  return res.data!.uploadAsset.id;
}
async function subscribeOnce(token: string | undefined, spaceId: string): Promise<GraphQLResponse<Record<string, unknown>>> {
  const client = createClient({ url: t.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: token ? { authorization: `Bearer ${token}` } : {} });
  try {
    const iterator = client.iterate({ query: `subscription($s: ID!) { spaceEvents(spaceId: $s) { type } }`, variables: { s: spaceId } });
    // Allowed subscribers get no error: nudge an event so the iterator yields.
    setTimeout(() => void adminFolder(unique("nudge")), 300);
    const first = await iterator.next();
    await iterator.return?.();
    return first.value as GraphQLResponse<Record<string, unknown>>;
  } catch (e) {
    return { errors: (Array.isArray(e) ? e : [e]) as never };
  } finally {
    await client.dispose();
  }
}

const OPS: Op[] = [
  {
    name: "entry(spaceId, path)",
    permission: "assets:read",
    run: (token) => gql(`query($s: ID!) { entry(spaceId: $s, path: "") { id } }`, { s: w.space.id }, token),
  },
  {
    name: "Folder.children",
    permission: "assets:read",
    setup: async () => ({ folder: await adminFolder(unique("list")) }),
    run: (token) => gql(`query($s: ID!) { entry(spaceId: $s, path: "") { ... on Folder { children(first: 5) { edges { node { name } } } } } }`, { s: w.space.id }, token),
  },
  {
    name: "Asset.downloadUrl",
    permission: "assets:read",
    setup: async () => {
      const path = `${unique("dl")}.txt`;
      await adminFile(path);
      return { path };
    },
    run: (token, { path }) => gql(`query($s: ID!, $p: String!) { entry(spaceId: $s, path: $p) { ... on Asset { downloadUrl } } }`, { s: w.space.id, p: path! }, token),
  },
  {
    name: "Space.root",
    permission: "assets:read",
    run: (token) => gql(`query($s: ID!) { space(id: $s) { root { id } } }`, { s: w.space.id }, token),
    nullWhenHidden: (res) => res.data?.space,
  },
  {
    name: "node(id) of an entry",
    permission: "assets:read",
    setup: async () => ({ id: await adminFolder(unique("node")) }),
    run: (token, { id }) => gql(`query($id: ID!) { node(id: $id) { id } }`, { id: id! }, token),
    nullWhenHidden: (res) => res.data?.node,
  },
  {
    name: "spaceEvents",
    permission: "assets:read",
    run: (token) => subscribeOnce(token, w.space.id),
  },
  {
    name: "createFolder",
    permission: "assets:create",
    run: (token) => gql(`mutation($s: ID!, $p: String!) { createFolder(input: { spaceId: $s, path: $p }) { id } }`, { s: w.space.id, p: unique("new") }, token),
  },
  {
    name: "uploadAsset (new file)",
    permission: "assets:create",
    run: (token) => uploadAsset(t.graphqlUrl, { token, spaceId: w.space.id, path: `${unique("up")}.txt`, body: "x" }) as never,
  },
  {
    name: "uploadAsset (overwrite)",
    permission: "assets:update",
    setup: async () => {
      const path = `${unique("ow")}.txt`;
      await adminFile(path);
      return { path };
    },
    // Overwriting needs create (to upload) and update (to replace): the matrix grants create alongside.
    run: (token, { path }) => uploadAsset(t.graphqlUrl, { token, spaceId: w.space.id, path: path!, body: "y" }) as never,
  },
  {
    name: "renameEntry",
    permission: "assets:update",
    setup: async () => ({ id: await adminFolder(unique("ren")) }),
    run: (token, { id }) => gql(`mutation($id: ID!, $n: String!) { renameEntry(input: { id: $id, name: $n }) { id } }`, { id: id!, n: unique("renamed") }, token),
  },
  {
    name: "moveEntry",
    permission: "assets:update",
    setup: async () => ({ id: await adminFolder(unique("mv")), to: await adminFolder(unique("dest")) }),
    run: (token, { id, to }) => gql(`mutation($id: ID!, $to: ID!) { moveEntry(input: { id: $id, parentId: $to }) { id } }`, { id: id!, to: to! }, token),
  },
  {
    name: "deleteEntry",
    permission: "assets:delete",
    setup: async () => ({ id: await adminFolder(unique("del")) }),
    run: (token, { id }) => gql(`mutation($id: ID!) { deleteEntry(input: { id: $id }) { id } }`, { id: id! }, token),
  },
  {
    name: "grantSpaceAccess",
    permission: "space:admin",
    setup: async () => ({ account: (await t.factories.account(w.org.id)).id }),
    run: (token, { account }) =>
      gql(`mutation($s: ID!, $a: ID!) { grantSpaceAccess(input: { spaceId: $s, accountId: $a, permissions: ["assets:read"] }) { permissions } }`, { s: w.space.id, a: account! }, token),
  },
  {
    name: "revokeSpaceAccess",
    permission: "space:admin",
    setup: async () => {
      const a = await t.factories.account(w.org.id);
      await t.factories.grant(a.id, w.space.id, ["assets:read"]);
      return { account: a.id };
    },
    run: (token, { account }) => gql(`mutation($s: ID!, $a: ID!) { revokeSpaceAccess(input: { spaceId: $s, accountId: $a }) }`, { s: w.space.id, a: account! }, token),
  },
];

/** The overwrite case needs assets:create as well; every other operation needs exactly one permission. */
const companions = (op: Op): Permission[] => (op.name === "uploadAsset (overwrite)" ? ["assets:create"] : []);

describe.each(OPS)("$name ($permission)", (op) => {
  const targets = async () => (op.setup ? op.setup() : {});

  it("no token: UNAUTHENTICATED", async () => {
    expect(errorCode(await op.run(undefined, await targets()))).toBe("UNAUTHENTICATED");
  });

  it("every permission but this one: FORBIDDEN", async () => {
    const others = PERMISSIONS.filter((p) => p !== op.permission);
    const { token } = await t.factories.member(w.org.id, w.space.id, others);
    const res = await op.run(token, await targets());
    if (op.nullWhenHidden && !res.errors) expect(op.nullWhenHidden(res)).toBeNull();
    else expect(errorCode(res)).toBe("FORBIDDEN");
  });

  it("full rights on another space only: NOT_FOUND", async () => {
    const res = await op.run(otherSpaceToken, await targets());
    if (op.nullWhenHidden) expect(op.nullWhenHidden(res) ?? null).toBeNull();
    else expect(errorCode(res)).toBe("NOT_FOUND");
    expect(JSON.stringify(res)).not.toContain("FORBIDDEN");
  });

  it("just this permission: allowed", async () => {
    const { token } = await t.factories.member(w.org.id, w.space.id, [op.permission, ...companions(op)]);
    const res = await op.run(token, await targets());
    expect(res.errors).toBeUndefined();
    expect(res.data).toBeTruthy();
  });
});

describe("organization-level operations", () => {
  it("createSpace and createAccount: UNAUTHENTICATED without a token, FORBIDDEN for members, allowed for admins", async () => {
    const member = (await t.factories.member(w.org.id, w.space.id, [...PERMISSIONS])).token;
    for (const query of [`mutation { createSpace(input: { name: "s" }) { id } }`, `mutation { createAccount(input: { name: "a", kind: USER }) { id } }`]) {
      expect(errorCode(await gql(query, {}))).toBe("UNAUTHENTICATED");
      expect(errorCode(await gql(query, {}, member))).toBe("FORBIDDEN");
      expect((await gql(query, {}, w.adminToken)).errors).toBeUndefined();
    }
  });
});
