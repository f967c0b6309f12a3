// Administration: listing organizations, accounts and grants; changing an
// organization's limits; renaming and deleting spaces; disabling, enabling and
// deleting accounts; editing an asset's meta; reserved bytes. Who may call each
// operation is in the permission matrix (permissions.test.ts); this file checks
// what they do.
import { Readable } from "node:stream";
import { createClient, type Client } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { authenticate } from "../src/access/viewer.ts";
import { buildTestApp, errorCode, eventually, type TestApp } from "./harness.ts";
import { runCli } from "./support/processes.ts";
import { uploadAsset } from "./support/upload.ts";

let t: TestApp;
const clients: Client[] = [];
const sql: string[] = [];

beforeAll(async () => {
  // Workers on: deleted bytes are purged by the blob.purge job.
  t = await buildTestApp({ sqlLog: sql });
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  await t?.close();
});

type Data = Record<string, any>;
const gql = (query: string, variables: Record<string, unknown>, token?: string) => t.gql<Data, Record<string, unknown>>(query, variables, token);
const nodes = (connection: { edges: { node: Data }[] }) => connection.edges.map((e) => e.node);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let n = 0;
const unique = (prefix: string) => `${prefix}-${++n}`;

async function upload(token: string, spaceId: string, path: string, body: string) {
  const res = await uploadAsset(t.graphqlUrl, { token, spaceId, path, body, createParents: true });
  expect(res.errors).toBeUndefined();
  return res.data!.uploadAsset;
}

/** A two-stage upload of `size` bytes left in flight (its bytes never arrive). */
async function pendingUpload(token: string, spaceId: string, path: string, size: number) {
  const res = await gql(
    `mutation($s: ID!, $p: String!, $n: SafeInt!) { createAssetUpload(input: { spaceId: $s, path: $p, mimeType: "text/plain", size: $n }) { asset { id } } }`,
    { s: spaceId, p: path, n: size },
    token,
  );
  expect(res.errors).toBeUndefined();
  return res.data!.createAssetUpload.asset.id as string;
}

const usageOf = (organizationId: string) =>
  t.deps.prisma.organization.findUniqueOrThrow({ where: { id: organizationId }, select: { usedBytes: true, reservedBytes: true, quotaBytes: true } });

type Closed = { code: number; reason: string };

/**
 * A graphql-ws connection subscribed to spaceEvents; resolves `closed` when the
 * server closes it, and `ended` with the error code (or "COMPLETE") when the
 * server ends the subscription alone.
 */
function subscribe(token: string, spaceId: string) {
  let onClosed!: (c: Closed) => void;
  const closed = new Promise<Closed>((resolve) => (onClosed = resolve));
  let onEnded!: (code: string) => void;
  const ended = new Promise<string>((resolve) => (onEnded = resolve));
  const events: unknown[] = [];
  let isClosed = false;
  const client = createClient({
    url: t.wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
    lazy: true,
    on: {
      closed: (event) => {
        isClosed = true;
        const { code, reason } = event as Closed;
        onClosed({ code, reason: String(reason) });
      },
    },
  });
  clients.push(client);
  client.subscribe(
    { query: `subscription($s: ID!) { spaceEvents(spaceId: $s) { type } }`, variables: { s: spaceId } },
    {
      // The server ends a subscription with a last result carrying the error, then completes it.
      next: (r) => (r.errors ? onEnded(String(r.errors[0]?.extensions?.code ?? "ERROR")) : void events.push(r)),
      error: (e) => onEnded(String((e as { extensions?: { code?: string } }[])[0]?.extensions?.code ?? "ERROR")),
      complete: () => onEnded("COMPLETE"),
    },
  );
  return { events, closed, ended, isClosed: () => isClosed };
}

/** Creates folders until the subscriber sees an event: its subscription is live. */
async function untilLive(sub: { events: unknown[] }, spaceId: string, adminToken: string) {
  const before = sub.events.length;
  await eventually(
    async () => {
      await gql(`mutation($s: ID!, $p: String!) { createFolder(input: { spaceId: $s, path: $p }) { id } }`, { s: spaceId, p: unique("probe") }, adminToken);
      return sub.events.length > before;
    },
    5_000,
    150,
  );
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([promise, sleep(ms).then(() => Promise.reject(new Error(`${what}: nothing within ${ms} ms`)))]);
}

describe("listing", () => {
  it("organizations: an admin sees exactly its own organization", async () => {
    const w = await t.factories.world();
    await t.factories.world(); // another organization, not listed
    const res = await gql(`{ organizations(first: 10) { edges { node { id name reservedBytes } } } }`, {}, w.adminToken);
    expect(nodes(res.data!.organizations)).toEqual([{ id: w.org.id, name: w.org.name, reservedBytes: 0 }]);
  });

  it("Organization.accounts lists the organization's accounts, oldest first, with disabledAt", async () => {
    const w = await t.factories.world();
    const user = await t.factories.account(w.org.id, { name: "ada" });
    await t.deps.prisma.account.update({ where: { id: user.id }, data: { disabledAt: new Date() } });
    const res = await gql(`{ organization { accounts(first: 10) { edges { node { id name disabledAt } } } } }`, {}, w.adminToken);
    const listed = nodes(res.data!.organization.accounts);
    expect(listed.map((a) => a.id)).toEqual([w.admin.id, user.id]);
    expect(listed[0]!.disabledAt).toBeNull();
    expect(listed[1]!.disabledAt).toBeTruthy();
  });

  it("Space.grants and Account.grants show who holds what; an account sees its own grants", async () => {
    const w = await t.factories.world();
    const other = await t.factories.space(w.org.id);
    const m = await t.factories.member(w.org.id, w.space.id, ["assets:read"]);
    await t.factories.grant(m.account.id, other.id, ["assets:create", "assets:read"]);
    const bySpace = await gql(
      `query($s: ID!) { space(id: $s) { grants(first: 10) { edges { node { accountId permissions } } } } }`,
      { s: w.space.id },
      w.adminToken,
    );
    expect(nodes(bySpace.data!.space.grants)).toEqual([{ accountId: m.account.id, permissions: ["assets:read"] }]);

    const own = await gql(`{ account { grants(first: 10) { edges { node { spaceId permissions } } } } }`, {}, m.token);
    expect(own.errors).toBeUndefined();
    expect(nodes(own.data!.account.grants)).toEqual([
      { spaceId: w.space.id, permissions: ["assets:read"] },
      { spaceId: other.id, permissions: ["assets:create", "assets:read"] },
    ]);
    const byAdmin = await gql(
      `query($a: ID!) { node(id: $a) { ... on Account { grants(first: 10) { edges { node { spaceId } } } } } }`,
      { a: m.account.id },
      w.adminToken,
    );
    expect(nodes(byAdmin.data!.node.grants)).toHaveLength(2);
  });
});

describe("updateOrganization", () => {
  const update = (token: string, input: Record<string, unknown>) =>
    gql(
      `mutation($i: UpdateOrganizationInput!) { updateOrganization(input: $i) { id name quotaBytes maxFileSizeBytes usedBytes reservedBytes } }`,
      { i: input },
      token,
    );

  it("changes the name, quota and max file size; the new file-size limit applies at once", async () => {
    const w = await t.factories.world();
    const res = await update(w.adminToken, { id: w.org.id, name: "  Renamed  ", quotaBytes: 5000, maxFileSizeBytes: 10 });
    expect(res.errors).toBeUndefined();
    expect(res.data!.updateOrganization).toMatchObject({ name: "Renamed", quotaBytes: 5000, maxFileSizeBytes: 10 });
    const tooBig = await uploadAsset(t.graphqlUrl, { token: w.adminToken, spaceId: w.space.id, path: "big.txt", body: "x".repeat(11) });
    expect(tooBig.errors?.[0]?.extensions).toMatchObject({ code: "LIMITS_REACHED", details: { reason: "MAX_FILE_SIZE" } });
    // Absent fields stay as they are.
    const nameOnly = await update(w.adminToken, { id: w.org.id, name: "Again" });
    expect(nameOnly.data!.updateOrganization).toMatchObject({ name: "Again", quotaBytes: 5000, maxFileSizeBytes: 10 });
  });

  it("refuses a quota below used + reserved bytes with QUOTA_BELOW_USAGE, and changes nothing", async () => {
    const w = await t.factories.world({ quotaBytes: 1000n });
    await upload(w.adminToken, w.space.id, "a.txt", "x".repeat(100));
    await pendingUpload(w.adminToken, w.space.id, "b.txt", 50);
    expect(await usageOf(w.org.id)).toEqual({ usedBytes: 100n, reservedBytes: 50n, quotaBytes: 1000n });

    const below = await update(w.adminToken, { id: w.org.id, name: "Changed", quotaBytes: 149, maxFileSizeBytes: 7 });
    expect(errorCode(below)).toBe("QUOTA_BELOW_USAGE");
    expect(below.errors![0]!.extensions!.details).toEqual({ quotaBytes: 149, usedBytes: 100, reservedBytes: 50 });
    const row = await t.deps.prisma.organization.findUniqueOrThrow({ where: { id: w.org.id } });
    expect(row).toMatchObject({ name: w.org.name, quotaBytes: 1000n, maxFileSizeBytes: w.org.maxFileSizeBytes });

    // Exactly used + reserved fits; the organization is then full.
    expect((await update(w.adminToken, { id: w.org.id, quotaBytes: 150 })).data!.updateOrganization).toMatchObject({
      quotaBytes: 150,
      usedBytes: 100,
      reservedBytes: 50,
    });
    const full = await uploadAsset(t.graphqlUrl, { token: w.adminToken, spaceId: w.space.id, path: "c.txt", body: "y" });
    expect(full.errors?.[0]?.extensions).toMatchObject({ code: "LIMITS_REACHED", details: { reason: "QUOTA" } });
  });

  it("refuses limits that are not positive, and a blank name (BAD_USER_INPUT)", async () => {
    const w = await t.factories.world();
    for (const input of [{ quotaBytes: 0 }, { maxFileSizeBytes: -1 }, { name: "  " }]) {
      expect(errorCode(await update(w.adminToken, { id: w.org.id, ...input }))).toBe("BAD_USER_INPUT");
    }
    expect(await t.deps.prisma.organization.findUniqueOrThrow({ where: { id: w.org.id } })).toMatchObject({ name: w.org.name, quotaBytes: w.org.quotaBytes });
  });
});

describe("reserved bytes", () => {
  it("show on Organization and Space beside used bytes, and go when the upload completes", async () => {
    const w = await t.factories.world();
    const other = await t.factories.space(w.org.id);
    await upload(w.adminToken, w.space.id, "used.txt", "12345");
    const id = await pendingUpload(w.adminToken, w.space.id, "pending.txt", 7);
    await pendingUpload(w.adminToken, other.id, "elsewhere.txt", 3);
    const query = `{ organization { usedBytes reservedBytes } spaces(first: 10) { edges { node { id usedBytes reservedBytes } } } }`;
    sql.length = 0;
    const res = await gql(query, {}, w.adminToken);
    // One query sums the pending uploads of all listed spaces (no query per space).
    expect(sql.filter((q) => /GROUP BY/i.test(q) && q.includes('"blobs"'))).toHaveLength(1);
    expect(res.data!.organization).toEqual({ usedBytes: 5, reservedBytes: 10 });
    expect(nodes(res.data!.spaces)).toEqual([
      { id: w.space.id, usedBytes: 5, reservedBytes: 7 },
      { id: other.id, usedBytes: 0, reservedBytes: 3 },
    ]);

    const blob = await t.deps.prisma.blob.findFirstOrThrow({ where: { uploadEntryId: id, status: "PENDING" } });
    await t.deps.blobStore.put(blob.key, Readable.from([Buffer.from("1234567")]), { contentType: "text/plain", size: 7 });
    expect((await gql(`mutation($id: ID!) { completeAssetUpload(id: $id) { status } }`, { id }, w.adminToken)).errors).toBeUndefined();
    const after = await gql(query, {}, w.adminToken);
    expect(after.data!.organization).toEqual({ usedBytes: 12, reservedBytes: 3 });
    expect(nodes(after.data!.spaces)[0]).toEqual({ id: w.space.id, usedBytes: 12, reservedBytes: 0 });
  });
});

describe("renameSpace", () => {
  it("renames for space:admin holders; a blank name is BAD_USER_INPUT", async () => {
    const w = await t.factories.world();
    const spaceAdmin = await t.factories.member(w.org.id, w.space.id, ["space:admin"]);
    const rename = (name: string) =>
      gql(`mutation($s: ID!, $n: String!) { renameSpace(input: { id: $s, name: $n }) { id name } }`, { s: w.space.id, n: name }, spaceAdmin.token);
    expect((await rename(" Handbook ")).data!.renameSpace).toEqual({ id: w.space.id, name: "Handbook" });
    expect(errorCode(await rename("   "))).toBe("BAD_USER_INPUT");
    expect((await t.deps.prisma.space.findUniqueOrThrow({ where: { id: w.space.id } })).name).toBe("Handbook");
  });
});

describe("deleteSpace", () => {
  it("removes entries, blobs and grants, gives the bytes back, purges them, and ends the subscriptions of those who had access", async () => {
    const w = await t.factories.world({ quotaBytes: 10_000n });
    const doomed = await t.factories.space(w.org.id, "doomed");
    const kept = await upload(w.adminToken, w.space.id, "kept.txt", "kept");
    await upload(w.adminToken, doomed.id, "docs/a.txt", "aaaa");
    await upload(w.adminToken, doomed.id, "b.txt", "bbbbbbbb");
    await pendingUpload(w.adminToken, doomed.id, "pending.txt", 100);
    const reader = await t.factories.member(w.org.id, doomed.id, ["assets:read"]);
    await t.factories.grant(reader.account.id, w.space.id, ["assets:read"]);
    const keys = (await t.deps.prisma.blob.findMany({ where: { spaceId: doomed.id } })).map((b) => b.key);
    expect(keys).toHaveLength(3);
    expect(await usageOf(w.org.id)).toMatchObject({ usedBytes: 16n, reservedBytes: 100n });

    const sub = subscribe(reader.token, doomed.id);
    await untilLive(sub, doomed.id, w.adminToken);

    const res = await gql(`mutation($s: ID!) { deleteSpace(id: $s) { id deletedFiles } }`, { s: doomed.id }, w.adminToken);
    expect(res.errors).toBeUndefined();
    expect(res.data!.deleteSpace).toEqual({ id: doomed.id, deletedFiles: 2 });

    // Usage given back in the same transaction: only the other space's file remains billed.
    expect(await usageOf(w.org.id)).toMatchObject({ usedBytes: 4n, reservedBytes: 0n });
    const { prisma } = t.deps;
    expect(await prisma.space.count({ where: { id: doomed.id } })).toBe(0);
    expect(await prisma.entry.count({ where: { spaceId: doomed.id } })).toBe(0);
    expect(await prisma.blob.count({ where: { spaceId: doomed.id } })).toBe(0);
    expect(await prisma.spaceGrant.findMany({ where: { accountId: reader.account.id }, select: { spaceId: true } })).toEqual([{ spaceId: w.space.id }]);
    // The subscription to the deleted space ends on its own (the socket may stay; decisions.md 40).
    expect(await within(sub.ended, 3000, "end")).toBe("NOT_FOUND");
    for (const key of keys) await eventually(async () => (await t.deps.blobStore.head(key)) === null);

    // The rest of the organization is untouched, and the space is gone for everyone.
    expect((await gql(`query($id: ID!) { node(id: $id) { id } }`, { id: kept.id }, reader.token)).data!.node).toEqual({ id: kept.id });
    expect((await gql(`query($s: ID!) { space(id: $s) { id } }`, { s: doomed.id }, w.adminToken)).data!.space).toBeNull();
    expect(errorCode(await gql(`mutation($s: ID!) { deleteSpace(id: $s) { id } }`, { s: doomed.id }, w.adminToken))).toBe("NOT_FOUND");
  });
});

describe("disableAccount and enableAccount", () => {
  it("refuse the account's tokens at once and close its sockets; enabling lets them work again", async () => {
    const w = await t.factories.world();
    const m = await t.factories.member(w.org.id, w.space.id, ["assets:read"]);
    const second = await t.factories.token(m.account.id);
    const bystander = await t.factories.member(w.org.id, w.space.id, ["assets:read"]);
    const viewer = (token: string) => gql(`{ viewer { accountId } }`, {}, token);
    const subA = subscribe(m.token, w.space.id);
    const subB = subscribe(second.secret, w.space.id);
    const subOther = subscribe(bystander.token, w.space.id);
    for (const sub of [subA, subB, subOther]) await untilLive(sub, w.space.id, w.adminToken);

    const res = await gql(`mutation($a: ID!) { disableAccount(id: $a) { id disabledAt } }`, { a: m.account.id }, w.adminToken);
    expect(res.errors).toBeUndefined();
    const disabledAt = res.data!.disableAccount.disabledAt;
    expect(disabledAt).toBeTruthy();
    expect(errorCode(await viewer(m.token))).toBe("UNAUTHENTICATED");
    expect(errorCode(await viewer(second.secret))).toBe("UNAUTHENTICATED");
    expect((await within(subA.closed, 3000, "close")).code).toBe(4403);
    expect((await within(subB.closed, 3000, "close")).code).toBe(4403);
    await untilLive(subOther, w.space.id, w.adminToken);
    expect(subOther.isClosed()).toBe(false);

    // Idempotent: the first disabledAt stays.
    const again = await gql(`mutation($a: ID!) { disableAccount(id: $a) { disabledAt } }`, { a: m.account.id }, w.adminToken);
    expect(again.data!.disableAccount.disabledAt).toBe(disabledAt);

    const enabled = await gql(`mutation($a: ID!) { enableAccount(id: $a) { disabledAt } }`, { a: m.account.id }, w.adminToken);
    expect(enabled.data!.enableAccount.disabledAt).toBeNull();
    expect((await viewer(m.token)).data!.viewer.accountId).toBe(m.account.id);
    expect((await viewer(second.secret)).data!.viewer.accountId).toBe(m.account.id);
  });

  it("refuse the caller's own account (BAD_USER_INPUT) and an account of another organization (NOT_FOUND)", async () => {
    const w = await t.factories.world();
    const other = await t.factories.world();
    for (const mutation of ["disableAccount", "deleteAccount"]) {
      const self = await gql(`mutation($a: ID!) { ${mutation}(id: $a) { id } }`, { a: w.admin.id }, w.adminToken);
      expect(errorCode(self)).toBe("BAD_USER_INPUT");
      expect(self.errors![0]!.extensions!.details).toEqual({ reason: "SELF" });
      expect(errorCode(await gql(`mutation($a: ID!) { ${mutation}(id: $a) { id } }`, { a: other.admin.id }, w.adminToken))).toBe("NOT_FOUND");
    }
    expect(await t.deps.prisma.account.findUniqueOrThrow({ where: { id: other.admin.id } })).toMatchObject({ disabledAt: null });
  });

  it("never leave an organization without an enabled admin (LAST_ADMIN), even when two admins act at once", async () => {
    const w = await t.factories.world();
    const b = await t.factories.account(w.org.id, { admin: true });
    const bToken = await t.factories.token(b.id);
    // B's request authenticated just before A disabled B: its viewer is stale, as in a race.
    const staleB = (await authenticate(t.deps.prisma, bToken.secret))!;
    expect((await gql(`mutation($a: ID!) { disableAccount(id: $a) { id } }`, { a: b.id }, w.adminToken)).errors).toBeUndefined();
    const { accounts } = t.deps.services;
    await expect(accounts.disableAccount(staleB, w.admin.id)).rejects.toMatchObject({ code: "LAST_ADMIN" });
    await expect(accounts.deleteAccount(staleB, w.admin.id)).rejects.toMatchObject({ code: "LAST_ADMIN" });
    expect(await t.deps.prisma.account.findUniqueOrThrow({ where: { id: w.admin.id } })).toMatchObject({ disabledAt: null });

    // Truly at once: whatever the interleaving, one enabled admin remains.
    await gql(`mutation($a: ID!) { enableAccount(id: $a) { id } }`, { a: b.id }, w.adminToken);
    const results = await Promise.all([
      gql(`mutation($a: ID!) { disableAccount(id: $a) { id } }`, { a: b.id }, w.adminToken),
      gql(`mutation($a: ID!) { disableAccount(id: $a) { id } }`, { a: w.admin.id }, bToken.secret),
    ]);
    expect(results.filter((r) => !r.errors)).toHaveLength(1);
    expect(await t.deps.prisma.account.count({ where: { organizationId: w.org.id, isOrgAdmin: true, disabledAt: null } })).toBe(1);
  });
});

describe("deleteAccount", () => {
  it("deletes tokens and grants, keeps the entries it created (createdBy null) and closes its sockets", async () => {
    const w = await t.factories.world();
    const m = await t.factories.member(w.org.id, w.space.id, ["assets:read", "assets:create"]);
    const file = await upload(m.token, w.space.id, "mine.txt", "mine");
    const sub = subscribe(m.token, w.space.id);
    await untilLive(sub, w.space.id, w.adminToken);

    const res = await gql(`mutation($a: ID!) { deleteAccount(id: $a) { id } }`, { a: m.account.id }, w.adminToken);
    expect(res.data!.deleteAccount).toEqual({ id: m.account.id });
    expect(errorCode(await gql(`{ viewer { accountId } }`, {}, m.token))).toBe("UNAUTHENTICATED");
    expect((await within(sub.closed, 3000, "close")).code).toBe(4403);
    const { prisma } = t.deps;
    expect(await prisma.apiToken.count({ where: { accountId: m.account.id } })).toBe(0);
    expect(await prisma.spaceGrant.count({ where: { accountId: m.account.id } })).toBe(0);
    const entry = await gql(`query($id: ID!) { node(id: $id) { ... on Asset { name createdBy { id } } } }`, { id: file.id }, w.adminToken);
    expect(entry.data!.node).toEqual({ name: "mine.txt", createdBy: null });
  });
});

describe("updateAssetMetadata", () => {
  const setMeta = (token: string, id: string, meta: unknown) =>
    gql(`mutation($id: ID!, $m: JSON) { updateAssetMetadata(input: { id: $id, meta: $m }) { id metadata } }`, { id, m: meta }, token);

  it("replaces the meta where the upload put it, keeping the rest of the metadata", async () => {
    const w = await t.factories.world();
    const file = await upload(w.adminToken, w.space.id, "doc.txt", "hello");
    const { blobId } = await t.deps.prisma.entry.findUniqueOrThrow({ where: { id: file.id } });
    await t.deps.prisma.blob.update({ where: { id: blobId! }, data: { metadata: { meta: { old: true }, text: { chars: 5 } } } });
    const editor = await t.factories.member(w.org.id, w.space.id, ["assets:update"]);

    const res = await setMeta(editor.token, file.id, { tags: ["a", "b"] });
    expect(res.errors).toBeUndefined();
    expect(res.data!.updateAssetMetadata.metadata).toEqual({ meta: { tags: ["a", "b"] }, text: { chars: 5 } });
    expect((await t.deps.prisma.blob.findUniqueOrThrow({ where: { id: blobId! } })).metadata).toEqual({ meta: { tags: ["a", "b"] }, text: { chars: 5 } });
    expect((await setMeta(editor.token, file.id, null)).data!.updateAssetMetadata.metadata).toEqual({ meta: null, text: { chars: 5 } });
  });

  it("keeps the 16 KiB cap of createAssetUpload's meta, and refuses folders", async () => {
    const w = await t.factories.world();
    const file = await upload(w.adminToken, w.space.id, "doc.txt", "hello");
    const tooBig = await setMeta(w.adminToken, file.id, { s: "x".repeat(16 * 1024) });
    expect(errorCode(tooBig)).toBe("BAD_USER_INPUT");
    const { blobId } = await t.deps.prisma.entry.findUniqueOrThrow({ where: { id: file.id } });
    expect((await t.deps.prisma.blob.findUniqueOrThrow({ where: { id: blobId! } })).metadata).toEqual({});
    const folder = await gql(`mutation($s: ID!) { createFolder(input: { spaceId: $s, path: "dir" }) { id } }`, { s: w.space.id }, w.adminToken);
    expect(errorCode(await setMeta(w.adminToken, folder.data!.createFolder.id, { a: 1 }))).toBe("PATH_IS_DIRECTORY");
  });
});

describe("CLI", () => {
  const env = () => ({ DATA_DIR: t.dataDir, DATABASE_URL: t.deps.runtime.databaseUrl, LOG_LEVEL: "silent" });

  it("set-quota changes the limits, validates byte counts and refuses a quota below usage; usage prints reserved bytes", async () => {
    const w = await t.factories.world();
    await upload(w.adminToken, w.space.id, "a.txt", "x".repeat(40));
    await pendingUpload(w.adminToken, w.space.id, "b.txt", 60);

    const set = await runCli(["set-quota", "--org", w.org.id, "--quota", "5000", "--max-file-size", "2000"], env());
    expect(set.code).toBe(0);
    expect(JSON.parse(set.stdout)).toEqual({ organizationId: w.org.id, quotaBytes: 5000, maxFileSizeBytes: 2000 });

    const below = await runCli(["set-quota", "--org", w.org.id, "--quota", "99"], env());
    expect(below.code).toBe(1);
    expect(below.stderr).toContain("QUOTA_BELOW_USAGE");
    const bad = await runCli(["set-quota", "--org", w.org.id, "--quota", "1e6"], env());
    expect(bad.code).toBe(2); // a command line that cannot run as given (test/cli.test.ts)
    expect(bad.stderr).toContain("--quota must be a positive whole number of bytes");
    expect(await usageOf(w.org.id)).toMatchObject({ quotaBytes: 5000n });

    const usage = await runCli(["usage", "--org", w.org.id], env());
    expect(JSON.parse(usage.stdout)).toMatchObject({
      organizationId: w.org.id,
      quotaBytes: 5000,
      usedBytes: 40,
      reservedBytes: 60,
      spaces: [{ id: w.space.id, usedBytes: 40, reservedBytes: 60 }],
    });
  });
});
