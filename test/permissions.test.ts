// The permission matrix: every space-scoped GraphQL operation, run with
//   - no token                          -> UNAUTHENTICATED
//   - a token lacking just that permission (all others granted) -> FORBIDDEN
//   - a token with every permission on ANOTHER space -> NOT_FOUND (or null)
//   - a token holding only that permission -> success
// Other spaces must always look like ids that do not exist.
// Below the matrix: seeing a space (any grant), and organization-level operations
// (their own matrix: no token, a member holding every space permission, an admin
// of another organization, an organization admin).
// Not space-scoped, so covered elsewhere: viewer, account and organization (the
// caller's own); createApiToken, revokeApiToken, Account.tokens and node(id) of
// accounts and tokens (accounts.test.ts, node.test.ts).
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { createClient } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { PERMISSIONS, type Permission } from "../src/access/permissions.ts";
import { buildTestApp, errorCode, type GraphQLResponse, type TestApp } from "./harness.ts";
import { uploadAsset } from "./support/upload.ts";

let t: TestApp;
let w: Awaited<ReturnType<TestApp["factories"]["world"]>>;
let otherSpaceToken: string;
// importAssetFromUrl's source: a local server the importer is allowed to reach (IMPORT_ALLOW_HOSTS).
let source: http.Server;
let sourceUrl: string;

beforeAll(async () => {
  source = http.createServer((_req, res) => res.writeHead(200, { "content-type": "text/plain" }).end("imported"));
  await new Promise<void>((r) => source.listen(0, "127.0.0.1", r));
  sourceUrl = `http://127.0.0.1:${(source.address() as AddressInfo).port}/file.txt`;
  t = await buildTestApp({ workers: false, env: { IMPORT_ALLOW_HOSTS: "127.0.0.1" } });
  w = await t.factories.world();
  const other = await t.factories.space(w.org.id, "other");
  otherSpaceToken = (await t.factories.member(w.org.id, other.id, [...PERMISSIONS])).token;
});
afterAll(async () => {
  await t?.close();
  await new Promise((r) => source?.close(r));
});

type Targets = Record<string, string>;
type Op = {
  name: string;
  permission: Permission;
  /** Further permissions the operation needs besides `permission`; granted alongside it in the allowed case. */
  companions?: Permission[];
  /** Creates what the operation acts on (as the admin), fresh for each run. */
  setup?: () => Promise<Targets>;
  run: (token: string | undefined, targets: Targets) => Promise<GraphQLResponse<Record<string, unknown>>>;
  /** For nullable lookups, the "not found" answer is null data instead of an error. */
  nullWhenHidden?: (res: GraphQLResponse<Record<string, unknown>>) => unknown;
};

const gql = (query: string, variables: Record<string, unknown>, token?: string) =>
  t.gql<Record<string, unknown>, Record<string, unknown>>(query, variables, token);
let n = 0;
const unique = (prefix: string) => `${prefix}-${++n}`;
async function adminFolder(path: string) {
  const res = await gql(
    `mutation($s: ID!, $p: String!) { createFolder(input: { spaceId: $s, path: $p, createParents: true }) { id } }`,
    { s: w.space.id, p: path },
    w.adminToken,
  );
  return (res.data!.createFolder as { id: string }).id;
}
async function adminFile(path: string) {
  const res = await uploadAsset(t.graphqlUrl, { token: w.adminToken, spaceId: w.space.id, path, body: "content", createParents: true });
  return res.data!.uploadAsset.id;
}
/** A webhook of the space, created by the admin (its target: the import source, allowed here). */
async function adminWebhook() {
  const res = await gql(
    `mutation($s: ID!, $u: String!) { createWebhook(input: { spaceId: $s, url: $u, events: ["*"] }) { webhook { id } } }`,
    { s: w.space.id, u: sourceUrl },
    w.adminToken,
  );
  return (res.data!.createWebhook as { webhook: { id: string } }).webhook.id;
}
/** Starts a two-stage upload as the admin; returns the pending asset's id. */
async function adminPendingUpload(path: string, body: string) {
  const res = await gql(
    `mutation($s: ID!, $p: String!, $n: SafeInt!) { createAssetUpload(input: { spaceId: $s, path: $p, mimeType: "text/plain", size: $n, createParents: true }) { asset { id } } }`,
    { s: w.space.id, p: path, n: Buffer.byteLength(body) },
    w.adminToken,
  );
  return (res.data!.createAssetUpload as { asset: { id: string } }).asset.id;
}
/** The bytes of a pending upload arrive in the store, as a client's PUT to S3 leaves them (nothing completes it). */
async function bytesArrive(assetId: string, body: string) {
  const blob = await t.deps.prisma.blob.findFirstOrThrow({ where: { uploadEntryId: assetId, status: "PENDING" } });
  await t.deps.blobStore.put(blob.key, Readable.from([Buffer.from(body)]), { contentType: "text/plain", size: Buffer.byteLength(body) });
}
const createUpload = (token: string | undefined, path: string) =>
  gql(
    `mutation($s: ID!, $p: String!) { createAssetUpload(input: { spaceId: $s, path: $p, mimeType: "text/plain", size: 5 }) { asset { id } uploadRequest { url } } }`,
    { s: w.space.id, p: path },
    token,
  );
const importFromUrl = (token: string | undefined, path: string) =>
  gql(
    `mutation($s: ID!, $p: String!, $u: String!) { importAssetFromUrl(input: { spaceId: $s, path: $p, url: $u }) { id size } }`,
    { s: w.space.id, p: path, u: sourceUrl },
    token,
  );

async function subscribeOnce(token: string | undefined, spaceId: string): Promise<GraphQLResponse<Record<string, unknown>>> {
  const client = createClient({
    url: t.wsUrl,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
  });
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
    run: (token) =>
      gql(`query($s: ID!) { entry(spaceId: $s, path: "") { ... on Folder { children(first: 5) { edges { node { name } } } } } }`, { s: w.space.id }, token),
  },
  {
    name: "Asset.downloadUrl",
    permission: "assets:read",
    setup: async () => {
      const path = `${unique("dl")}.txt`;
      await adminFile(path);
      return { path };
    },
    run: (token, { path }) =>
      gql(`query($s: ID!, $p: String!) { entry(spaceId: $s, path: $p) { ... on Asset { downloadUrl } } }`, { s: w.space.id, p: path! }, token),
  },
  {
    name: "search(spaceId, query)",
    permission: "assets:read",
    run: (token) => gql(`query($s: ID!) { search(spaceId: $s, query: "anything") { edges { rank } } }`, { s: w.space.id }, token),
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
    name: "nodes(ids) of an entry",
    permission: "assets:read",
    setup: async () => ({ id: await adminFolder(unique("nodes")) }),
    run: (token, { id }) => gql(`query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, { ids: [id!] }, token),
    nullWhenHidden: (res) => (res.data?.nodes as unknown[] | undefined)?.[0],
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
    companions: ["assets:create"],
    setup: async () => {
      const path = `${unique("ow")}.txt`;
      await adminFile(path);
      return { path };
    },
    // Overwriting needs create (to upload) and update (to replace): the matrix grants create alongside.
    run: (token, { path }) => uploadAsset(t.graphqlUrl, { token, spaceId: w.space.id, path: path!, body: "y" }) as never,
  },
  {
    name: "createAssetUpload (new file)",
    permission: "assets:create",
    run: (token) => createUpload(token, `${unique("two-stage")}.txt`),
  },
  {
    name: "createAssetUpload (overwrite)",
    permission: "assets:update",
    companions: ["assets:create"],
    setup: async () => {
      const path = `${unique("two-stage-ow")}.txt`;
      await adminFile(path);
      return { path };
    },
    run: (token, { path }) => createUpload(token, path!),
  },
  {
    name: "renewAssetUpload",
    permission: "assets:create",
    setup: async () => ({ id: await adminPendingUpload(`${unique("renew")}.txt`, "hello") }),
    run: (token, { id }) => gql(`mutation($id: ID!) { renewAssetUpload(id: $id) { uploadRequest { url } } }`, { id: id! }, token),
  },
  {
    name: "completeAssetUpload",
    permission: "assets:create",
    setup: async () => {
      const id = await adminPendingUpload(`${unique("complete")}.txt`, "hello");
      await bytesArrive(id, "hello");
      return { id };
    },
    run: (token, { id }) => gql(`mutation($id: ID!) { completeAssetUpload(id: $id) { id status } }`, { id: id! }, token),
  },
  {
    name: "importAssetFromUrl (new file)",
    permission: "assets:create",
    run: (token) => importFromUrl(token, `${unique("import")}.txt`),
  },
  {
    name: "importAssetFromUrl (overwrite)",
    permission: "assets:update",
    companions: ["assets:create"],
    setup: async () => {
      const path = `${unique("import-ow")}.txt`;
      await adminFile(path);
      return { path };
    },
    run: (token, { path }) => importFromUrl(token, path!),
  },
  {
    name: "renameEntry",
    permission: "assets:update",
    setup: async () => ({ id: await adminFolder(unique("ren")) }),
    run: (token, { id }) =>
      gql(`mutation($id: ID!, $n: String!) { renameEntry(input: { id: $id, name: $n }) { id } }`, { id: id!, n: unique("renamed") }, token),
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
    name: "updateAssetMetadata",
    permission: "assets:update",
    setup: async () => ({ id: await adminFile(`${unique("meta")}.txt`) }),
    run: (token, { id }) => gql(`mutation($id: ID!) { updateAssetMetadata(input: { id: $id, meta: { tag: "x" } }) { id metadata } }`, { id: id! }, token),
  },
  {
    name: "reprocessAsset",
    permission: "assets:update",
    setup: async () => ({ id: await adminFile(`${unique("again")}.txt`) }),
    run: (token, { id }) => gql(`mutation($id: ID!) { reprocessAsset(id: $id) { id processing { status } } }`, { id: id! }, token),
  },
  {
    name: "Asset processing fields (node)",
    permission: "assets:read",
    setup: async () => ({ id: await adminFile(`${unique("proc")}.txt`) }),
    run: (token, { id }) =>
      gql(
        `query($id: ID!) { node(id: $id) { ... on Asset { processing { status steps { name } } contentMetadata { __typename } text(first: 5) { text } thumbnail { url } placeholder transcript { text } } } }`,
        { id: id! },
        token,
      ),
    nullWhenHidden: (res) => res.data?.node,
  },
  {
    name: "Space.grants",
    permission: "space:admin",
    run: (token) => gql(`query($s: ID!) { space(id: $s) { grants(first: 5) { edges { node { accountId permissions } } } } }`, { s: w.space.id }, token),
    nullWhenHidden: (res) => res.data?.space,
  },
  {
    name: "renameSpace",
    permission: "space:admin",
    run: (token) =>
      gql(`mutation($s: ID!, $n: String!) { renameSpace(input: { id: $s, name: $n }) { id name } }`, { s: w.space.id, n: unique("space") }, token),
  },
  {
    name: "grantSpaceAccess",
    permission: "space:admin",
    setup: async () => ({ account: (await t.factories.account(w.org.id)).id }),
    run: (token, { account }) =>
      gql(
        `mutation($s: ID!, $a: ID!) { grantSpaceAccess(input: { spaceId: $s, accountId: $a, permissions: ["assets:read"] }) { permissions } }`,
        { s: w.space.id, a: account! },
        token,
      ),
  },
  {
    name: "revokeSpaceAccess",
    permission: "space:admin",
    setup: async () => {
      const a = await t.factories.account(w.org.id);
      await t.factories.grant(a.id, w.space.id, ["assets:read"]);
      return { account: a.id };
    },
    run: (token, { account }) =>
      gql(`mutation($s: ID!, $a: ID!) { revokeSpaceAccess(input: { spaceId: $s, accountId: $a }) }`, { s: w.space.id, a: account! }, token),
  },
  {
    name: "createWebhook",
    permission: "space:admin",
    run: (token) =>
      gql(
        `mutation($s: ID!, $u: String!) { createWebhook(input: { spaceId: $s, url: $u, events: ["entry.created"] }) { secret webhook { id } } }`,
        { s: w.space.id, u: sourceUrl },
        token,
      ),
  },
  {
    name: "webhooks(spaceId)",
    permission: "space:admin",
    run: (token) => gql(`query($s: ID!) { webhooks(spaceId: $s) { id url events } }`, { s: w.space.id }, token),
  },
  {
    name: "deleteWebhook",
    permission: "space:admin",
    setup: async () => ({ id: await adminWebhook() }),
    run: (token, { id }) => gql(`mutation($id: ID!) { deleteWebhook(id: $id) { id } }`, { id: id! }, token),
  },
  {
    name: "webhookDeliveries",
    permission: "space:admin",
    setup: async () => ({ id: await adminWebhook() }),
    run: (token, { id }) => gql(`query($h: ID!) { webhookDeliveries(webhookId: $h, first: 5) { edges { node { id status } } } }`, { h: id! }, token),
  },
  {
    name: "node(id) of a webhook",
    permission: "space:admin",
    setup: async () => ({ id: await adminWebhook() }),
    run: (token, { id }) => gql(`query($id: ID!) { node(id: $id) { id ... on Webhook { url } } }`, { id: id! }, token),
    nullWhenHidden: (res) => res.data?.node,
  },
];

/** Overwrites need assets:create as well; every other operation needs exactly one permission. */
const companions = (op: Op): Permission[] => op.companions ?? [];

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

// Seeing a space itself needs no particular permission: any grant on it will do
// (organization admins see them all). Its tree still needs assets:read (Space.root above).
describe("space visibility: space(id), spaces, node(id) of a space", () => {
  const spaceById = (token?: string) => gql(`query($s: ID!) { space(id: $s) { id name usedBytes } }`, { s: w.space.id }, token);
  const spaceNode = (token?: string) => gql(`query($s: ID!) { node(id: $s) { id } }`, { s: w.space.id }, token);
  const listed = async (token?: string) => {
    const res = await gql(`{ spaces(first: 100) { edges { node { id } } } }`, {}, token);
    return { res, ids: ((res.data?.spaces as { edges: { node: { id: string } }[] } | undefined)?.edges ?? []).map((e) => e.node.id) };
  };

  it("no token: UNAUTHENTICATED", async () => {
    expect(errorCode(await spaceById())).toBe("UNAUTHENTICATED");
    expect(errorCode(await spaceNode())).toBe("UNAUTHENTICATED");
    expect(errorCode((await listed()).res)).toBe("UNAUTHENTICATED");
  });

  it("full rights on another space only: null, and not listed", async () => {
    expect((await spaceById(otherSpaceToken)).data?.space).toBeNull();
    expect((await spaceNode(otherSpaceToken)).data?.node).toBeNull();
    expect((await listed(otherSpaceToken)).ids).not.toContain(w.space.id);
  });

  it.each(PERMISSIONS)("a grant of just %s: visible and listed", async (permission) => {
    const { token } = await t.factories.member(w.org.id, w.space.id, [permission]);
    expect((await spaceById(token)).data?.space).toMatchObject({ id: w.space.id });
    expect((await spaceNode(token)).data?.node).toEqual({ id: w.space.id });
    expect((await listed(token)).ids).toEqual([w.space.id]);
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

// Organization administration: organization admins only. A member holding every
// permission on the space concerned (space:admin included) is FORBIDDEN; an
// admin of another organization gets NOT_FOUND (or, for lists and nullable
// lookups, does not see this organization's rows).
type OrgOp = {
  name: string;
  /** Creates what the operation acts on, fresh for each run; `spaceId` is where the member gets its grants. */
  setup?: () => Promise<Targets>;
  run: (token: string | undefined, targets: Targets) => Promise<GraphQLResponse<Record<string, unknown>>>;
  /** For lists and nullable lookups: true when the response shows nothing of this organization. */
  hiddenFromOtherOrg?: (res: GraphQLResponse<Record<string, unknown>>) => boolean;
};

const orgNode = (token: string | undefined, selection: string) =>
  gql(`query($o: ID!) { node(id: $o) { ... on Organization { ${selection} } } }`, { o: w.org.id }, token);
const idsOf = (connection: unknown) => ((connection as { edges?: { node: { id: string } }[] } | undefined)?.edges ?? []).map((e) => e.node.id);
const freshAccount = async () => ({ account: (await t.factories.account(w.org.id)).id });

const ORG_OPS: OrgOp[] = [
  {
    // Another organization's admin sees its own organization's counts (all zero: it has no files), never these.
    name: "processingQueue",
    run: (token) => gql(`{ processingQueue { kind queued running failed done skipped } }`, {}, token),
    hiddenFromOtherOrg: (res) =>
      !res.errors &&
      ((res.data?.processingQueue ?? []) as Record<string, unknown>[]).every((k) => k.queued === 0 && k.running === 0 && k.failed === 0 && k.done === 0),
  },
  {
    name: "organizations",
    run: (token) => gql(`{ organizations(first: 10) { edges { node { id } } } }`, {}, token),
    hiddenFromOtherOrg: (res) => !idsOf(res.data?.organizations).includes(w.org.id),
  },
  {
    name: "Organization.accounts",
    run: (token) => orgNode(token, "accounts(first: 5) { edges { node { id disabledAt } } }"),
    hiddenFromOtherOrg: (res) => !res.errors && res.data?.node === null,
  },
  {
    name: "updateOrganization",
    run: (token) =>
      gql(`mutation($o: ID!, $n: String!) { updateOrganization(input: { id: $o, name: $n }) { id name } }`, { o: w.org.id, n: unique("org") }, token),
  },
  {
    name: "deleteSpace",
    setup: async () => ({ spaceId: (await t.factories.space(w.org.id, unique("doomed"))).id }),
    run: (token, { spaceId }) => gql(`mutation($s: ID!) { deleteSpace(id: $s) { id } }`, { s: spaceId! }, token),
  },
  {
    name: "disableAccount",
    setup: freshAccount,
    run: (token, { account }) => gql(`mutation($a: ID!) { disableAccount(id: $a) { id disabledAt } }`, { a: account! }, token),
  },
  {
    name: "enableAccount",
    setup: async () => {
      const { account } = await freshAccount();
      await t.deps.prisma.account.update({ where: { id: account }, data: { disabledAt: new Date() } });
      return { account };
    },
    run: (token, { account }) => gql(`mutation($a: ID!) { enableAccount(id: $a) { id disabledAt } }`, { a: account! }, token),
  },
  {
    name: "deleteAccount",
    setup: freshAccount,
    run: (token, { account }) => gql(`mutation($a: ID!) { deleteAccount(id: $a) { id } }`, { a: account! }, token),
  },
  {
    // Reached as an entry's creator (node(id) hides other accounts from members altogether).
    name: "Account.grants (of another account)",
    setup: async () => {
      const path = unique("by-admin");
      await adminFolder(path);
      return { path };
    },
    run: (token, { path }) =>
      gql(
        `query($s: ID!, $p: String!) { entry(spaceId: $s, path: $p) { createdBy { grants(first: 5) { edges { node { id } } } } } }`,
        { s: w.space.id, p: path! },
        token,
      ),
  },
];

describe.each(ORG_OPS)("$name (organization admins)", (op) => {
  const targets = async (): Promise<Targets> => (op.setup ? op.setup() : {});
  let otherOrgAdmin: string;
  beforeAll(async () => {
    otherOrgAdmin = (await t.factories.world()).adminToken;
  });

  it("no token: UNAUTHENTICATED", async () => {
    expect(errorCode(await op.run(undefined, await targets()))).toBe("UNAUTHENTICATED");
  });

  it("a member with every permission (space:admin included): FORBIDDEN", async () => {
    const target = await targets();
    const { token } = await t.factories.member(w.org.id, target.spaceId ?? w.space.id, [...PERMISSIONS]);
    expect(errorCode(await op.run(token, target))).toBe("FORBIDDEN");
  });

  it("an admin of another organization: NOT_FOUND", async () => {
    const res = await op.run(otherOrgAdmin, await targets());
    if (op.hiddenFromOtherOrg) expect(op.hiddenFromOtherOrg(res)).toBe(true);
    else expect(errorCode(res)).toBe("NOT_FOUND");
    expect(JSON.stringify(res)).not.toContain("FORBIDDEN");
  });

  it("an organization admin: allowed", async () => {
    const res = await op.run(w.adminToken, await targets());
    expect(res.errors).toBeUndefined();
    expect(res.data).toBeTruthy();
  });
});
