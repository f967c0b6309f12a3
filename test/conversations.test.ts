// Conversations over real HTTP and WebSocket: DM deduplication under
// concurrency, participants, gap-free seqs, idempotent retries, edits and
// tombstones, history paging both ways, read horizons, streaming and the
// stale-stream job, flow-engine events with triggers and the loop guard, rate
// limits, and resuming subscriptions (graphql-ws, SSE, a second process).
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../src/free-port.ts";
import { buildTestApp, eventually, type TestApp } from "./harness.ts";
import { startServer, type Server } from "./support/processes.ts";
import { call, conversationWorld, createWsClients, EVENT_FIELDS, ok, record } from "./support/conversations.ts";

let t: TestApp;
let w: Awaited<ReturnType<typeof conversationWorld>>;
const ws = createWsClients();
const CHAIN_DEPTH = 3;

beforeAll(async () => {
  t = await buildTestApp({
    workers: false,
    env: {
      CONVERSATION_AGENT_CHAIN_DEPTH: String(CHAIN_DEPTH),
      CONVERSATION_POST_LIMIT: "40",
      CONVERSATION_RATE_WINDOW_SECONDS: "3600",
      CONVERSATION_DM_MAX_PARTICIPANTS: "4",
    },
  });
  w = await conversationWorld(t);
});
afterAll(async () => {
  await ws.dispose();
  await t?.close();
});

const q = {
  openDm: `mutation($s: ID!, $a: [ID!]!) { openDirectRoom(input: { spaceId: $s, accountIds: $a }) { id kind participants { accountId role autoRespond } } }`,
  createRoom: `mutation($s: ID!, $n: String, $p: [ParticipantInput!]) { createRoom(input: { spaceId: $s, name: $n, participants: $p }) { id kind participants { accountId role autoRespond } } }`,
  createConversation: `mutation($r: ID!, $t: String) { createConversation(input: { roomId: $r, title: $t }) { id title lastSeq } }`,
  post: `mutation($c: ID!, $text: String, $data: JSON, $cmid: String, $streaming: Boolean) { postMessage(input: { conversationId: $c, text: $text, data: $data, clientMessageId: $cmid, streaming: $streaming }) { id seq text status role authorId clientMessageId } }`,
  history: `query($c: ID!, $first: Int, $after: String, $last: Int, $before: String) { conversation(id: $c) { messages(first: $first, after: $after, last: $last, before: $before) { edges { cursor node { seq text deleted editedAt status interrupted } } pageInfo { hasPreviousPage hasNextPage startCursor endCursor } } } }`,
};

type Msg = { id: string; seq: number; text: string; status: string; role: string; authorId: string; clientMessageId: string | null };

async function roomWith(ownerToken: string, participants: { accountId: string; role?: string; autoRespond?: boolean }[] = []) {
  const d = await ok<{ createRoom: { id: string } }>(t.graphqlUrl, ownerToken, q.createRoom, { s: w.space.id, n: "room", p: participants });
  return d.createRoom.id;
}
async function conversationIn(roomId: string, token: string, title = "thread") {
  return (await ok<{ createConversation: { id: string } }>(t.graphqlUrl, token, q.createConversation, { r: roomId, t: title })).createConversation.id;
}
const post = async (token: string, c: string, text: string, extra: Record<string, unknown> = {}, url = t.graphqlUrl) =>
  (await ok<{ postMessage: Msg }>(url, token, q.post, { c, text, ...extra })).postMessage;

describe("DM rooms", () => {
  it("20 concurrent openDirectRoom calls with the same set (any order, repeats) return one room", async () => {
    const a = await w.user();
    const b = await w.user();
    const bot = await w.agent();
    const sets = Array.from({ length: 20 }, (_, i) => (i % 3 === 0 ? [bot.id, b.id] : i % 3 === 1 ? [b.id, bot.id, b.id, a.id] : [b.id, bot.id]));
    const results = await Promise.all(sets.map((s) => call<{ openDirectRoom: { id: string } }>(t.graphqlUrl, a.token, q.openDm, { s: w.space.id, a: s })));
    expect(results.flatMap((r) => r.errors ?? [])).toEqual([]);
    const ids = new Set(results.map((r) => r.data!.openDirectRoom.id));
    expect(ids.size).toBe(1);
    expect(await t.deps.prisma.room.count({ where: { spaceId: w.space.id, kind: "DM", participants: { some: { accountId: bot.id } } } })).toBe(1);
    // The other participant opening the same set meets the same room; the agent joined as AGENT with autoRespond.
    const fromB = await ok<{ openDirectRoom: { id: string; participants: { accountId: string; role: string; autoRespond: boolean }[] } }>(
      t.graphqlUrl,
      b.token,
      q.openDm,
      { s: w.space.id, a: [bot.id, a.id] },
    );
    expect(ids.has(fromB.openDirectRoom.id)).toBe(true);
    expect(fromB.openDirectRoom.participants.find((p) => p.accountId === bot.id)).toEqual({ accountId: bot.id, role: "AGENT", autoRespond: true });
    // Only one room.participant_joined per participant was recorded.
    const joined = await t.deps.prisma.event.count({ where: { type: "room.participant_joined", spaceId: w.space.id, subjectId: bot.id } });
    expect(joined).toBe(1);
    // Membership changes are refused with a clear code.
    const c = await w.user();
    const add = await call(t.graphqlUrl, a.token, `mutation($r: ID!, $a: ID!) { addParticipant(input: { roomId: $r, accountId: $a }) { accountId } }`, {
      r: fromB.openDirectRoom.id,
      a: c.id,
    });
    expect(add.errors?.[0]?.extensions?.code).toBe("ROOM_IS_DIRECT");
    const remove = await call(t.graphqlUrl, a.token, `mutation($r: ID!, $a: ID!) { removeParticipant(input: { roomId: $r, accountId: $a }) }`, {
      r: fromB.openDirectRoom.id,
      a: b.id,
    });
    expect(remove.errors?.[0]?.extensions?.code).toBe("ROOM_IS_DIRECT");
  });

  it("refuses a DM over the size cap, and one with nobody else", async () => {
    const a = await w.user();
    const others = await Promise.all([w.user(), w.user(), w.user(), w.user()]);
    const big = await call(t.graphqlUrl, a.token, q.openDm, { s: w.space.id, a: others.map((o) => o.id) });
    expect(big.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    expect((big.errors![0]!.extensions as { details?: { reason?: string } }).details?.reason).toBe("DM_TOO_LARGE");
    const alone = await call(t.graphqlUrl, a.token, q.openDm, { s: w.space.id, a: [a.id] });
    expect(alone.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    const foreign = await call(t.graphqlUrl, a.token, q.openDm, { s: w.space.id, a: [(await t.factories.world()).admin.id] });
    expect(foreign.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
  });
});

describe("rooms and participants", () => {
  it("adds, updates and removes participants; non-participants see nothing; observers read but cannot post", async () => {
    const owner = await w.user();
    const member = await w.user();
    const observer = await w.user();
    const outsider = await w.user();
    const room = await roomWith(owner.token, [{ accountId: member.id }]);
    await ok(t.graphqlUrl, owner.token, `mutation($r: ID!, $a: ID!) { addParticipant(input: { roomId: $r, accountId: $a, role: OBSERVER }) { role } }`, {
      r: room,
      a: observer.id,
    });
    const conv = await conversationIn(room, member.token);
    await post(member.token, conv, "hello");
    const observed = await call(t.graphqlUrl, observer.token, q.post, { c: conv, text: "me too" });
    expect(observed.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    expect((await ok<{ conversation: unknown }>(t.graphqlUrl, observer.token, q.history, { c: conv })).conversation).not.toBeNull();
    // An outsider with conversation rights on the space: the room does not exist for it.
    expect((await ok<{ room: unknown }>(t.graphqlUrl, outsider.token, `query($r: ID!) { room(id: $r) { id } }`, { r: room })).room).toBeNull();
    expect((await call(t.graphqlUrl, outsider.token, q.post, { c: conv, text: "x" })).errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    // A member cannot manage participants; the owner can.
    const denied = await call(t.graphqlUrl, member.token, `mutation($r: ID!, $a: ID!) { addParticipant(input: { roomId: $r, accountId: $a }) { role } }`, {
      r: room,
      a: outsider.id,
    });
    expect(denied.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    const updated = await ok<{ updateParticipant: { role: string; autoRespond: boolean } }>(
      t.graphqlUrl,
      owner.token,
      `mutation($r: ID!, $a: ID!) { updateParticipant(input: { roomId: $r, accountId: $a, role: AGENT, autoRespond: true }) { role autoRespond } }`,
      { r: room, a: member.id },
    );
    expect(updated.updateParticipant).toEqual({ role: "AGENT", autoRespond: true });
    // Anyone may leave; afterwards the room is gone for it.
    expect(
      (
        await ok<{ removeParticipant: boolean }>(
          t.graphqlUrl,
          member.token,
          `mutation($r: ID!, $a: ID!) { removeParticipant(input: { roomId: $r, accountId: $a }) }`,
          { r: room, a: member.id },
        )
      ).removeParticipant,
    ).toBe(true);
    expect((await call(t.graphqlUrl, member.token, q.post, { c: conv, text: "x" })).errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    const types = (
      await t.deps.prisma.event.findMany({ where: { spaceId: w.space.id, payload: { path: ["roomId"], equals: room } }, orderBy: { id: "asc" } })
    ).map((e) => e.type);
    expect(types).toEqual([
      "room.participant_joined",
      "room.participant_joined",
      "room.participant_joined",
      "conversation.created",
      "conversation.message_posted",
      "room.participant_updated",
      "room.participant_left",
    ]);
  });

  it("lists conversations by last activity", async () => {
    const owner = await w.user();
    const room = await roomWith(owner.token);
    const first = await conversationIn(room, owner.token, "first");
    const second = await conversationIn(room, owner.token, "second");
    await post(owner.token, first, "bump");
    const d = await ok<{ room: { conversations: { edges: { node: { title: string } }[] } } }>(
      t.graphqlUrl,
      owner.token,
      `query($r: ID!) { room(id: $r) { conversations(first: 10) { edges { node { title } } } } }`,
      { r: room },
    );
    expect(d.room.conversations.edges.map((e) => e.node.title)).toEqual(["first", "second"]);
    void second;
  });
});

describe("messages", () => {
  it("assigns gap-free seqs to concurrent posts, and a retried clientMessageId returns the original", async () => {
    const owner = await w.user();
    const room = await roomWith(owner.token);
    const conv = await conversationIn(room, owner.token);
    const posts = await Promise.all(Array.from({ length: 15 }, (_, i) => post(owner.token, conv, `m${i}`)));
    expect(posts.map((m) => m.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    // Ten concurrent retries of one post: one message.
    const retries = await Promise.all(Array.from({ length: 10 }, () => post(owner.token, conv, "once", { cmid: "key-1" })));
    expect(new Set(retries.map((m) => m.id)).size).toBe(1);
    expect(retries[0]!.seq).toBe(16);
    const again = await post(owner.token, conv, "different text, same key", { cmid: "key-1" });
    expect(again).toEqual(retries[0]);
    expect(await t.deps.prisma.message.count({ where: { conversationId: conv } })).toBe(16);
    const next = await post(owner.token, conv, "after");
    expect(next.seq).toBe(17);
    // The same key by another author is another message.
    const other = await w.user();
    await ok(t.graphqlUrl, owner.token, `mutation($r: ID!, $a: ID!) { addParticipant(input: { roomId: $r, accountId: $a }) { role } }`, {
      r: room,
      a: other.id,
    });
    expect((await post(other.token, conv, "mine", { cmid: "key-1" })).seq).toBe(18);
  });

  it("refuses oversized text and data, and empty messages, leaving nothing behind", async () => {
    const owner = await w.user();
    const conv = await conversationIn(await roomWith(owner.token), owner.token);
    for (const vars of [{ text: "x".repeat(32_769) }, { text: null, data: { blob: "y".repeat(17_000) } }, { text: "" }, { text: "a\u0000b" }]) {
      const res = await call(t.graphqlUrl, owner.token, q.post, { c: conv, ...vars });
      expect(res.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    }
    expect(await t.deps.prisma.message.count({ where: { conversationId: conv } })).toBe(0);
    expect((await t.deps.prisma.conversation.findUniqueOrThrow({ where: { id: conv } })).lastSeq).toBe(0n);
  });

  it("edits keep editedAt; deletes leave a tombstone in history", async () => {
    const owner = await w.user();
    const conv = await conversationIn(await roomWith(owner.token), owner.token);
    const m = await post(owner.token, conv, "draft");
    const edited = await ok<{ editMessage: { text: string; editedAt: string | null } }>(
      t.graphqlUrl,
      owner.token,
      `mutation($id: ID!) { editMessage(input: { id: $id, text: "final" }) { text editedAt } }`,
      { id: m.id },
    );
    expect(edited.editMessage.text).toBe("final");
    expect(edited.editMessage.editedAt).not.toBeNull();
    await post(owner.token, conv, "second");
    await ok(t.graphqlUrl, owner.token, `mutation($id: ID!) { deleteMessage(id: $id) { deleted } }`, { id: m.id });
    const h = await ok<{ conversation: { messages: { edges: { node: { seq: number; text: string | null; deleted: boolean } }[] } } }>(
      t.graphqlUrl,
      owner.token,
      q.history,
      { c: conv },
    );
    expect(h.conversation.messages.edges.map((e) => [e.node.seq, e.node.text, e.node.deleted])).toEqual([
      [1, null, true],
      [2, "second", false],
    ]);
    const again = await call(t.graphqlUrl, owner.token, `mutation($id: ID!) { editMessage(input: { id: $id, text: "x" }) { id } }`, { id: m.id });
    expect(again.errors?.[0]?.extensions?.code).toBe("MESSAGE_DELETED");
  });

  it("pages history by seq in both directions with hasPreviousPage and hasNextPage", async () => {
    const owner = await w.user();
    const conv = await conversationIn(await roomWith(owner.token), owner.token);
    for (let i = 1; i <= 12; i++) await post(owner.token, conv, `m${i}`);
    type H = {
      conversation: {
        messages: { edges: { node: { seq: number } }[]; pageInfo: { hasPreviousPage: boolean; hasNextPage: boolean; startCursor: string; endCursor: string } };
      };
    };
    const page = async (v: Record<string, unknown>) => (await ok<H>(t.graphqlUrl, owner.token, q.history, { c: conv, ...v })).conversation.messages;
    const newest = await page({ last: 5 });
    expect(newest.edges.map((e) => e.node.seq)).toEqual([8, 9, 10, 11, 12]);
    expect(newest.pageInfo).toMatchObject({ hasPreviousPage: true, hasNextPage: false });
    const older = await page({ last: 5, before: newest.pageInfo.startCursor });
    expect(older.edges.map((e) => e.node.seq)).toEqual([3, 4, 5, 6, 7]);
    expect(older.pageInfo).toMatchObject({ hasPreviousPage: true, hasNextPage: true });
    const oldest = await page({ last: 5, before: older.pageInfo.startCursor });
    expect(oldest.edges.map((e) => e.node.seq)).toEqual([1, 2]);
    expect(oldest.pageInfo).toMatchObject({ hasPreviousPage: false, hasNextPage: true });
    const forward = await page({ first: 4, after: "2" });
    expect(forward.edges.map((e) => e.node.seq)).toEqual([3, 4, 5, 6]);
    expect(forward.pageInfo).toMatchObject({ hasPreviousPage: true, hasNextPage: true });
    const end = await page({ first: 4, after: "10" });
    expect(end.edges.map((e) => e.node.seq)).toEqual([11, 12]);
    expect(end.pageInfo).toMatchObject({ hasNextPage: false });
    const junk = await call(t.graphqlUrl, owner.token, q.history, { c: conv, first: 2, after: "abc" });
    expect(junk.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
  });

  it("markRead only moves forward; unread counts others' messages after the horizon", async () => {
    const owner = await w.user();
    const reader = await w.user();
    const room = await roomWith(owner.token, [{ accountId: reader.id }]);
    const conv = await conversationIn(room, owner.token);
    for (let i = 0; i < 5; i++) await post(owner.token, conv, `m${i}`);
    await post(reader.token, conv, "my own");
    const unread = async () =>
      (
        await ok<{ conversation: { unreadCount: number; readSeq: number } }>(
          t.graphqlUrl,
          reader.token,
          `query($c: ID!) { conversation(id: $c) { unreadCount readSeq } }`,
          { c: conv },
        )
      ).conversation;
    expect(await unread()).toEqual({ unreadCount: 5, readSeq: 0 });
    const mark = (seq: number) =>
      ok<{ markRead: { seq: number } }>(
        t.graphqlUrl,
        reader.token,
        `mutation($c: ID!, $s: SafeInt!) { markRead(input: { conversationId: $c, seq: $s }) { seq } }`,
        { c: conv, s: seq },
      );
    expect((await mark(3)).markRead.seq).toBe(3);
    expect((await mark(2)).markRead.seq).toBe(3);
    expect(await unread()).toEqual({ unreadCount: 2, readSeq: 3 });
    const beyond = await call(t.graphqlUrl, reader.token, `mutation($c: ID!) { markRead(input: { conversationId: $c, seq: 99 }) { seq } }`, { c: conv });
    expect(beyond.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    expect(await t.deps.prisma.event.count({ where: { type: "conversation.read", payload: { path: ["conversationId"], equals: conv } } })).toBe(1);
  });

  it("limits posts per account: RATE_LIMITED with retryAfterSeconds, HTTP 429 with Retry-After", async () => {
    const spammer = await w.agent("spammer");
    const owner = await w.user();
    const room = await roomWith(owner.token, [{ accountId: spammer.id }]);
    const conv = await conversationIn(room, owner.token);
    for (let i = 0; i < 40; i++) await post(spammer.token, conv, `spam ${i}`);
    const res = await call(t.graphqlUrl, spammer.token, q.post, { c: conv, text: "one too many" });
    expect(res.errors?.[0]?.extensions?.code).toBe("RATE_LIMITED");
    const details = (res.errors![0]!.extensions as { details: { retryAfterSeconds: number; limit: number } }).details;
    expect(details.limit).toBe(40);
    expect(details.retryAfterSeconds).toBeGreaterThan(0);
    expect(res.status).toBe(429);
    expect(Number(res.headers.get("retry-after"))).toBe(details.retryAfterSeconds);
    // Others are not limited by it.
    expect((await post(owner.token, conv, "still fine")).seq).toBe(41);
  });
});

describe("real time", () => {
  it("gives a dropped conversationEvents subscriber exactly the messages it missed, in order, then live ones", async () => {
    const owner = await w.user();
    const conv = await conversationIn(await roomWith(owner.token), owner.token);
    const first = record(ws.client(t.wsUrl, owner.token), "conversationEvents", { conversationId: conv });
    await eventually(async () => {
      await post(owner.token, conv, "probe");
      return first.events.length > 0;
    });
    const last = first.events.at(-1)!;
    first.dispose();
    for (const text of ["missed-1", "missed-2", "missed-3"]) await post(owner.token, conv, text);
    const resumed = record(ws.client(t.wsUrl, owner.token), "conversationEvents", { conversationId: conv, after: last.cursor });
    await eventually(() => resumed.events.some((e) => e.text === "missed-3"), 20_000, 10);
    await post(owner.token, conv, "live-1");
    await eventually(() => resumed.events.some((e) => e.text === "live-1"), 20_000, 10);
    await new Promise((r) => setTimeout(r, 200));
    // Probes still in flight when the first subscription went are missed too: everything after the cursor, once.
    const texts = resumed.events.map((e) => e.text);
    expect(texts.filter((x) => x !== "probe")).toEqual(["missed-1", "missed-2", "missed-3", "live-1"]);
    const seqs = resumed.events.map((e) => e.seq!);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => last.seq! + 1 + i));
    // And over SSE.
    const controller = new AbortController();
    const res = await fetch(t.graphqlUrl, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream", authorization: `Bearer ${owner.token}` },
      body: JSON.stringify({
        query: `subscription($c: ID!, $a: String) { conversationEvents(conversationId: $c, after: $a) { ${EVENT_FIELDS} } }`,
        variables: { c: conv, a: last.cursor },
      }),
      signal: controller.signal,
    });
    const reader = res.body!.getReader();
    let buffer = "";
    setTimeout(() => void post(owner.token, conv, "sse-live"), 300);
    while (!buffer.includes("sse-live")) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += new TextDecoder().decode(value);
    }
    controller.abort();
    const sseTexts = buffer
      .split("\n")
      .filter((l) => l.startsWith("data:"))
      .map((l) => JSON.parse(l.slice(5)).data?.conversationEvents?.text);
    expect(sseTexts).toEqual([...texts, "sse-live"]);
  });

  it("answers CURSOR_EXPIRED for a cursor older than the retained log, BAD_USER_INPUT for junk", async () => {
    const owner = await w.user();
    const conv = await conversationIn(await roomWith(owner.token), owner.token);
    await post(owner.token, conv, "old");
    const oldId = (
      await t.deps.prisma.event.findFirstOrThrow({ where: { type: "conversation.message_posted", payload: { path: ["conversationId"], equals: conv } } })
    ).id;
    await t.deps.prisma.event.updateMany({ where: { id: { lte: oldId } }, data: { createdAt: new Date(Date.now() - 30 * 24 * 3600 * 1000) } });
    const { pruneEvents } = await import("../src/events/event-log.ts");
    await pruneEvents(t.deps.prisma, new Date(Date.now() - 7 * 24 * 3600 * 1000));
    const expired = record(ws.client(t.wsUrl, owner.token), "conversationEvents", { conversationId: conv, after: String(oldId - 1n) });
    await eventually(() => expired.errors.length > 0, 5_000, 20);
    expect(expired.errors[0]?.extensions?.code).toBe("CURSOR_EXPIRED");
    const junk = record(ws.client(t.wsUrl, owner.token), "conversationEvents", { conversationId: conv, after: "abc" });
    await eventually(() => junk.errors.length > 0, 5_000, 20);
    expect(junk.errors[0]?.extensions?.code).toBe("BAD_USER_INPUT");
  });

  it("streams deltas live; history returns the final text; the stale-stream job completes abandoned streams as interrupted", async () => {
    const owner = await w.user();
    const bot = await w.agent("streamer");
    const room = await roomWith(owner.token, [{ accountId: bot.id }]);
    const conv = await conversationIn(room, owner.token);
    const sub = record(ws.client(t.wsUrl, owner.token), "conversationEvents", { conversationId: conv });
    await eventually(async () => {
      await post(owner.token, conv, "probe");
      return sub.events.length > 0;
    });
    const m = await post(bot.token, conv, "", { streaming: true });
    expect(m.status).toBe("STREAMING");
    for (const delta of ["Hel", "lo, ", "world"]) {
      await ok(t.graphqlUrl, bot.token, `mutation($m: ID!, $d: String!) { appendMessageDelta(input: { messageId: $m, delta: $d }) { id } }`, {
        m: m.id,
        d: delta,
      });
    }
    await ok(t.graphqlUrl, bot.token, `mutation($m: ID!) { completeMessage(input: { messageId: $m }) { status } }`, { m: m.id });
    await sub.until(1, "conversation.message_completed");
    expect(sub.of("conversation.message_appended").map((e) => e.delta)).toEqual(["Hel", "lo, ", "world"]);
    expect(sub.of("conversation.message_completed")[0]).toMatchObject({ text: "Hello, world", interrupted: false, status: "COMPLETE" });
    const late = await call(t.graphqlUrl, bot.token, `mutation($m: ID!) { appendMessageDelta(input: { messageId: $m, delta: "x" }) { id } }`, { m: m.id });
    expect(late.errors?.[0]?.extensions?.code).toBe("MESSAGE_NOT_STREAMING");
    // Someone else's stream cannot be appended to.
    const foreign = await call(t.graphqlUrl, owner.token, `mutation($m: ID!) { appendMessageDelta(input: { messageId: $m, delta: "x" }) { id } }`, { m: m.id });
    expect(foreign.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");

    const abandoned = await post(bot.token, conv, "half an ans", { streaming: true });
    await t.deps.prisma.message.update({ where: { id: abandoned.id }, data: { updatedAt: new Date(Date.now() - 600_000) } });
    const { completeStaleStreamsJob } = await import("../src/modules/message/message.jobs.ts");
    const result = await completeStaleStreamsJob.handle(
      { id: "test", attempt: 1, data: {} },
      { messages: t.deps.services.messages, streamTimeoutSeconds: 120 },
    );
    expect(result).toEqual({ completed: 1 });
    await sub.until(2, "conversation.message_completed");
    expect(sub.of("conversation.message_completed")[1]).toMatchObject({ messageId: abandoned.id, interrupted: true, text: "half an ans" });
    const h = await ok<{ conversation: { messages: { edges: { node: { text: string; status: string; interrupted: boolean } }[] } } }>(
      t.graphqlUrl,
      owner.token,
      q.history,
      {
        c: conv,
        last: 2,
      },
    );
    expect(h.conversation.messages.edges.map((e) => e.node)).toEqual([
      { seq: m.seq, text: "Hello, world", deleted: false, editedAt: null, status: "COMPLETE", interrupted: false },
      { seq: abandoned.seq, text: "half an ans", deleted: false, editedAt: null, status: "COMPLETE", interrupted: true },
    ]);
  });
});

describe("typing indicators", () => {
  it("are delivered live, absorbed when renewed within 2 s, and expire with typing: false; never logged", async () => {
    const owner = await w.user();
    const other = await w.user();
    const room = await roomWith(owner.token, [{ accountId: other.id }]);
    const conv = await conversationIn(room, owner.token);
    const got: { accountId: string; typing: boolean; expiresAt: string | null }[] = [];
    const client = ws.client(t.wsUrl, other.token);
    client.subscribe<{ typing: (typeof got)[number] }>(
      { query: `subscription($c: ID!) { typing(conversationId: $c) { accountId typing expiresAt } }`, variables: { c: conv } },
      { next: (r) => void got.push(r.data!.typing), error: () => {}, complete: () => {} },
    );
    const setTyping = () => ok<{ setTyping: boolean }>(t.graphqlUrl, owner.token, `mutation($c: ID!) { setTyping(conversationId: $c) }`, { c: conv });
    const eventsBefore = await t.deps.prisma.event.count();
    // Live once the subscription is: the first accepted indicator arrives.
    await eventually(
      async () => {
        await setTyping();
        return got.length > 0;
      },
      15_000,
      2_100,
    );
    expect(got[0]).toMatchObject({ accountId: owner.id, typing: true });
    expect(Date.parse(got[0]!.expiresAt!)).toBeGreaterThan(Date.now());
    expect((await setTyping()).setTyping).toBe(false);
    await eventually(() => got.some((g) => !g.typing), 10_000, 100);
    expect(got.at(-1)).toEqual({ accountId: owner.id, typing: false, expiresAt: null });
    expect(await t.deps.prisma.event.count()).toBe(eventsBefore);
    // Outsiders cannot type here.
    const outsider = await w.user();
    const denied = await call(t.graphqlUrl, outsider.token, `mutation($c: ID!) { setTyping(conversationId: $c) }`, { c: conv });
    expect(denied.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
  });
});

describe("events for the flow engine", () => {
  it("agentEvents: conversation.created and message_posted naming the autoRespond participants; the loop guard stops agent chains", async () => {
    const human = await w.user();
    const botA = await w.agent("bot-a");
    const botB = await w.agent("bot-b");
    const feedA = record(ws.client(t.wsUrl, botA.token), "agentEvents", {
      spaceId: w.space.id,
      types: ["conversation.created", "conversation.message_posted"],
    });
    // Live before the room exists: the room.participant_joined event adds it to the feed.
    await eventually(async () => {
      const r = await roomWith(human.token, [{ accountId: botA.id }]);
      const c = await conversationIn(r, human.token, "probe");
      void c;
      return feedA.events.length > 0;
    });
    const room = await roomWith(human.token, [
      { accountId: botA.id, autoRespond: true },
      { accountId: botB.id, autoRespond: true },
    ]);
    const conv = await conversationIn(room, human.token, "with bots");
    await post(human.token, conv, "hi bots");
    await feedA.until(1, "conversation.message_posted");
    const created = feedA.of("conversation.created").find((e) => e.conversationId === conv);
    expect(created).toMatchObject({ roomId: room });
    const posted = feedA.of("conversation.message_posted").find((e) => e.conversationId === conv)!;
    expect(posted).toMatchObject({ text: "hi bots", authorId: human.id, chainDepth: 0, suppressed: [] });
    expect([...posted.triggers!].sort()).toEqual([botA.id, botB.id].sort());
    // Agents answering each other: each message triggers the other, never its author, up to the depth.
    const chain: { triggers: string[]; suppressed: { accountId: string; reason: string }[]; chainDepth: number }[] = [];
    for (let i = 0; i < CHAIN_DEPTH + 1; i++) {
      const bot = i % 2 === 0 ? botA : botB;
      const m = await post(bot.token, conv, `agent ${i}`);
      const e = await t.deps.prisma.event.findFirstOrThrow({ where: { type: "conversation.message_posted", subjectId: m.id } });
      chain.push(e.payload as never);
    }
    expect(chain.map((c) => c.chainDepth)).toEqual([1, 2, 3, 4]);
    expect(chain[0]).toMatchObject({ triggers: [botB.id], suppressed: [{ accountId: botA.id, reason: "AUTHOR" }] });
    expect(chain[1]).toMatchObject({ triggers: [botA.id], suppressed: [{ accountId: botB.id, reason: "AUTHOR" }] });
    // The CHAIN_DEPTH-th agent message in a row triggers nobody, and says why.
    expect(chain[CHAIN_DEPTH - 1]!.triggers).toEqual([]);
    expect(chain[CHAIN_DEPTH - 1]!.suppressed.map((s) => s.reason).sort()).toEqual(["AUTHOR", "CHAIN_DEPTH"]);
    expect(chain[CHAIN_DEPTH]!.triggers).toEqual([]);
    // A human message resets the chain.
    const reset = await post(human.token, conv, "back to me");
    const resetEvent = await t.deps.prisma.event.findFirstOrThrow({ where: { type: "conversation.message_posted", subjectId: reset.id } });
    expect(resetEvent.payload).toMatchObject({ chainDepth: 0 });
    expect([...(resetEvent.payload as { triggers: string[] }).triggers].sort()).toEqual([botA.id, botB.id].sort());
    // The feed carries only the asked-for types.
    expect(new Set(feedA.events.map((e) => e.type))).toEqual(new Set(["conversation.created", "conversation.message_posted"]));
    // Unknown types are refused.
    const bad = record(ws.client(t.wsUrl, botA.token), "agentEvents", { spaceId: w.space.id, types: ["conversation.nope"] });
    await eventually(() => bad.errors.length > 0, 5_000, 20);
    expect(bad.errors[0]?.extensions?.code).toBe("BAD_USER_INPUT");
  });

  it("roomEvents: conversations created and participants joining, updated and leaving", async () => {
    const owner = await w.user();
    const other = await w.user();
    const room = await roomWith(owner.token);
    const sub = record(ws.client(t.wsUrl, owner.token), "roomEvents", { roomId: room });
    await eventually(async () => {
      await conversationIn(room, owner.token, "probe");
      return sub.events.length > 0;
    });
    await ok(t.graphqlUrl, owner.token, `mutation($r: ID!, $a: ID!) { addParticipant(input: { roomId: $r, accountId: $a }) { role } }`, {
      r: room,
      a: other.id,
    });
    await ok(t.graphqlUrl, owner.token, `mutation($r: ID!, $a: ID!) { updateParticipant(input: { roomId: $r, accountId: $a, autoRespond: true }) { role } }`, {
      r: room,
      a: other.id,
    });
    await ok(t.graphqlUrl, owner.token, `mutation($r: ID!, $a: ID!) { removeParticipant(input: { roomId: $r, accountId: $a }) }`, { r: room, a: other.id });
    await sub.until(1, "room.participant_left");
    const after = sub.events.slice(sub.events.findIndex((e) => e.type !== "conversation.created"));
    expect(after.map((e) => [e.type, e.accountId])).toEqual([
      ["room.participant_joined", other.id],
      ["room.participant_updated", other.id],
      ["room.participant_left", other.id],
    ]);
    expect(sub.events.every((e) => e.cursor && e.roomId === room)).toBe(true);
  });

  it("ends a participant's conversationEvents when it leaves the room", async () => {
    const owner = await w.user();
    const member = await w.user();
    const room = await roomWith(owner.token, [{ accountId: member.id }]);
    const conv = await conversationIn(room, owner.token);
    const sub = record(ws.client(t.wsUrl, member.token), "conversationEvents", { conversationId: conv });
    await eventually(async () => {
      await post(owner.token, conv, "probe");
      return sub.events.length > 0;
    });
    await ok(t.graphqlUrl, owner.token, `mutation($r: ID!, $a: ID!) { removeParticipant(input: { roomId: $r, accountId: $a }) }`, { r: room, a: member.id });
    await eventually(() => sub.errors.length > 0, 8_000, 20);
    expect(sub.errors[0]?.extensions?.code).toBe("NOT_FOUND");
    const before = sub.events.length;
    await post(owner.token, conv, "secret");
    await new Promise((r) => setTimeout(r, 300));
    expect(sub.events.length).toBe(before);
  });
});

describe("two server processes", () => {
  let server: Server | undefined;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), "cabinet-conv-second-"));
    server = await startServer(
      {
        DATA_DIR: dataDir,
        DATABASE_URL: t.deps.runtime.databaseUrl,
        CABINET_SIGNING_SECRET: t.deps.runtime.signingSecret,
        RUN_WORKERS: "false",
      },
      await freePort(),
    );
  });
  afterAll(async () => {
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("delivers posts made on one process to subscribers of the other, and resumes across them", async () => {
    const owner = await w.user();
    const conv = await conversationIn(await roomWith(owner.token), owner.token);
    const otherGraphql = `${server!.url}/graphql`;
    const otherWs = otherGraphql.replace("http", "ws");
    const onSecond = record(ws.client(otherWs, owner.token), "conversationEvents", { conversationId: conv });
    await eventually(async () => {
      await post(owner.token, conv, "probe");
      return onSecond.events.length > 0;
    });
    // Probes may still be arriving: compare what is not one.
    const real = () => onSecond.events.filter((e) => !e.text!.startsWith("probe"));
    for (let i = 0; i < 5; i++) await post(owner.token, conv, `first-${i}`);
    await eventually(() => real().length >= 5, 20_000, 10);
    const cursor = onSecond.events.at(-1)!.cursor;
    onSecond.dispose();
    // Missed while disconnected, posted through both processes, then resumed on the first.
    for (let i = 0; i < 3; i++) await post(owner.token, conv, `gap-${i}`, {}, i % 2 ? t.graphqlUrl : otherGraphql);
    const resumed = record(ws.client(t.wsUrl, owner.token), "conversationEvents", { conversationId: conv, after: cursor });
    await resumed.until(3);
    await new Promise((r) => setTimeout(r, 200));
    expect(real().map((e) => e.text)).toEqual(["first-0", "first-1", "first-2", "first-3", "first-4"]);
    expect(resumed.events.map((e) => e.text)).toEqual(["gap-0", "gap-1", "gap-2"]);
  });
});
