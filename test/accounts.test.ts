// Accounts, API tokens and space grants through GraphQL, and the promise that a
// revoked or expired token (or a revoked grant) stops working at once: over
// HTTP, on open graphql-ws connections (also when another server process made
// the change) and on open SSE streams.
import { randomUUID } from "node:crypto";
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { print } from "graphql";
import { createClient, type Client } from "graphql-ws";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { createLiveAccess, TOKEN_REVOKED, type EndReason } from "../src/access/live-access.ts";
import { hashToken } from "../src/access/viewer.ts";
import { buildApp } from "../src/app.ts";
import { freePort } from "../src/free-port.ts";
import { createDeps } from "../src/deps.ts";
import {
  AccountTokensByIdDocument,
  AccountTokensDocument,
  ApiTokenTypeFieldsDocument,
  AssetAtPathDocument,
  CreateAccountDocument,
  CreateApiTokenDocument,
  CreateFolderSimpleDocument,
  EntryCreatorTokensDocument,
  GrantSpaceAccessDocument,
  RevokeApiTokenDocument,
  RevokeSpaceAccessDocument,
  SpaceEventsDocument,
  ViewerDocument,
} from "./generated/graphql.ts";
import { buildTestApp, errorCode, eventually, type GraphQLResponse, type TestApp } from "./harness.ts";

let t: TestApp;
let w: Awaited<ReturnType<TestApp["factories"]["world"]>>;
const clients: Client[] = [];

beforeAll(async () => {
  t = await buildTestApp({ workers: false });
  w = await t.factories.world();
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  await t?.close();
});

/** A non-admin account with no grant, and its token. */
async function plainAccount(organizationId = w.org.id) {
  const account = await t.factories.account(organizationId);
  const token = await t.factories.token(account.id);
  return { account, token: token.secret, tokenId: token.id };
}

async function gqlAt<TData, TVars>(graphqlUrl: string, doc: TypedDocumentNode<TData, TVars>, variables: TVars, token: string) {
  const res = await fetch(graphqlUrl, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: print(doc), variables }),
  });
  return (await res.json()) as GraphQLResponse<TData>;
}

type Closed = { code: number; reason: string; at: number };

/** A graphql-ws connection subscribed to spaceEvents, recording what it sees. */
function subscribeOverWs(token: string | undefined, spaceId: string, authorization = token ? `Bearer ${token}` : undefined) {
  let onClosed!: (c: Closed) => void;
  let isClosed = false;
  const closed = new Promise<Closed>((resolve) => (onClosed = resolve));
  let onEnded!: () => void;
  const ended = new Promise<void>((resolve) => (onEnded = resolve));
  const events: unknown[] = [];
  const client = createClient({
    url: t.wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: authorization ? { authorization } : {},
    retryAttempts: 0,
    lazy: true,
    on: {
      closed: (event) => {
        const { code, reason } = event as { code: number; reason: string };
        isClosed = true;
        onClosed({ code, reason: String(reason), at: Date.now() });
      },
    },
  });
  clients.push(client);
  client.subscribe({ query: print(SpaceEventsDocument), variables: { spaceId } }, { next: (r) => void events.push(r), error: onEnded, complete: onEnded });
  return { events, closed, ended, isClosed: () => isClosed };
}

/** Creates folders in the space until the subscriber receives a new event: its subscription is live. */
async function untilLive(sub: { events: unknown[] }, spaceId: string) {
  const before = sub.events.length;
  await eventually(
    async () => {
      await t.gql(CreateFolderSimpleDocument, { spaceId, path: `probe-${randomUUID()}` }, w.adminToken);
      return sub.events.length > before;
    },
    5_000,
    150,
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Fails fast (instead of at the test timeout) when `promise` does not settle in time. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([promise, sleep(ms).then(() => Promise.reject(new Error(`${what}: nothing within ${ms} ms`)))]);
}

describe("createAccount", () => {
  it("lets an organization admin create user and service accounts in its organization", async () => {
    const user = await t.gql(CreateAccountDocument, { input: { name: "  Ada  ", kind: "USER" } }, w.adminToken);
    expect(user.errors).toBeUndefined();
    expect(user.data?.createAccount).toMatchObject({ name: "Ada", kind: "USER", isOrgAdmin: false });
    expect(user.data?.createAccount.id).toMatch(/^acc_/);

    const bot = await t.gql(CreateAccountDocument, { input: { name: "ci", kind: "SERVICE", isOrgAdmin: true } }, w.adminToken);
    expect(bot.data?.createAccount).toMatchObject({ kind: "SERVICE", isOrgAdmin: true });
    const row = await t.deps.prisma.account.findUniqueOrThrow({ where: { id: bot.data!.createAccount.id } });
    expect(row.organizationId).toBe(w.org.id);
  });

  it("refuses non-admins (FORBIDDEN) and blank names (BAD_USER_INPUT)", async () => {
    const spaceAdmin = await t.factories.member(w.org.id, w.space.id, ["space:admin"]);
    expect(errorCode(await t.gql(CreateAccountDocument, { input: { name: "x", kind: "USER" } }, spaceAdmin.token))).toBe("FORBIDDEN");
    expect(errorCode(await t.gql(CreateAccountDocument, { input: { name: "   ", kind: "USER" } }, w.adminToken))).toBe("BAD_USER_INPUT");
  });
});

describe("createApiToken", () => {
  it("returns the secret once, stores only its hash, and the token works at once", async () => {
    const { account } = await plainAccount();
    const res = await t.gql(CreateApiTokenDocument, { input: { accountId: account.id, name: "deploy" } }, w.adminToken);
    expect(res.errors).toBeUndefined();
    const { secret, token } = res.data!.createApiToken;
    expect(secret).toMatch(/^cab_/);
    expect(token).toMatchObject({ name: "deploy", expiresAt: null, revokedAt: null, account: { id: account.id } });
    expect(token.id).toMatch(/^tok_/);

    const row = await t.deps.prisma.apiToken.findUniqueOrThrow({ where: { id: token.id } });
    expect(row.tokenHash).toBe(hashToken(secret));
    expect(row.tokenHash).not.toContain(secret);

    expect((await t.gql(ViewerDocument, {}, secret)).data?.viewer.accountId).toBe(account.id);

    // Later reads list the token, never a secret or hash: the type has no such field.
    const listed = await t.gql(AccountTokensDocument, {}, secret);
    expect(listed.data?.account.tokens?.map((x) => x.id)).toContain(token.id);
    expect(JSON.stringify(listed)).not.toContain(secret);
    const fields = (await t.gql(ApiTokenTypeFieldsDocument, {}, secret)).data?.__type?.fields?.map((f) => f.name);
    expect(fields).toEqual(expect.arrayContaining(["id", "name", "createdAt", "expiresAt", "revokedAt", "account"]));
    expect(fields).not.toContain("tokenHash");
    expect(fields).not.toContain("secret");
  });

  it("lets any account create tokens for itself, not for others", async () => {
    const a = await plainAccount();
    const b = await plainAccount();
    const own = await t.gql(CreateApiTokenDocument, { input: { accountId: a.account.id, name: "laptop" } }, a.token);
    expect(own.data?.createApiToken.token.account.id).toBe(a.account.id);
    // Another account of the same organization is invisible to a non-admin: NOT_FOUND, like node(id).
    expect(errorCode(await t.gql(CreateApiTokenDocument, { input: { accountId: b.account.id, name: "x" } }, a.token))).toBe("NOT_FOUND");
  });

  it("answers NOT_FOUND for an account of another organization, even to its admin", async () => {
    const other = await t.factories.world();
    const res = await t.gql(CreateApiTokenDocument, { input: { accountId: w.admin.id, name: "x" } }, other.adminToken);
    expect(errorCode(res)).toBe("NOT_FOUND");
    expect(await t.deps.prisma.apiToken.count({ where: { accountId: w.admin.id, name: "x" } })).toBe(0);
  });

  it("never lets a token outlive the token that creates it", async () => {
    const soon = new Date(Date.now() + 60 * 60 * 1000);
    const { secret: expiring } = await t.factories.token(w.admin.id, { expiresAt: soon });
    // No expiry asked: the new token inherits the creator's.
    const inherited = await t.gql(CreateApiTokenDocument, { input: { accountId: w.admin.id, name: "child" } }, expiring);
    expect(new Date(inherited.data!.createApiToken.token.expiresAt!).getTime()).toBe(soon.getTime());
    // Asking for more is refused; asking for less is fine.
    const longer = await t.gql(
      CreateApiTokenDocument,
      { input: { accountId: w.admin.id, name: "longer", expiresAt: new Date(soon.getTime() + 1000).toISOString() } },
      expiring,
    );
    expect(errorCode(longer)).toBe("BAD_USER_INPUT");
    const shorter = new Date(soon.getTime() - 1000);
    const ok = await t.gql(CreateApiTokenDocument, { input: { accountId: w.admin.id, name: "shorter", expiresAt: shorter.toISOString() } }, expiring);
    expect(new Date(ok.data!.createApiToken.token.expiresAt!).getTime()).toBe(shorter.getTime());
    // A token without expiry may create tokens without expiry.
    const forever = await t.gql(CreateApiTokenDocument, { input: { accountId: w.admin.id, name: "forever" } }, w.adminToken);
    expect(forever.data!.createApiToken.token.expiresAt).toBeNull();
  });

  it("resolves node(id) of a token for its account and admins only", async () => {
    const { id } = await t.factories.token(w.admin.id);
    const node = `query($id: ID!) { node(id: $id) { __typename id ... on ApiToken { name } } }`;
    expect((await t.gql(node, { id }, w.adminToken)).data).toMatchObject({ node: { __typename: "ApiToken", id } });
    const other = await t.factories.world();
    expect((await t.gql(node, { id }, other.adminToken)).data).toEqual({ node: null });
  });

  it("refuses an expiry in the past (BAD_USER_INPUT)", async () => {
    const res = await t.gql(
      CreateApiTokenDocument,
      { input: { accountId: w.admin.id, name: "old", expiresAt: new Date(Date.now() - 1000).toISOString() } },
      w.adminToken,
    );
    expect(errorCode(res)).toBe("BAD_USER_INPUT");
  });
});

describe("Account.tokens", () => {
  it("is visible to the account and its organization admins only", async () => {
    const a = await plainAccount();
    expect((await t.gql(AccountTokensByIdDocument, { id: a.account.id }, w.adminToken)).data?.node).toEqual({ id: a.account.id, tokens: [{ id: a.tokenId }] });

    // Readers of a space see entries' creators, but not the creators' tokens.
    await t.gql(CreateFolderSimpleDocument, { spaceId: w.space.id, path: "by-admin" }, w.adminToken);
    const reader = await t.factories.member(w.org.id, w.space.id, ["assets:read"]);
    const res = await t.gql(EntryCreatorTokensDocument, { spaceId: w.space.id, path: "by-admin" }, reader.token);
    expect(res.data?.entry?.createdBy?.id).toBe(w.admin.id);
    expect(res.data?.entry?.createdBy?.tokens).toBeNull();
    expect(errorCode(res)).toBe("FORBIDDEN");
  });
});

describe("revokeApiToken", () => {
  it("refuses the token over HTTP at once, and is idempotent", async () => {
    const a = await plainAccount();
    expect((await t.gql(ViewerDocument, {}, a.token)).data?.viewer.accountId).toBe(a.account.id);

    const first = await t.gql(RevokeApiTokenDocument, { id: a.tokenId }, w.adminToken);
    expect(first.data?.revokeApiToken.revokedAt).toBeTruthy();
    expect(errorCode(await t.gql(ViewerDocument, {}, a.token))).toBe("UNAUTHENTICATED");

    const again = await t.gql(RevokeApiTokenDocument, { id: a.tokenId }, w.adminToken);
    expect(again.data?.revokeApiToken.revokedAt).toBe(first.data?.revokeApiToken.revokedAt);
  });

  it("lets an account revoke its own token", async () => {
    const a = await plainAccount();
    expect((await t.gql(RevokeApiTokenDocument, { id: a.tokenId }, a.token)).data?.revokeApiToken.id).toBe(a.tokenId);
    expect(errorCode(await t.gql(ViewerDocument, {}, a.token))).toBe("UNAUTHENTICATED");
  });

  it("answers NOT_FOUND to an admin of another organization and to other members, and the token keeps working", async () => {
    const a = await plainAccount();
    const other = await t.factories.world();
    const peer = await plainAccount();
    expect(errorCode(await t.gql(RevokeApiTokenDocument, { id: a.tokenId }, other.adminToken))).toBe("NOT_FOUND");
    expect(errorCode(await t.gql(RevokeApiTokenDocument, { id: a.tokenId }, peer.token))).toBe("NOT_FOUND");
    expect(errorCode(await t.gql(RevokeApiTokenDocument, { id: "tok_00000000000000000000000000" }, w.adminToken))).toBe("NOT_FOUND");
    expect((await t.gql(ViewerDocument, {}, a.token)).data?.viewer.accountId).toBe(a.account.id);
  });
});

describe("open WebSocket connections", () => {
  it("are closed with 4403 within a second when their token is revoked; others stay open", async () => {
    const reader = await t.factories.member(w.org.id, w.space.id, ["assets:read"]);
    const readerToken = await t.factories.token(reader.account.id);
    const revoked = subscribeOverWs(readerToken.secret, w.space.id);
    const bystander = subscribeOverWs(reader.token, w.space.id); // same account, another token
    await untilLive(revoked, w.space.id);
    await untilLive(bystander, w.space.id);

    const startedAt = Date.now();
    expect((await t.gql(RevokeApiTokenDocument, { id: readerToken.id }, w.adminToken)).errors).toBeUndefined();
    const closed = await within(revoked.closed, 3000, "close");
    expect(closed).toMatchObject({ code: 4403, reason: "Token revoked" });
    expect(closed.at - startedAt).toBeLessThan(1000);

    await untilLive(bystander, w.space.id);
    expect(bystander.isClosed()).toBe(false);
  });

  it("are closed when the token is revoked through another server process", async () => {
    // A second app on the same database: its own pubsub connection, its own sockets.
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const deps2 = await createDeps(t.deps.config, { ...t.deps.runtime, publicUrl: url }, { logger: pino({ level: "silent" }) });
    const app2 = await buildApp(deps2);
    await app2.start(port, "127.0.0.1");
    try {
      const reader = await t.factories.member(w.org.id, w.space.id, ["assets:read"]);
      const sub = subscribeOverWs(reader.token, w.space.id);
      await untilLive(sub, w.space.id);
      const tokenId = (await t.deps.prisma.apiToken.findFirstOrThrow({ where: { accountId: reader.account.id } })).id;

      const startedAt = Date.now();
      const res = await gqlAt(`${url}/graphql`, RevokeApiTokenDocument, { id: tokenId }, w.adminToken);
      expect(res.data?.revokeApiToken.revokedAt).toBeTruthy();
      const closed = await within(sub.closed, 3000, "close");
      expect(closed).toMatchObject({ code: 4403, reason: "Token revoked" });
      expect(closed.at - startedAt).toBeLessThan(1000);
    } finally {
      await app2.stop();
      await deps2.close();
    }
  });

  it("are closed with 4401 when their token expires, and the token is refused over HTTP after that", async () => {
    const reader = await t.factories.member(w.org.id, w.space.id, ["assets:read"]);
    const expiresAt = new Date(Date.now() + 1500);
    const res = await t.gql(
      CreateApiTokenDocument,
      { input: { accountId: reader.account.id, name: "short", expiresAt: expiresAt.toISOString() } },
      reader.token,
    );
    const secret = res.data!.createApiToken.secret;
    const sub = subscribeOverWs(secret, w.space.id);
    await untilLive(sub, w.space.id);
    expect((await t.gql(ViewerDocument, {}, secret)).data?.viewer.accountId).toBe(reader.account.id);

    const closed = await within(sub.closed, 3000, "close");
    expect(closed).toMatchObject({ code: 4401, reason: "Token expired" });
    expect(closed.at).toBeGreaterThanOrEqual(expiresAt.getTime() - 50);
    expect(closed.at - expiresAt.getTime()).toBeLessThan(1000);
    expect(errorCode(await t.gql(ViewerDocument, {}, secret))).toBe("UNAUTHENTICATED");
  });

  it("refuse to open with a revoked or malformed token (4403)", async () => {
    const a = await plainAccount();
    await t.gql(RevokeApiTokenDocument, { id: a.tokenId }, w.adminToken);
    expect(await within(subscribeOverWs(a.token, w.space.id).closed, 3000, "close")).toMatchObject({ code: 4403, reason: "Forbidden" });
    expect(await within(subscribeOverWs(undefined, w.space.id, "Basic abc").closed, 3000, "close")).toMatchObject({ code: 4403, reason: "Forbidden" });
  });

  it("of an account keep their subscription while it holds the permission, and end only that subscription when it loses access", async () => {
    const reader = await t.factories.member(w.org.id, w.space.id, ["assets:read"]);
    const other = await t.factories.member(w.org.id, w.space.id, ["assets:read"]);
    const target = { spaceId: w.space.id, accountId: reader.account.id };

    const first = subscribeOverWs(reader.token, w.space.id);
    const bystander = subscribeOverWs(other.token, w.space.id);
    await untilLive(first, w.space.id);
    await untilLive(bystander, w.space.id);
    await t.gql(GrantSpaceAccessDocument, { input: { ...target, permissions: ["assets:read", "assets:create"] } }, w.adminToken);
    await sleep(300);
    expect(first.isClosed()).toBe(false);

    // Taking away a permission the subscription does not need: it re-checks and carries on.
    await t.gql(GrantSpaceAccessDocument, { input: { ...target, permissions: ["assets:read"] } }, w.adminToken);
    await untilLive(first, w.space.id);
    expect(first.isClosed()).toBe(false);

    const startedAt = Date.now();
    expect((await t.gql(RevokeSpaceAccessDocument, { input: target }, w.adminToken)).data?.revokeSpaceAccess).toBe(true);
    await within(first.ended, 3000, "end of subscription");
    expect(Date.now() - startedAt).toBeLessThan(1000);
    // The subscription ends with the error a new one would get; the socket stays open.
    expect(first.events.at(-1)).toMatchObject({ errors: [{ extensions: { code: "NOT_FOUND" } }] });
    expect(first.isClosed()).toBe(false);
    await untilLive(bystander, w.space.id);
    expect(bystander.isClosed()).toBe(false);
  });
});

describe("open SSE streams", () => {
  it("end when their token is revoked", async () => {
    const reader = await t.factories.member(w.org.id, w.space.id, ["assets:read"]);
    const tokenId = (await t.deps.prisma.apiToken.findFirstOrThrow({ where: { accountId: reader.account.id } })).id;
    const controller = new AbortController();
    const res = await fetch(t.graphqlUrl, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream", authorization: `Bearer ${reader.token}` },
      body: JSON.stringify({ query: print(SpaceEventsDocument), variables: { spaceId: w.space.id } }),
      signal: controller.signal,
    });
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const stream = { events: [] as string[] };
    const decoder = new TextDecoder();
    const reader_ = res.body!.getReader();
    const ended = (async () => {
      for (;;) {
        const { value, done } = await reader_.read();
        if (done) return Date.now();
        const text = decoder.decode(value);
        if (text.includes("spaceEvents")) stream.events.push(text);
      }
    })();
    try {
      await untilLive(stream, w.space.id);
      const startedAt = Date.now();
      await t.gql(RevokeApiTokenDocument, { id: tokenId }, w.adminToken);
      const endedAt = await within(ended, 3000, "end of stream");
      expect(endedAt - startedAt).toBeLessThan(1000);
    } finally {
      controller.abort();
    }
  });
});

describe("grantSpaceAccess and revokeSpaceAccess", () => {
  it("change what the account can do in the space", async () => {
    const a = await plainAccount();
    const target = { spaceId: w.space.id, accountId: a.account.id };
    const mkdir = () => t.gql(CreateFolderSimpleDocument, { spaceId: w.space.id, path: `g-${randomUUID()}` }, a.token);
    expect(errorCode(await mkdir())).toBe("NOT_FOUND");

    const read = await t.gql(GrantSpaceAccessDocument, { input: { ...target, permissions: ["assets:read"] } }, w.adminToken);
    expect(read.data?.grantSpaceAccess).toMatchObject({ ...target, permissions: ["assets:read"], space: { id: w.space.id }, account: { id: a.account.id } });
    expect(read.data?.grantSpaceAccess.id).toMatch(/^grt_/);
    expect((await t.gql(AssetAtPathDocument, { spaceId: w.space.id, path: "" }, a.token)).data?.entry?.__typename).toBe("Folder");
    expect(errorCode(await mkdir())).toBe("FORBIDDEN");

    // Replaces the set (duplicates collapse, order is normalized), same grant row.
    const both = await t.gql(GrantSpaceAccessDocument, { input: { ...target, permissions: ["assets:create", "assets:read", "assets:create"] } }, w.adminToken);
    expect(both.data?.grantSpaceAccess).toMatchObject({ id: read.data?.grantSpaceAccess.id, permissions: ["assets:create", "assets:read"] });
    expect((await mkdir()).errors).toBeUndefined();

    expect((await t.gql(RevokeSpaceAccessDocument, { input: target }, w.adminToken)).data?.revokeSpaceAccess).toBe(true);
    expect(errorCode(await mkdir())).toBe("NOT_FOUND");
    expect((await t.gql(RevokeSpaceAccessDocument, { input: target }, w.adminToken)).data?.revokeSpaceAccess).toBe(false);
  });

  it("are allowed to space:admin holders on their space only", async () => {
    const spaceAdmin = await t.factories.member(w.org.id, w.space.id, ["space:admin"]);
    const otherSpace = await t.factories.space(w.org.id);
    const a = await plainAccount();

    const granted = await t.gql(
      GrantSpaceAccessDocument,
      { input: { spaceId: w.space.id, accountId: a.account.id, permissions: ["assets:read"] } },
      spaceAdmin.token,
    );
    expect(granted.data?.grantSpaceAccess.permissions).toEqual(["assets:read"]);
    expect(
      (await t.gql(RevokeSpaceAccessDocument, { input: { spaceId: w.space.id, accountId: a.account.id } }, spaceAdmin.token)).data?.revokeSpaceAccess,
    ).toBe(true);

    const elsewhere = await t.gql(
      GrantSpaceAccessDocument,
      { input: { spaceId: otherSpace.id, accountId: a.account.id, permissions: ["assets:read"] } },
      spaceAdmin.token,
    );
    expect(errorCode(elsewhere)).toBe("NOT_FOUND");

    const readerOnly = await t.factories.member(w.org.id, w.space.id, ["assets:read"]);
    const denied = await t.gql(
      GrantSpaceAccessDocument,
      { input: { spaceId: w.space.id, accountId: a.account.id, permissions: ["assets:read"] } },
      readerOnly.token,
    );
    expect(errorCode(denied)).toBe("FORBIDDEN");
    expect(errorCode(await t.gql(RevokeSpaceAccessDocument, { input: { spaceId: w.space.id, accountId: readerOnly.account.id } }, readerOnly.token))).toBe(
      "FORBIDDEN",
    );
    expect(await t.deps.prisma.spaceGrant.count({ where: { accountId: a.account.id } })).toBe(0);
  });

  it("answer NOT_FOUND for a space or an account of another organization", async () => {
    const other = await t.factories.world();
    const outsider = await plainAccount(other.org.id);
    const intoOtherOrg = await t.gql(
      GrantSpaceAccessDocument,
      { input: { spaceId: w.space.id, accountId: outsider.account.id, permissions: ["assets:read"] } },
      w.adminToken,
    );
    expect(errorCode(intoOtherOrg)).toBe("NOT_FOUND");
    const theirSpace = await t.gql(
      GrantSpaceAccessDocument,
      { input: { spaceId: w.space.id, accountId: w.admin.id, permissions: ["assets:read"] } },
      other.adminToken,
    );
    expect(errorCode(theirSpace)).toBe("NOT_FOUND");
    expect(errorCode(await t.gql(RevokeSpaceAccessDocument, { input: { spaceId: w.space.id, accountId: w.admin.id } }, other.adminToken))).toBe("NOT_FOUND");
  });

  it("refuse unknown permission names, listing them, and an empty set (BAD_USER_INPUT)", async () => {
    const a = await plainAccount();
    const res = await t.gql(
      GrantSpaceAccessDocument,
      { input: { spaceId: w.space.id, accountId: a.account.id, permissions: ["assets:read", "assets:fly", "root"] } },
      w.adminToken,
    );
    expect(errorCode(res)).toBe("BAD_USER_INPUT");
    expect(res.errors![0]!.extensions!.details).toMatchObject({ unknownPermissions: ["assets:fly", "root"] });
    const empty = await t.gql(GrantSpaceAccessDocument, { input: { spaceId: w.space.id, accountId: a.account.id, permissions: [] } }, w.adminToken);
    expect(errorCode(empty)).toBe("BAD_USER_INPUT");
    expect(await t.deps.prisma.spaceGrant.count({ where: { accountId: a.account.id } })).toBe(0);
  });
});

describe("createLiveAccess (the session registry behind the closing)", () => {
  const viewer = (expiresInMs: number | null = null) => ({
    tokenId: `tok_${randomUUID()}`,
    accountId: `acc_${randomUUID()}`,
    tokenExpiresAt: expiresInMs === null ? null : new Date(Date.now() + expiresInMs),
  });

  it("ends a session whose revocation was heard while it was still authenticating", () => {
    const live = createLiveAccess();
    const v = viewer();
    const since = live.checkpoint();
    live.tokenRevoked(v.tokenId); // arrives between reading the token and registering the session
    const ended: EndReason[] = [];
    live.track(v, since, (why) => ended.push(why));
    expect(ended).toEqual([TOKEN_REVOKED]);

    // A session authenticated after the revocation was heard is not ended by it.
    const later: EndReason[] = [];
    live.track(viewer(), live.checkpoint(), (why) => later.push(why));
    expect(later).toEqual([]);
    live.close();
  });

  it("does not end a session whose token expires beyond setTimeout's 24.8-day range", async () => {
    const live = createLiveAccess();
    const ended: EndReason[] = [];
    live.track(viewer(30 * 24 * 3600 * 1000), live.checkpoint(), (why) => ended.push(why));
    await sleep(50);
    expect(ended).toEqual([]);
    live.close();
  });
});
