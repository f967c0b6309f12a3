// The event log behind spaceEvents (src/events/): commit order, resuming with
// a cursor over graphql-ws and SSE, two server processes, retention and
// CURSOR_EXPIRED, what MOVED / UPDATED / DELETED carry, rollbacks, the tail's
// reconnect re-checking tokens, and a grant revocation ending one space's
// subscription only.
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { print } from "graphql";
import { createClient, type Client } from "graphql-ws";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { recordEvent, transactionWithEvents } from "../src/events/event-log.ts";
import { TAIL_APPLICATION_NAME } from "../src/events/event-tail.ts";
import { freePort } from "../src/free-port.ts";
import {
  CreateFolderByPathDocument,
  DeleteEntryDocument,
  MoveEntryDocument,
  RenameEntryDocument,
  RevokeSpaceAccessDocument,
  SpaceEventsFullDocument,
  type SpaceEventsFullSubscription,
} from "./generated/graphql.ts";
import { buildTestApp, errorCode, eventually, type GraphQLResponse, type TestApp } from "./harness.ts";
import { startServer, type Server } from "./support/processes.ts";
import { uploadAsset } from "./support/upload.ts";

type Ev = SpaceEventsFullSubscription["spaceEvents"];

let t: TestApp;
let w: Awaited<ReturnType<TestApp["factories"]["world"]>>;
const clients: Client[] = [];

beforeAll(async () => {
  t = await buildTestApp();
  w = await t.factories.world();
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  await t?.close();
});

type Closed = { code: number; reason: string };

function wsClient(token: string, url = t.wsUrl) {
  let onClosed!: (c: Closed) => void;
  const closed = new Promise<Closed>((resolve) => (onClosed = resolve));
  const client = createClient({
    url,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
    lazy: true,
    on: { closed: (e) => onClosed({ code: (e as Closed).code, reason: String((e as Closed).reason) }) },
  });
  clients.push(client);
  return { client, closed };
}

/** One spaceEvents subscription, recording events, errors and completion. */
function record(client: Client, spaceId: string, after?: string | null) {
  const events: Ev[] = [];
  const errors: { extensions?: { code?: string } }[] = [];
  let completed = false;
  const dispose = client.subscribe<SpaceEventsFullSubscription>(
    { query: print(SpaceEventsFullDocument), variables: { spaceId, after } },
    {
      next: (r) => (r.errors ? errors.push(...(r.errors as never[])) : events.push(r.data!.spaceEvents)),
      error: (e) => errors.push(...(Array.isArray(e) ? e : [e])),
      complete: () => (completed = true),
    },
  );
  return { events, errors, dispose, completed: () => completed, names: () => events.map((e) => e.name) };
}

type Recording = ReturnType<typeof record>;

async function gqlAt<TData, TVars>(graphqlUrl: string, doc: TypedDocumentNode<TData, TVars>, variables: TVars): Promise<GraphQLResponse<TData>> {
  const res = await fetch(graphqlUrl, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${w.adminToken}` },
    body: JSON.stringify({ query: print(doc), variables }),
  });
  return (await res.json()) as GraphQLResponse<TData>;
}

/** Creates a folder as the admin, through this test's server or the one at `graphqlUrl`. */
const folder = async (spaceId: string, p: string, createParents = false, graphqlUrl = t.graphqlUrl) => {
  const res = await gqlAt(graphqlUrl, CreateFolderByPathDocument, { spaceId, path: p, createParents });
  expect(res.errors).toBeUndefined();
  return res.data!.createFolder.id;
};

/** Creates probe folders until `sub` receives one: its subscription is live. Returns the probe's event. */
async function untilLive(sub: Recording, spaceId: string): Promise<Ev> {
  // Probes are made until one arrives; those made before the subscription was live never do.
  // Under load another may be made after the one that arrives, before it arrived: wait for
  // those too and return the last, so nothing of ours comes after the returned cursor.
  const probes: string[] = [];
  const arrived = () => probes.map((name) => sub.events.find((e) => e.name === name));
  await eventually(
    async () => {
      if (arrived().some(Boolean)) return true;
      probes.push(`probe-${randomUUID()}`);
      await folder(spaceId, probes.at(-1)!);
      return false;
    },
    8_000,
    150,
  );
  const first = arrived().findIndex(Boolean);
  await eventually(() => arrived().slice(first).every(Boolean), 8_000, 20);
  return arrived().at(-1)!;
}

// A generous margin: two test files run side by side on two cores, with servers starting.
const until = (sub: Recording, n: number) => eventually(() => sub.events.length >= n, 20_000, 20);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("commit order", () => {
  it("delivers createFolder(createParents) parents first: deep, l2, l3, l4", async () => {
    const space = await t.factories.space(w.org.id);
    const sub = record(wsClient(w.adminToken).client, space.id);
    await untilLive(sub, space.id);
    const start = sub.events.length;
    const leaf = await folder(space.id, "deep/l2/l3/l4", true);
    await until(sub, start + 4);
    await sleep(200);
    const got = sub.events.slice(start);
    expect(got.map((e) => [e.type, e.name])).toEqual([
      ["CREATED", "deep"],
      ["CREATED", "l2"],
      ["CREATED", "l3"],
      ["CREATED", "l4"],
    ]);
    // Each one's parent is the one before it; cursors grow.
    for (let i = 1; i < 4; i++) {
      expect(got[i]!.parentId).toBe(got[i - 1]!.entryId);
      expect(BigInt(got[i]!.cursor)).toBeGreaterThan(BigInt(got[i - 1]!.cursor));
    }
    expect(got[3]!.entryId).toBe(leaf);
  });

  it("never lets a later id overtake an earlier one that commits late", async () => {
    const space = await t.factories.space(w.org.id);
    const sub = record(wsClient(w.adminToken).client, space.id);
    await untilLive(sub, space.id);
    const start = sub.events.length;
    // A writer that has drawn its id and still has to commit: the log's own statement (lock, insert), held open.
    const slow = new pg.Client({ connectionString: t.deps.runtime.databaseUrl });
    await slow.connect();
    try {
      await slow.query("BEGIN");
      await slow.query(
        `WITH serialized AS (SELECT pg_advisory_xact_lock(hashtextextended('cabinet:event-log', 0)))
         INSERT INTO events (space_id, type, subject_id, payload) SELECT $1, 'entry.created', 'ent_slow', $2 FROM serialized`,
        [space.id, JSON.stringify({ name: "slow", kind: "FOLDER", parentId: null })],
      );
      // Meanwhile a normal change: it must queue behind the open writer, not commit a higher id first.
      const fast = folder(space.id, "fast");
      await sleep(300);
      await slow.query("SELECT pg_notify('cabinet_events', '')");
      await slow.query("COMMIT");
      await fast;
    } finally {
      await slow.end();
    }
    await until(sub, start + 2);
    expect(sub.names().slice(start)).toEqual(["slow", "fast"]);
  });

  it("writes nothing when the transaction fails, and notifies nobody", async () => {
    const space = await t.factories.space(w.org.id);
    const sub = record(wsClient(w.adminToken).client, space.id);
    await untilLive(sub, space.id);
    const before = await t.deps.prisma.event.count();
    await expect(
      transactionWithEvents(t.deps.prisma, async (tx) => {
        recordEvent(tx, { type: "entry.created", spaceId: space.id, subjectId: "ent_rolledback", payload: { name: "ghost", kind: "FOLDER", parentId: null } });
        throw new Error("rolled back");
      }),
    ).rejects.toThrow("rolled back");
    // A service failing after its checks passed: creating under a file.
    await uploadAsset(t.graphqlUrl, { token: w.adminToken, spaceId: space.id, path: "a-file", body: "x" });
    const count = await t.deps.prisma.event.count();
    const clash = await t.gql(CreateFolderByPathDocument, { spaceId: space.id, path: "a-file/sub", createParents: true }, w.adminToken);
    expect(errorCode(clash)).toBe("PATH_IS_FILE");
    expect(await t.deps.prisma.event.count()).toBe(count);
    expect(count).toBe(before + 1); // the upload's CREATED only
    await sleep(300);
    expect(sub.names()).not.toContain("ghost");
    expect(sub.names().at(-1)).toBe("a-file");
  });
});

describe("resuming with a cursor", () => {
  it("gives a dropped graphql-ws subscriber exactly the events it missed, in order, then live ones", async () => {
    const space = await t.factories.space(w.org.id);
    const first = wsClient(w.adminToken);
    const sub = record(first.client, space.id);
    await untilLive(sub, space.id);
    await folder(space.id, "before-1");
    await until(sub, 2);
    const last = sub.events.at(-1)!;
    expect(last.name).toBe("before-1");
    await first.client.dispose(); // the socket drops

    for (const name of ["missed-1", "missed-2", "missed-3"]) await folder(space.id, name);
    // Another space's events are not part of this space's replay.
    await folder(w.space.id, `elsewhere-${randomUUID()}`);

    const resumed = record(wsClient(w.adminToken).client, space.id, last.cursor);
    await until(resumed, 3);
    expect(resumed.names()).toEqual(["missed-1", "missed-2", "missed-3"]);
    // ...and it carries on live, through the same stream, without repeating anything.
    await folder(space.id, "live-1");
    await until(resumed, 4);
    await sleep(300);
    expect(resumed.names()).toEqual(["missed-1", "missed-2", "missed-3", "live-1"]);
    const cursors = resumed.events.map((e) => BigInt(e.cursor));
    expect(cursors).toEqual([...cursors].sort((a, b) => (a < b ? -1 : 1)));
    expect(new Set(cursors).size).toBe(cursors.length);
    expect(cursors[0]).toBeGreaterThan(BigInt(last.cursor));
  });

  it("does not lose or repeat events committed while the replay runs", async () => {
    const space = await t.factories.space(w.org.id);
    const sub = record(wsClient(w.adminToken).client, space.id);
    const probe = await untilLive(sub, space.id);
    for (let i = 0; i < 30; i++) await folder(space.id, `old-${i}`);
    // Subscribing while more commit concurrently.
    const writes = (async () => {
      for (let i = 0; i < 20; i++) await folder(space.id, `new-${i}`);
    })();
    const resumed = record(wsClient(w.adminToken).client, space.id, probe.cursor);
    await writes;
    await until(resumed, 50);
    await sleep(300);
    expect(resumed.names()).toEqual([...Array.from({ length: 30 }, (_, i) => `old-${i}`), ...Array.from({ length: 20 }, (_, i) => `new-${i}`)]);
  });

  it("resumes over SSE too", async () => {
    const space = await t.factories.space(w.org.id);
    const sub = record(wsClient(w.adminToken).client, space.id);
    const probe = await untilLive(sub, space.id);
    await folder(space.id, "sse-missed");
    const controller = new AbortController();
    const res = await fetch(t.graphqlUrl, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream", authorization: `Bearer ${w.adminToken}` },
      body: JSON.stringify({ query: print(SpaceEventsFullDocument), variables: { spaceId: space.id, after: probe.cursor } }),
      signal: controller.signal,
    });
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    setTimeout(() => void folder(space.id, "sse-live"), 300);
    while (!buffer.includes("sse-live")) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value);
    }
    controller.abort();
    const names = buffer
      .split("\n")
      .filter((l) => l.startsWith("data:"))
      .map((l) => JSON.parse(l.slice(5)).data?.spaceEvents?.name);
    expect(names).toEqual(["sse-missed", "sse-live"]);
  });

  it("answers BAD_USER_INPUT for a junk or unknown cursor", async () => {
    for (const after of ["abc", "-1", "1.5", "99999999999999999999", "9223372036000000000"]) {
      const sub = record(wsClient(w.adminToken).client, w.space.id, after);
      await eventually(() => sub.errors.length > 0 || sub.completed(), 5_000, 20);
      expect(sub.errors[0]?.extensions?.code, after).toBe("BAD_USER_INPUT");
    }
  });

  it("answers CURSOR_EXPIRED once retention pruned events after the cursor, never a silent gap", async () => {
    const space = await t.factories.space(w.org.id);
    const sub = record(wsClient(w.adminToken).client, space.id);
    const probe = await untilLive(sub, space.id);
    await folder(space.id, "aged-1");
    await until(sub, 2);
    const aged = sub.events.at(-1)!;
    await folder(space.id, "kept-1");
    await until(sub, 3);
    // Age the first two events past the retention period, and let the scheduled job's handler run.
    await t.deps.prisma.event.updateMany({ where: { id: { lte: BigInt(aged.cursor) } }, data: { createdAt: new Date(Date.now() - 30 * 24 * 3600 * 1000) } });
    await t.deps.queue.send("event.prune", {});
    await eventually(async () => (await t.deps.prisma.event.count({ where: { id: BigInt(probe.cursor) } })) === 0, 10_000, 100);

    const expired = record(wsClient(w.adminToken).client, space.id, String(BigInt(probe.cursor) - 1n));
    await eventually(() => expired.errors.length > 0, 5_000, 20);
    expect(expired.errors[0]?.extensions?.code).toBe("CURSOR_EXPIRED");
    // The newest pruned event is still a fine place to resume: nothing after it is gone.
    const ok = record(wsClient(w.adminToken).client, space.id, aged.cursor);
    await until(ok, 1);
    expect(ok.names()).toEqual(["kept-1"]);
    expect(ok.errors).toEqual([]);
  });
});

describe("what events carry", () => {
  it("MOVED: old and new parent and the new path; UPDATED: RENAMED vs CONTENT; DELETED: how many entries went", async () => {
    const space = await t.factories.space(w.org.id);
    const sub = record(wsClient(w.adminToken).client, space.id);
    await untilLive(sub, space.id);
    const start = sub.events.length;
    const a = await folder(space.id, "a");
    const b = await folder(space.id, "b/inner", true);
    const file = (await uploadAsset(t.graphqlUrl, { token: w.adminToken, spaceId: space.id, path: "a/f.txt", body: "1" })).data!.uploadAsset.id;
    await uploadAsset(t.graphqlUrl, { token: w.adminToken, spaceId: space.id, path: "a/f.txt", body: "22" });
    await t.gql(RenameEntryDocument, { id: file, name: "g.txt" }, w.adminToken);
    await t.gql(MoveEntryDocument, { id: file, parentId: b, name: "h.txt" }, w.adminToken);
    await uploadAsset(t.graphqlUrl, { token: w.adminToken, spaceId: space.id, path: "b/inner/other.txt", body: "3" });
    const bId = (await t.deps.prisma.entry.findFirstOrThrow({ where: { spaceId: space.id, name: "b" } })).id;
    await t.gql(DeleteEntryDocument, { id: bId }, w.adminToken);
    await t.gql(DeleteEntryDocument, { id: a }, w.adminToken);
    await until(sub, start + 10);
    const got = sub.events.slice(start);
    expect(got.map((e) => [e.type, e.change, e.name])).toEqual([
      ["CREATED", null, "a"],
      ["CREATED", null, "b"],
      ["CREATED", null, "inner"],
      ["CREATED", null, "f.txt"],
      ["UPDATED", "CONTENT", "f.txt"],
      ["UPDATED", "RENAMED", "g.txt"],
      ["MOVED", null, "h.txt"],
      ["CREATED", null, "other.txt"],
      ["DELETED", null, "b"],
      ["DELETED", null, "a"],
    ]);
    expect(got[5]).toMatchObject({ previousName: "f.txt", parentId: a });
    expect(got[6]).toMatchObject({ entryId: file, previousParentId: a, parentId: b, previousName: "g.txt", path: "b/inner/h.txt" });
    // b, inner, h.txt, other.txt
    expect(got[8]).toMatchObject({ deletedCount: 4, entryId: bId });
    expect(got[9]).toMatchObject({ deletedCount: 1, entryId: a });
    expect(got.filter((e) => e.type !== "MOVED").every((e) => e.path === null && e.previousParentId === null)).toBe(true);
  });
});

describe("two server processes", () => {
  let server: Server | undefined;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), "cabinet-events-second-"));
    server = await startServer(
      { DATA_DIR: dataDir, DATABASE_URL: t.deps.runtime.databaseUrl, CABINET_SIGNING_SECRET: t.deps.runtime.signingSecret, RUN_WORKERS: "false" },
      await freePort(),
    );
  });
  afterAll(async () => {
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("delivers a change made through one process to a subscriber of the other, both ways, in order", async () => {
    const space = await t.factories.space(w.org.id);
    const otherWs = `${server!.url.replace("http", "ws")}/graphql`;
    const onSecond = record(wsClient(w.adminToken, otherWs).client, space.id);
    const onFirst = record(wsClient(w.adminToken).client, space.id);
    await untilLive(onSecond, space.id);
    await untilLive(onFirst, space.id);
    await folder(space.id, "x/y", true); // through the first process
    await folder(space.id, "x/z", false, `${server!.url}/graphql`); // through the second
    // Probes may still be arriving at the slower of the two: compare what came after them.
    const changes = (sub: Recording) => sub.events.filter((e) => !e.name.startsWith("probe-"));
    await eventually(() => changes(onSecond).length >= 3 && changes(onFirst).length >= 3, 8_000, 20);
    await sleep(200);
    expect(changes(onSecond).map((e) => e.name)).toEqual(["x", "y", "z"]);
    expect(changes(onFirst).map((e) => e.name)).toEqual(["x", "y", "z"]);
    expect(changes(onSecond).map((e) => e.cursor)).toEqual(changes(onFirst).map((e) => e.cursor));
    // Both processes saw the same log: the probes too, in the same order.
    expect(onSecond.events.map((e) => e.cursor).slice(-3)).toEqual(onFirst.events.map((e) => e.cursor).slice(-3));
  });
});

describe("access", () => {
  it("revoking one space's grant ends that space's subscription only; the other space's on the same socket keeps receiving", async () => {
    const spaceA = await t.factories.space(w.org.id);
    const spaceB = await t.factories.space(w.org.id);
    const reader = await t.factories.member(w.org.id, spaceA.id, ["assets:read"]);
    await t.factories.grant(reader.account.id, spaceB.id, ["assets:read"]);
    const socket = wsClient(reader.token);
    let socketClosed = false;
    void socket.closed.then(() => (socketClosed = true));
    const subA = record(socket.client, spaceA.id);
    const subB = record(socket.client, spaceB.id);
    await untilLive(subA, spaceA.id);
    await untilLive(subB, spaceB.id);

    const res = await t.gql(RevokeSpaceAccessDocument, { input: { spaceId: spaceA.id, accountId: reader.account.id } }, w.adminToken);
    expect(res.data?.revokeSpaceAccess).toBe(true);
    await eventually(() => subA.completed(), 3_000, 20);
    expect(subA.errors[0]?.extensions?.code).toBe("NOT_FOUND");
    // Nothing of space A reaches the account after its access went.
    const seenA = subA.events.length;
    await folder(spaceA.id, "after-revocation");
    await untilLive(subB, spaceB.id);
    expect(subA.events.length).toBe(seenA);
    expect(subB.completed()).toBe(false);
    expect(socketClosed).toBe(false);
  });

  it("after the tail reconnects, re-checks open sockets' tokens and closes those no longer valid", async () => {
    const reader = await t.factories.member(w.org.id, w.space.id, ["assets:read"]);
    const extra = await t.factories.token(reader.account.id);
    const doomed = wsClient(extra.secret);
    const sub = record(doomed.client, w.space.id);
    await untilLive(sub, w.space.id);
    let closed: Closed | undefined;
    void doomed.closed.then((c) => (closed = c));
    // Revoked behind the service's back: no event in the log, so only the re-check can notice.
    await t.deps.prisma.apiToken.update({ where: { id: extra.id }, data: { revokedAt: new Date() } });
    await sleep(300);
    expect(closed).toBeUndefined();
    // Drop the tail's LISTEN connection (as a database restart would).
    await t.deps.prisma
      .$executeRaw`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ${TAIL_APPLICATION_NAME} AND datname = current_database()`;
    await eventually(() => closed, 8_000, 50);
    expect(closed).toMatchObject({ code: 4403, reason: "Token revoked" });
  });
});
