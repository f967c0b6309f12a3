// spaceEvents over graphql-ws (bearer token in connectionParams) and over SSE,
// and the event log's tail (LISTEN/NOTIFY + the table) shared by separate processes.
import { createClient, type Client } from "graphql-ws";
import { print } from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import pino from "pino";
import { createPrisma } from "../src/db/prisma.ts";
import { recordEvent, transactionWithEvents } from "../src/events/event-log.ts";
import { createEventTail } from "../src/events/event-tail.ts";
import type { StoredEvent } from "../src/events/event-types.ts";
import {
  CreateFolderByPathDocument,
  DeleteEntryDocument,
  MoveEntryDocument,
  RenameEntryDocument,
  SpaceEventsDocument,
  type SpaceEventsSubscription,
} from "./generated/graphql.ts";
import { buildTestApp, type TestApp } from "./harness.ts";
import { uploadAsset } from "./support/upload.ts";

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

function wsClient(token?: string): Client {
  const client = createClient({
    url: t.wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    retryAttempts: 0,
    lazy: true,
  });
  clients.push(client);
  return client;
}

type Next = { data?: SpaceEventsSubscription | null; errors?: readonly { extensions?: { code?: string } }[] };

/** Subscribes and resolves with the first result (event or error). */
function firstResult(client: Client, spaceId: string): { result: Promise<Next>; ready: Promise<void> } {
  let resolveReady!: () => void;
  const ready = new Promise<void>((r) => (resolveReady = r));
  const result = new Promise<Next>((resolve) => {
    const iterator = client.iterate<SpaceEventsSubscription>({ query: print(SpaceEventsDocument), variables: { spaceId } });
    // graphql-ws has no "subscribed" ack: give the server a moment to register the listener.
    setTimeout(resolveReady, 300);
    iterator.next().then(
      (r) => {
        resolve(r.value as Next);
        void iterator.return?.();
      },
      (e) => resolve({ errors: Array.isArray(e) ? e : [e] } as Next),
    );
  });
  return { result, ready };
}

describe("spaceEvents over graphql-ws", () => {
  it("delivers a CREATED event to a subscriber allowed to read the space", async () => {
    const reader = await t.factories.member(w.org.id, w.space.id, ["assets:read"]);
    const sub = firstResult(wsClient(reader.token), w.space.id);
    await sub.ready;
    const up = await uploadAsset(t.graphqlUrl, { token: w.adminToken, spaceId: w.space.id, path: "ws-event.txt", body: "hi" });
    const event = await sub.result;
    expect(event.errors).toBeUndefined();
    expect(event.data?.spaceEvents).toMatchObject({
      type: "CREATED",
      name: "ws-event.txt",
      kind: "FILE",
      entryId: up.data!.uploadAsset.id,
      spaceId: w.space.id,
    });
  });

  it("refuses a subscriber without a token (UNAUTHENTICATED) and one from another space (NOT_FOUND)", async () => {
    const anonymous = await firstResult(wsClient(), w.space.id).result;
    expect(anonymous.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");

    const otherSpace = await t.factories.space(w.org.id);
    const outsider = await t.factories.member(w.org.id, otherSpace.id, ["assets:read"]);
    const denied = await firstResult(wsClient(outsider.token), w.space.id).result;
    expect(denied.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
  });

  it("does not leak events of one space to subscribers of another", async () => {
    const otherSpace = await t.factories.space(w.org.id);
    const sub = firstResult(wsClient(w.adminToken), otherSpace.id);
    await sub.ready;
    await uploadAsset(t.graphqlUrl, { token: w.adminToken, spaceId: w.space.id, path: "elsewhere.txt", body: "x" });
    await uploadAsset(t.graphqlUrl, { token: w.adminToken, spaceId: otherSpace.id, path: "here.txt", body: "x" });
    const event = await sub.result;
    expect(event.data?.spaceEvents.name).toBe("here.txt");
  });
});

describe("the whole lifecycle as events", () => {
  it("CREATED, UPDATED (overwrite, rename), MOVED and DELETED arrive in order over graphql-ws", async () => {
    const space = await t.factories.space(w.org.id);
    const reader = await t.factories.member(w.org.id, space.id, ["assets:read"]);
    const events: SpaceEventsSubscription["spaceEvents"][] = [];
    const client = wsClient(reader.token);
    const done = new Promise<void>((resolve, reject) => {
      const stop = client.subscribe<SpaceEventsSubscription>(
        { query: print(SpaceEventsDocument), variables: { spaceId: space.id } },
        {
          next: (r) => {
            if (r.errors) return reject(new Error(JSON.stringify(r.errors)));
            events.push(r.data!.spaceEvents);
            if (r.data!.spaceEvents.type === "DELETED") {
              stop();
              resolve();
            }
          },
          error: reject,
          complete: () => {},
        },
      );
    });
    await new Promise((r) => setTimeout(r, 300));
    const admin = w.adminToken;
    const folder = (await t.gql(CreateFolderByPathDocument, { spaceId: space.id, path: "box" }, admin)).data!.createFolder.id;
    const file = (await uploadAsset(t.graphqlUrl, { token: admin, spaceId: space.id, path: "f.txt", body: "1" })).data!.uploadAsset.id;
    await uploadAsset(t.graphqlUrl, { token: admin, spaceId: space.id, path: "f.txt", body: "2" });
    await t.gql(RenameEntryDocument, { id: file, name: "g.txt" }, admin);
    await t.gql(MoveEntryDocument, { id: file, parentId: folder }, admin);
    await t.gql(DeleteEntryDocument, { id: folder }, admin);
    await done;
    expect(events.map((e) => [e.type, e.name, e.kind])).toEqual([
      ["CREATED", "box", "FOLDER"],
      ["CREATED", "f.txt", "FILE"],
      ["UPDATED", "f.txt", "FILE"],
      ["UPDATED", "g.txt", "FILE"],
      ["MOVED", "g.txt", "FILE"],
      ["DELETED", "box", "FOLDER"],
    ]);
    expect(events[4]!.parentId).toBe(folder);
    expect(new Set(events.map((e) => e.spaceId))).toEqual(new Set([space.id]));
  });
});

describe("spaceEvents over SSE", () => {
  it("streams events as text/event-stream", async () => {
    const controller = new AbortController();
    const res = await fetch(t.graphqlUrl, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream", authorization: `Bearer ${w.adminToken}` },
      body: JSON.stringify({ query: print(SpaceEventsDocument), variables: { spaceId: w.space.id } }),
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const reader = res.body!.getReader();
    setTimeout(() => void uploadAsset(t.graphqlUrl, { token: w.adminToken, spaceId: w.space.id, path: "sse-event.txt", body: "x" }), 300);
    let buffer = "";
    const decoder = new TextDecoder();
    while (!buffer.includes("sse-event.txt")) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value);
    }
    controller.abort();
    const dataLine = buffer.split("\n").find((l) => l.startsWith("data:") && l.includes("sse-event.txt"))!;
    expect(JSON.parse(dataLine.slice(5)).data.spaceEvents).toMatchObject({ type: "CREATED", name: "sse-event.txt" });
  });

  it("answers UNAUTHENTICATED over SSE without a token", async () => {
    const res = await fetch(t.graphqlUrl, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify({ query: print(SpaceEventsDocument), variables: { spaceId: w.space.id } }),
    });
    const text = await res.text();
    expect(text).toContain("UNAUTHENTICATED");
  });
});

describe("the event log's tail", () => {
  it("delivers an event recorded through one process's database client to another process's tail", async () => {
    const url = t.deps.runtime.databaseUrl;
    const writer = createPrisma(url);
    const tail = createEventTail({ databaseUrl: url, pollIntervalMs: 60_000, log: pino({ level: "silent" }) });
    await tail.start();
    try {
      const received = new Promise<StoredEvent>((resolve) => tail.subscribe("space:spc_shared", resolve));
      await transactionWithEvents(writer, async (tx) => {
        recordEvent(tx, {
          type: "entry.deleted",
          spaceId: "spc_shared",
          subjectId: "ent_x",
          payload: { name: "gone", kind: "FILE", parentId: null, deletedCount: 1 },
        });
      });
      // Delivered by the NOTIFY (the safety poll is a minute away).
      expect(await received).toMatchObject({ type: "entry.deleted", subjectId: "ent_x", payload: { name: "gone" } });
    } finally {
      await tail.close();
      await writer.$disconnect();
    }
  });
});
