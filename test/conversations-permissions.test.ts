// The permission matrix of the conversation operations (decision 48). Room
// content has two gates, the space permission and membership, so each
// operation runs with
//   - no token                                              -> UNAUTHENTICATED
//   - every permission on ANOTHER space only                -> NOT_FOUND (or null)
//   - a participant holding every permission of the space but this one
//     (and space:admin, which alone opens every room)       -> FORBIDDEN (reads: NOT_FOUND or null)
//   - an account holding just this permission, not a participant -> NOT_FOUND (room-scoped operations)
//   - a participant holding just this permission             -> allowed
//   - a space admin that is not a participant                -> reads and managing participants allowed, posting FORBIDDEN
// Space-scoped operations (createRoom, openDirectRoom, rooms, agentEvents) need no membership.
import { createClient } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { PERMISSIONS, type Permission } from "../src/access/permissions.ts";
import { newId } from "../src/ids.ts";
import { buildTestApp, errorCode, type GraphQLResponse, type TestApp } from "./harness.ts";

let t: TestApp;
let w: Awaited<ReturnType<TestApp["factories"]["world"]>>;
let otherSpaceToken: string;

beforeAll(async () => {
  t = await buildTestApp({ workers: false, env: { CONVERSATION_POST_LIMIT: "10000" } });
  w = await t.factories.world();
  const other = await t.factories.space(w.org.id, "other");
  otherSpaceToken = (await t.factories.member(w.org.id, other.id, [...PERMISSIONS])).token;
});
afterAll(() => t?.close());

type Res = GraphQLResponse<Record<string, unknown>>;
type Targets = { room: string; conversation: string; message: string; mine: string; streaming: string; extra: string };
type Op = {
  name: string;
  permission: Permission;
  /** Room-scoped: needs membership (the default). */
  scope?: "room" | "space";
  /** The participant's role in the target room (OWNER for participant management). */
  role?: "OWNER" | "MEMBER";
  run: (token: string | undefined, targets: Targets) => Promise<Res>;
  nullWhenHidden?: (res: Res) => unknown;
  /** What a space admin that is not a participant gets. */
  admin: "allowed" | "FORBIDDEN";
};

const gql = (query: string, variables: Record<string, unknown>, token?: string) =>
  t.gql<Record<string, unknown>, Record<string, unknown>>(query, variables, token);

/**
 * A room made by the organization admin (its OWNER) with a conversation and a
 * message; with `account`, that account's own messages too (a STREAMING one
 * among them), and, when `participant`, the account in the room.
 */
async function setup(account: { id: string; role: "OWNER" | "MEMBER" } | null, participant = true): Promise<Targets> {
  const rooms = t.deps.services.rooms;
  const admin = {
    accountId: w.admin.id,
    organizationId: w.org.id,
    tokenId: "x",
    tokenExpiresAt: null,
    isOrgAdmin: true,
    kind: "SERVICE" as const,
    grants: new Map(),
  };
  const room = await rooms.createRoom(admin, {
    spaceId: w.space.id,
    name: "r",
    participants: account && participant ? [{ accountId: account.id, role: account.role }] : [],
  });
  const conversation = await t.deps.services.conversations.createConversation(admin, { roomId: room.id, title: "c" });
  const message = await t.deps.services.messages.postMessage(admin, { conversationId: conversation.id, text: "by admin" });
  const mine = newId("Message");
  const streaming = newId("Message");
  if (account) {
    // The account's own messages, written directly (the member under test may lack conversations:write).
    await t.deps.prisma.message.createMany({
      data: [
        { id: mine, conversationId: conversation.id, seq: 2, authorId: account.id, role: "USER", text: "mine" },
        { id: streaming, conversationId: conversation.id, seq: 3, authorId: account.id, role: "USER", text: "", status: "STREAMING" },
      ],
    });
    await t.deps.prisma.conversation.update({ where: { id: conversation.id }, data: { lastSeq: 3 } });
  }
  const extra = (await t.factories.account(w.org.id)).id;
  return { room: room.id, conversation: conversation.id, message: message.id, mine, streaming, extra };
}

async function subscribeOnce(token: string | undefined, query: string, variables: Record<string, unknown>, nudge: () => Promise<unknown>): Promise<Res> {
  const client = createClient({
    url: t.wsUrl,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
  });
  try {
    const iterator = client.iterate({ query, variables });
    // Allowed subscribers get no error: nudge events until one arrives (the subscription may take a moment to be live).
    const nudging = setInterval(() => void nudge(), 300);
    const first = await iterator.next().finally(() => clearInterval(nudging));
    await iterator.return?.();
    return first.value as Res;
  } catch (e) {
    return { errors: (Array.isArray(e) ? e : [e]) as never };
  } finally {
    await client.dispose();
  }
}

const adminViewer = () => ({
  accountId: w.admin.id,
  organizationId: w.org.id,
  tokenId: "x",
  tokenExpiresAt: null,
  isOrgAdmin: true,
  kind: "SERVICE" as const,
  grants: new Map(),
});

/** A completed attachment uploaded by the organization admin (the room's OWNER) into `conversation`. */
async function adminAttachment(conversation: string): Promise<string> {
  const body = Buffer.from("a,b\n1,2\n");
  const { attachment, uploadRequest } = await t.deps.services.attachments.createAttachmentUpload(adminViewer(), {
    conversationId: conversation,
    filename: "t.csv",
    mimeType: "text/csv",
    size: body.length,
  });
  const headers = Object.fromEntries(Object.entries(uploadRequest.headers).filter(([k]) => k.toLowerCase() !== "content-length"));
  const res = await fetch(uploadRequest.url, { method: "PUT", headers, body: new Uint8Array(body) });
  expect(res.status).toBe(200);
  return attachment.id;
}

const adminPost = (conversation: string) =>
  gql(`mutation($c: ID!) { postMessage(input: { conversationId: $c, text: "nudge" }) { id } }`, { c: conversation }, w.adminToken);

const OPS: Op[] = [
  {
    name: "createAttachmentUpload",
    permission: "conversations:write",
    admin: "FORBIDDEN",
    run: (token, x) =>
      gql(
        `mutation($c: ID!) { createAttachmentUpload(input: { conversationId: $c, filename: "a.png", mimeType: "image/png", size: 4 }) { attachmentId } }`,
        { c: x.conversation },
        token,
      ),
  },
  {
    name: "attachments(spaceId)",
    permission: "attachments:manage",
    scope: "space",
    admin: "allowed",
    run: (token) => gql(`query($s: ID!) { attachments(spaceId: $s) { items { id } nextCursor } }`, { s: w.space.id }, token),
  },
  {
    name: "setAttachmentRetention (space default)",
    permission: "attachments:manage",
    scope: "space",
    admin: "allowed",
    run: (token) =>
      gql(`mutation($s: ID!) { setAttachmentRetention(input: { spaceId: $s, retentionDays: null }) { retentionDays } }`, { s: w.space.id }, token),
  },
  {
    name: "setAttachmentRetention (another's attachment)",
    permission: "attachments:manage",
    scope: "space",
    admin: "allowed",
    run: async (token, x) =>
      gql(
        `mutation($a: ID!) { setAttachmentRetention(input: { attachmentId: $a, retentionAt: null }) { updated } }`,
        { a: await adminAttachment(x.conversation) },
        token,
      ),
  },
  {
    name: "softDeleteAttachment",
    permission: "attachments:manage",
    scope: "space",
    admin: "allowed",
    run: async (token, x) => gql(`mutation($a: ID!) { softDeleteAttachment(id: $a) { id } }`, { a: await adminAttachment(x.conversation) }, token),
  },
  {
    name: "restoreAttachment",
    permission: "attachments:manage",
    scope: "space",
    admin: "allowed",
    run: async (token, x) => gql(`mutation($a: ID!) { restoreAttachment(id: $a) { id } }`, { a: await adminAttachment(x.conversation) }, token),
  },
  {
    name: "deleteAttachment (another's attachment)",
    permission: "attachments:manage",
    scope: "space",
    admin: "allowed",
    run: async (token, x) => gql(`mutation($a: ID!) { deleteAttachment(id: $a) }`, { a: await adminAttachment(x.conversation) }, token),
  },
  {
    name: "room(id)",
    permission: "conversations:read",
    admin: "allowed",
    run: (token, x) => gql(`query($r: ID!) { room(id: $r) { id participants { accountId } } }`, { r: x.room }, token),
    nullWhenHidden: (res) => res.data?.room,
  },
  {
    name: "node(id) of a room",
    permission: "conversations:read",
    admin: "allowed",
    run: (token, x) => gql(`query($r: ID!) { node(id: $r) { id } }`, { r: x.room }, token),
    nullWhenHidden: (res) => res.data?.node,
  },
  {
    name: "conversation(id) and its messages",
    permission: "conversations:read",
    admin: "allowed",
    run: (token, x) =>
      gql(`query($c: ID!) { conversation(id: $c) { id unreadCount messages(last: 5) { edges { node { text } } } } }`, { c: x.conversation }, token),
    nullWhenHidden: (res) => res.data?.conversation,
  },
  {
    name: "node(id) of a message",
    permission: "conversations:read",
    admin: "allowed",
    run: (token, x) => gql(`query($m: ID!) { node(id: $m) { id } }`, { m: x.message }, token),
    nullWhenHidden: (res) => res.data?.node,
  },
  {
    name: "Room.conversations",
    permission: "conversations:read",
    admin: "allowed",
    run: (token, x) => gql(`query($r: ID!) { room(id: $r) { conversations(first: 5) { edges { node { title } } } } }`, { r: x.room }, token),
    nullWhenHidden: (res) => res.data?.room,
  },
  {
    name: "rooms(spaceId)",
    permission: "conversations:read",
    scope: "space",
    admin: "allowed",
    run: (token) => gql(`query($s: ID!) { rooms(spaceId: $s, first: 5) { edges { node { id } } } }`, { s: w.space.id }, token),
  },
  {
    name: "conversationEvents",
    permission: "conversations:read",
    admin: "allowed",
    run: (token, x) =>
      subscribeOnce(token, `subscription($c: ID!) { conversationEvents(conversationId: $c) { cursor type } }`, { c: x.conversation }, () =>
        adminPost(x.conversation),
      ),
  },
  {
    name: "roomEvents",
    permission: "conversations:read",
    admin: "allowed",
    run: (token, x) =>
      subscribeOnce(token, `subscription($r: ID!) { roomEvents(roomId: $r) { cursor type } }`, { r: x.room }, () =>
        gql(`mutation($r: ID!) { createConversation(input: { roomId: $r, title: "nudge" }) { id } }`, { r: x.room }, w.adminToken),
      ),
  },
  {
    name: "agentEvents",
    permission: "conversations:read",
    scope: "space",
    admin: "allowed",
    run: (token, x) =>
      subscribeOnce(token, `subscription($s: ID!) { agentEvents(spaceId: $s) { cursor type } }`, { s: w.space.id }, () => adminPost(x.conversation)),
  },
  {
    name: "typing",
    permission: "conversations:read",
    admin: "allowed",
    run: (token, x) =>
      subscribeOnce(token, `subscription($c: ID!) { typing(conversationId: $c) { accountId typing } }`, { c: x.conversation }, () =>
        gql(`mutation($c: ID!) { setTyping(conversationId: $c) }`, { c: x.conversation }, w.adminToken),
      ),
  },
  {
    name: "setTyping",
    permission: "conversations:write",
    admin: "FORBIDDEN",
    run: (token, x) => gql(`mutation($c: ID!) { setTyping(conversationId: $c) }`, { c: x.conversation }, token),
  },
  {
    name: "markRead",
    permission: "conversations:read",
    admin: "FORBIDDEN",
    run: (token, x) => gql(`mutation($c: ID!) { markRead(input: { conversationId: $c, seq: 1 }) { seq } }`, { c: x.conversation }, token),
  },
  {
    name: "createRoom",
    permission: "conversations:write",
    scope: "space",
    admin: "FORBIDDEN",
    run: (token) => gql(`mutation($s: ID!) { createRoom(input: { spaceId: $s, name: "n" }) { id } }`, { s: w.space.id }, token),
  },
  {
    name: "openDirectRoom",
    permission: "conversations:write",
    scope: "space",
    admin: "FORBIDDEN",
    run: (token, x) =>
      gql(`mutation($s: ID!, $a: ID!) { openDirectRoom(input: { spaceId: $s, accountIds: [$a] }) { id } }`, { s: w.space.id, a: x.extra }, token),
  },
  {
    name: "createConversation",
    permission: "conversations:write",
    admin: "FORBIDDEN",
    run: (token, x) => gql(`mutation($r: ID!) { createConversation(input: { roomId: $r, title: "t" }) { id } }`, { r: x.room }, token),
  },
  {
    name: "postMessage",
    permission: "conversations:write",
    admin: "FORBIDDEN",
    run: (token, x) => gql(`mutation($c: ID!) { postMessage(input: { conversationId: $c, text: "hi" }) { seq } }`, { c: x.conversation }, token),
  },
  {
    name: "appendMessageDelta",
    permission: "conversations:write",
    admin: "FORBIDDEN",
    run: (token, x) => gql(`mutation($m: ID!) { appendMessageDelta(input: { messageId: $m, delta: "d" }) { id } }`, { m: x.streaming }, token),
  },
  {
    name: "completeMessage",
    permission: "conversations:write",
    admin: "FORBIDDEN",
    run: (token, x) => gql(`mutation($m: ID!) { completeMessage(input: { messageId: $m }) { status } }`, { m: x.streaming }, token),
  },
  {
    name: "editMessage",
    permission: "conversations:write",
    admin: "FORBIDDEN",
    run: (token, x) => gql(`mutation($m: ID!) { editMessage(input: { id: $m, text: "e" }) { editedAt } }`, { m: x.mine }, token),
  },
  {
    name: "deleteMessage",
    permission: "conversations:write",
    admin: "FORBIDDEN",
    run: (token, x) => gql(`mutation($m: ID!) { deleteMessage(id: $m) { deleted } }`, { m: x.mine }, token),
  },
  {
    name: "addParticipant",
    permission: "conversations:write",
    role: "OWNER",
    admin: "allowed",
    run: (token, x) => gql(`mutation($r: ID!, $a: ID!) { addParticipant(input: { roomId: $r, accountId: $a }) { role } }`, { r: x.room, a: x.extra }, token),
  },
  {
    name: "updateParticipant",
    permission: "conversations:write",
    role: "OWNER",
    admin: "allowed",
    run: (token, x) =>
      gql(
        `mutation($r: ID!, $a: ID!) { updateParticipant(input: { roomId: $r, accountId: $a, autoRespond: true }) { autoRespond } }`,
        { r: x.room, a: w.admin.id },
        token,
      ),
  },
  {
    name: "removeParticipant",
    permission: "conversations:write",
    role: "OWNER",
    admin: "allowed",
    run: (token, x) => gql(`mutation($r: ID!, $a: ID!) { removeParticipant(input: { roomId: $r, accountId: $a }) }`, { r: x.room, a: w.admin.id }, token),
  },
];

const hiddenOrNotFound = (op: Op, res: Res) => {
  if (op.nullWhenHidden && !res.errors) expect(op.nullWhenHidden(res) ?? null).toBeNull();
  else expect(errorCode(res)).toBe("NOT_FOUND");
  expect(JSON.stringify(res)).not.toContain("FORBIDDEN");
};

describe.each(OPS)("$name ($permission)", (op) => {
  const room = (op.scope ?? "room") === "room";
  const member = async (permissions: Permission[], participant: boolean) => {
    const m = await t.factories.member(w.org.id, w.space.id, permissions);
    return { token: m.token, targets: await setup({ id: m.account.id, role: op.role ?? "MEMBER" }, participant) };
  };

  it("no token: UNAUTHENTICATED", async () => {
    expect(errorCode(await op.run(undefined, await setup(null)))).toBe("UNAUTHENTICATED");
  });

  it("full rights on another space only: NOT_FOUND", async () => {
    hiddenOrNotFound(op, await op.run(otherSpaceToken, await setup(null)));
  });

  it("a participant with every permission but this one (and space:admin): FORBIDDEN, or hidden for reads", async () => {
    const { token, targets } = await member(
      PERMISSIONS.filter((p) => p !== op.permission && p !== "space:admin"),
      true,
    );
    const res = await op.run(token, targets);
    if (op.permission === "conversations:read" && room) hiddenOrNotFound(op, res);
    else expect(errorCode(res)).toBe("FORBIDDEN");
  });

  // Only operations on a room's content have a "not a participant" case.
  if (room) {
    it("just this permission, not a participant: NOT_FOUND", async () => {
      const { token, targets } = await member([op.permission], false);
      hiddenOrNotFound(op, await op.run(token, targets));
    });
  }

  it("a participant with just this permission: allowed", async () => {
    const { token, targets } = await member([op.permission], true);
    const res = await op.run(token, targets);
    expect(res.errors).toBeUndefined();
    expect(res.data).toBeTruthy();
    if (op.nullWhenHidden) expect(op.nullWhenHidden(res)).toBeTruthy();
  });

  it(`a space admin, not a participant: ${op.admin}`, async () => {
    const { token, targets } = await member(["space:admin", op.permission], false);
    const res = await op.run(token, targets);
    if (op.admin === "allowed") {
      expect(res.errors).toBeUndefined();
      if (op.nullWhenHidden) expect(op.nullWhenHidden(res)).toBeTruthy();
    } else if (room) expect(errorCode(res)).toBe("FORBIDDEN");
    else expect(res.errors).toBeUndefined();
  });
});
