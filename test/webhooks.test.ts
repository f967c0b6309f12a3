// Webhooks end to end: a real app with job workers delivers events of the log
// (uploads -> entry.created) to local HTTP receivers (127.0.0.1, allowed by
// IMPORT_ALLOW_HOSTS; 127.0.0.2 is not). Signatures are verified with the
// scheme the README documents, implemented here independently with node:crypto.
import { createHmac, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pruneEvents } from "../src/events/event-log.ts";
import { attemptDelivery } from "../src/modules/webhook/webhook.delivery.ts";
import { buildTestApp, errorCode, eventually, type TestApp } from "./harness.ts";
import { uploadAsset } from "./support/upload.ts";

type Received = { path: string; headers: http.IncomingHttpHeaders; body: string; at: number };

/** A receiver that records every request; `answer(path, n)` picks the status of the n-th request to a path (from 1). */
async function receiver(host: string, answer: (path: string, n: number) => number = () => 200) {
  const received: Received[] = [];
  const counts = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const path = req.url ?? "/";
      const n = (counts.get(path) ?? 0) + 1;
      counts.set(path, n);
      received.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString("utf8"), at: Date.now() });
      const status = answer(path, n);
      res.writeHead(status, { "content-type": "text/plain" }).end(status === 200 ? `ok ${"x".repeat(2000)}` : `boom \u0000 ${n}`);
    });
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  const base = `http://${host}:${(server.address() as AddressInfo).port}`;
  return { received, base, at: (path: string) => received.filter((r) => r.path === path), close: () => new Promise((r) => server.close(r)) };
}

/** The documented scheme, written from the README and not from the server's code. */
function verify(secret: string, headers: http.IncomingHttpHeaders, body: string): boolean {
  const header = String(headers["cabinet-signature"] ?? "");
  const fields = Object.fromEntries(header.split(",").map((kv) => kv.split("=")));
  if (fields.t !== headers["cabinet-timestamp"]) return false;
  const expected = createHmac("sha256", secret).update(`${fields.t}.${body}`).digest("hex");
  return fields.v1 === expected;
}

/** The README's verifyCabinet, run as it is printed. */
function readmeVerifier(): (secret: string, rawBody: string, headers: http.IncomingHttpHeaders) => boolean {
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
  const fn = /^function verifyCabinet\([\s\S]*?\n\}$/m.exec(readme)?.[0];
  if (!fn) throw new Error("the README has no verifyCabinet example");
  return new Function("createHmac", "timingSafeEqual", `${fn}\nreturn verifyCabinet;`)(createHmac, timingSafeEqual);
}

let t: TestApp;
let w: Awaited<ReturnType<TestApp["factories"]["world"]>>;
let rx: Awaited<ReturnType<typeof receiver>>;
let forbiddenRx: Awaited<ReturnType<typeof receiver>>;
let n = 0;
const unique = (p: string) => `${p}-${++n}`;

beforeAll(async () => {
  // /flaky answers 500 to its first request; /down always 500.
  rx = await receiver("127.0.0.1", (path, count) => ((path.startsWith("/flaky") && count === 1) || path.startsWith("/down") ? 500 : 200));
  forbiddenRx = await receiver("127.0.0.2");
  t = await buildTestApp({ env: { IMPORT_ALLOW_HOSTS: "127.0.0.1", WEBHOOK_TIMEOUT_MS: "2000" } });
  w = await t.factories.world();
});
afterAll(async () => {
  await t?.close();
  await rx?.close();
  await forbiddenRx?.close();
});

type Hook = { webhook: { id: string; url: string; events: string[] }; secret: string };
const CREATE = `mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { secret webhook { id url events } } }`;

async function createWebhook(input: { url: string; events?: string[]; secret?: string; spaceId?: string }, token = w.adminToken) {
  return t.gql<{ createWebhook: Hook }, Record<string, unknown>>(CREATE, { i: { spaceId: w.space.id, events: ["entry.created"], ...input } }, token);
}
async function hook(input: Parameters<typeof createWebhook>[0]): Promise<Hook> {
  const res = await createWebhook(input);
  expect(res.errors).toBeUndefined();
  return res.data!.createWebhook;
}
async function upload(path: string, spaceId = w.space.id) {
  const res = await uploadAsset(t.graphqlUrl, { token: w.adminToken, spaceId, path, body: "hello", createParents: true });
  expect(res.errors).toBeUndefined();
  return res.data!.uploadAsset.id;
}
type Delivery = {
  id: string;
  eventType: string;
  eventCursor: string;
  status: string;
  attempts: number;
  lastError: string | null;
  responseStatus: number | null;
  responseExcerpt: string | null;
  completedAt: string | null;
};
async function deliveries(webhookId: string, token = w.adminToken) {
  const res = await t.gql<{ webhookDeliveries: { edges: { node: Delivery }[] } }, Record<string, unknown>>(
    `query($h: ID!) { webhookDeliveries(webhookId: $h, first: 50) { edges { node { id eventType eventCursor status attempts lastError responseStatus responseExcerpt completedAt } } } }`,
    { h: webhookId },
    token,
  );
  expect(res.errors).toBeUndefined();
  return res.data!.webhookDeliveries.edges.map((e) => e.node);
}
/** eventually(), for checks that answer null until they hold. */
const until = <T>(check: () => Promise<T | null> | T | null, timeoutMs?: number) => eventually(check, timeoutMs) as Promise<T>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// First in this file: it needs a database where no webhook exists yet.
describe("before the first webhook", () => {
  const position = async () => (await t.deps.prisma.$queryRaw<{ position: bigint }[]>`SELECT position FROM webhook_dispatch_cursor`)[0]!.position;
  const lastEvent = async () => (await t.deps.prisma.$queryRaw<{ id: bigint }[]>`SELECT coalesce(max(id), 0)::bigint AS id FROM events`)[0]!.id;

  it("events run no dispatch passes; the first webhook moves the position to where it starts, and is delivered to", async () => {
    const before = await position();
    await upload(`${unique("nobody")}.txt`);
    await upload(`${unique("nobody")}.txt`);
    await t.deps.webhookDispatcher.flush();
    // A pass would have moved the position past these events.
    expect(await position()).toBe(before);
    expect(await lastEvent()).toBeGreaterThan(before);

    const path = `/${unique("first")}`;
    await hook({ url: `${rx.base}${path}` });
    expect(await position()).toBe(await lastEvent());
    const name = `${unique("after")}.txt`;
    await upload(name);
    await until(() => (rx.at(path).length ? rx.at(path) : null));
    expect(rx.at(path).map((r) => JSON.parse(r.body).payload.name)).toEqual([name]);
  });
});

describe("delivery", () => {
  it("POSTs the event, signed as documented, and logs the delivery", async () => {
    const path = `/${unique("ok")}`;
    const created = await hook({ url: `${rx.base}${path}` });
    expect(created.secret).toMatch(/^whsec_[0-9a-z]{52}$/);
    expect(created.webhook.events).toEqual(["entry.created"]);
    const assetId = await upload(`${unique("file")}.txt`);

    const [req] = await until(() => (rx.at(path).length ? rx.at(path) : null));
    expect(req!.headers["content-type"]).toBe("application/json");
    const body = JSON.parse(req!.body);
    expect(body).toMatchObject({ webhookId: created.webhook.id, type: "entry.created", spaceId: w.space.id, subjectId: assetId, payload: { kind: "FILE" } });
    expect(body.cursor).toMatch(/^\d+$/);
    expect(req!.headers["cabinet-delivery"]).toBe(body.id);
    expect(req!.headers["cabinet-event"]).toBe("entry.created");
    expect(req!.headers["cabinet-attempt"]).toBe("1");
    expect(Math.abs(Number(req!.headers["cabinet-timestamp"]) - Date.now() / 1000)).toBeLessThan(60);
    expect(verify(created.secret, req!.headers, req!.body)).toBe(true);
    const readme = readmeVerifier();
    expect(readme(created.secret, req!.body, req!.headers)).toBe(true);
    expect(readme(created.secret, `${req!.body} `, req!.headers)).toBe(false);
    // A wrong secret or a changed body does not verify.
    expect(verify(`${created.secret}x`, req!.headers, req!.body)).toBe(false);
    expect(verify(created.secret, req!.headers, req!.body.replace(assetId, "ent_other"))).toBe(false);

    const [logged] = await until(async () => {
      const list = await deliveries(created.webhook.id);
      return list[0]?.status === "SUCCEEDED" ? list : null;
    });
    expect(logged).toMatchObject({ id: body.id, eventType: "entry.created", eventCursor: body.cursor, attempts: 1, responseStatus: 200, lastError: null });
    // The response body is kept only as a short excerpt.
    expect(logged!.responseExcerpt!.length).toBe(512);
    expect(logged!.completedAt).not.toBeNull();
    // The secret is not stored in what the API returns about the webhook.
    const listed = await t.gql<{ webhooks: Record<string, unknown>[] }, Record<string, unknown>>(
      `query($s: ID!) { webhooks(spaceId: $s) { id url events createdAt } }`,
      { s: w.space.id },
    );
    expect(JSON.stringify(listed)).not.toContain(created.secret);
  });

  it("retries a 500 with the same delivery id and body, a higher attempt and a fresh signature", async () => {
    const path = `/flaky-${unique("r")}`;
    const created = await hook({ url: `${rx.base}${path}`, secret: "my-own-secret-0123456789" });
    expect(created.secret).toBe("my-own-secret-0123456789");
    await upload(`${unique("file")}.txt`);

    await eventually(() => rx.at(path).length >= 1);
    // Between the attempts the log says why.
    const [retrying] = await until(async () => {
      const list = await deliveries(created.webhook.id);
      return list[0]?.status === "RETRYING" ? list : null;
    });
    expect(retrying).toMatchObject({ attempts: 1, responseStatus: 500 });
    expect(retrying!.lastError).toContain("500");
    expect(retrying!.responseExcerpt).toBe("boom \ufffd 1");

    const [first, second] = await until(() => (rx.at(path).length >= 2 ? rx.at(path) : null), 15_000);
    expect(second!.headers["cabinet-delivery"]).toBe(first!.headers["cabinet-delivery"]);
    expect(second!.body).toBe(first!.body);
    expect([first!.headers["cabinet-attempt"], second!.headers["cabinet-attempt"]]).toEqual(["1", "2"]);
    // Exponential backoff starts at 2-4 s.
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(1_900);
    expect(verify(created.secret, first!.headers, first!.body)).toBe(true);
    expect(verify(created.secret, second!.headers, second!.body)).toBe(true);
    const [done] = await until(async () => {
      const list = await deliveries(created.webhook.id);
      return list[0]?.status === "SUCCEEDED" ? list : null;
    });
    expect(done).toMatchObject({ attempts: 2, responseStatus: 200, lastError: null });
    await sleep(500);
    expect(rx.at(path)).toHaveLength(2);
  }, 30_000);

  it("delivers only the subscribed types of its own space, one delivery per (webhook, event)", async () => {
    const deletedOnly = `/${unique("deleted-only")}`;
    const everything = `/${unique("all")}`;
    const entryStar = `/${unique("entry-star")}`;
    const a = await hook({ url: `${rx.base}${deletedOnly}`, events: ["entry.deleted"] });
    const b = await hook({ url: `${rx.base}${everything}`, events: ["*"] });
    const c = await hook({ url: `${rx.base}${entryStar}`, events: ["entry.*", "entry.created"] });
    expect(c.webhook.events).toEqual(["entry.*", "entry.created"]);
    const other = await t.factories.space(w.org.id, unique("other"));
    await upload("elsewhere.txt", other.id);
    const id = await upload(`${unique("file")}.txt`);
    const del = await t.gql(`mutation($id: ID!) { deleteEntry(input: { id: $id }) { id } }`, { id }, w.adminToken);
    expect(del.errors).toBeUndefined();

    await eventually(() => rx.at(deletedOnly).length >= 1 && rx.at(everything).length >= 2 && rx.at(entryStar).length >= 2);
    await t.deps.webhookDispatcher.flush();
    await sleep(1_500);
    const types = (p: string) => rx.at(p).map((r) => JSON.parse(r.body).type);
    expect(types(deletedOnly)).toEqual(["entry.deleted"]);
    expect(types(everything).sort()).toEqual(["entry.created", "entry.deleted"]);
    expect(types(entryStar).sort()).toEqual(["entry.created", "entry.deleted"]);
    for (const p of [deletedOnly, everything, entryStar]) expect(rx.at(p).every((r) => JSON.parse(r.body).spaceId === w.space.id)).toBe(true);
    expect((await deliveries(a.webhook.id)).length).toBe(1);
    expect((await deliveries(b.webhook.id)).map((d) => d.eventType)).toEqual(["entry.deleted", "entry.created"]);
    // The log pages newest event first.
    const page = `query($h: ID!, $a: String) { webhookDeliveries(webhookId: $h, first: 1, after: $a) { edges { cursor node { eventType } } pageInfo { hasNextPage } } }`;
    type Page = { webhookDeliveries: { edges: { cursor: string; node: { eventType: string } }[]; pageInfo: { hasNextPage: boolean } } };
    const p1 = await t.gql<Page, unknown>(page, { h: b.webhook.id }, w.adminToken);
    expect(p1.data!.webhookDeliveries.edges.map((e) => e.node.eventType)).toEqual(["entry.deleted"]);
    expect(p1.data!.webhookDeliveries.pageInfo.hasNextPage).toBe(true);
    const p2 = await t.gql<Page, unknown>(page, { h: b.webhook.id, a: p1.data!.webhookDeliveries.edges[0]!.cursor }, w.adminToken);
    expect(p2.data!.webhookDeliveries.edges.map((e) => e.node.eventType)).toEqual(["entry.created"]);
    expect(p2.data!.webhookDeliveries.pageInfo.hasNextPage).toBe(false);
  });

  it("dispatching again from an old position creates no second delivery", async () => {
    const path = `/${unique("once")}`;
    const created = await hook({ url: `${rx.base}${path}` });
    await upload(`${unique("file")}.txt`);
    await eventually(() => rx.at(path).length === 1);
    // As if a pass had committed its deliveries but another process re-read the same events.
    await t.deps.prisma.$executeRaw`UPDATE webhook_dispatch_cursor SET position = greatest(position - 20, 0)`;
    await t.deps.webhookDispatcher.flush();
    await sleep(1_500);
    expect(rx.at(path)).toHaveLength(1);
    expect(await deliveries(created.webhook.id)).toHaveLength(1);
  });

  it("events committed while the dispatcher is down are delivered when it is back", async () => {
    const path = `/${unique("resume")}`;
    await hook({ url: `${rx.base}${path}` });
    await t.deps.webhookDispatcher.stop();
    try {
      await upload(`${unique("file")}.txt`);
      await upload(`${unique("file")}.txt`);
      await sleep(1_500);
      expect(rx.at(path)).toHaveLength(0);
    } finally {
      t.deps.webhookDispatcher.start();
    }
    await eventually(() => rx.at(path).length === 2);
  });

  it("events pruned before they were dispatched are skipped once, and later events still arrive", async () => {
    const path = `/${unique("pruned")}`;
    await hook({ url: `${rx.base}${path}` });
    await t.deps.webhookDispatcher.stop();
    try {
      await upload(`${unique("lost")}.txt`);
      // Retention ran while no worker dispatched: every event so far is gone.
      const { prunedThrough } = await pruneEvents(t.deps.prisma, new Date(Date.now() + 60_000));
      expect(prunedThrough).not.toBeNull();
      await t.deps.webhookDispatcher.flush();
      const [cursor] = await t.deps.prisma.$queryRaw<{ position: bigint }[]>`SELECT position FROM webhook_dispatch_cursor`;
      expect(cursor!.position).toBe(prunedThrough);
    } finally {
      t.deps.webhookDispatcher.start();
    }
    const later = `${unique("later")}.txt`;
    await upload(later);
    await until(() => (rx.at(path).length ? rx.at(path) : null));
    await sleep(1_000);
    expect(rx.at(path).map((r) => JSON.parse(r.body).payload.name)).toEqual([later]);
  });

  it("a last failed attempt settles FAILED, and a settled delivery is not sent again", async () => {
    const path = `/down-${unique("d")}`;
    const created = await hook({ url: `${rx.base}${path}` });
    await upload(`${unique("file")}.txt`);
    const [first] = await until(async () => {
      const list = await deliveries(created.webhook.id);
      return list[0]?.status === "RETRYING" ? list : null;
    });
    // The attempt the job would make last (before its dead letter), run now.
    const settings = { allowHosts: ["127.0.0.1"], connectTimeoutMs: 2000, timeoutMs: 2000 };
    const result = await attemptDelivery(t.deps.prisma, settings, first!.id, true);
    expect(result).toMatchObject({ delivered: false, status: 500, attempt: 2 });
    const [failed] = await deliveries(created.webhook.id);
    expect(failed).toMatchObject({ status: "FAILED", attempts: 2, responseStatus: 500 });
    expect(failed!.completedAt).not.toBeNull();
    // The job's retry (due 2-4 s after the first attempt) finds it settled.
    await sleep(5_000);
    expect(rx.at(path)).toHaveLength(2);
    expect(await attemptDelivery(t.deps.prisma, settings, first!.id, true)).toMatchObject({ skipped: expect.any(String) });
  }, 20_000);
});

describe("deleting a webhook", () => {
  it("stops its deliveries, pending retries included", async () => {
    const path = `/down-${unique("deleted")}`;
    const created = await hook({ url: `${rx.base}${path}` });
    await upload(`${unique("file")}.txt`);
    await eventually(() => rx.at(path).length === 1);
    const res = await t.gql(`mutation($id: ID!) { deleteWebhook(id: $id) { id } }`, { id: created.webhook.id }, w.adminToken);
    expect(res.errors).toBeUndefined();
    expect(await t.deps.prisma.webhookDelivery.count({ where: { webhookId: created.webhook.id } })).toBe(0);
    await upload(`${unique("file")}.txt`);
    // Longer than the first retry's backoff.
    await sleep(5_500);
    expect(rx.at(path)).toHaveLength(1);
    expect(errorCode(await t.gql(`mutation($id: ID!) { deleteWebhook(id: $id) { id } }`, { id: created.webhook.id }, w.adminToken))).toBe("NOT_FOUND");
    expect(
      errorCode(await t.gql(`query($h: ID!) { webhookDeliveries(webhookId: $h) { edges { node { id } } } }`, { h: created.webhook.id }, w.adminToken)),
    ).toBe("NOT_FOUND");
  }, 20_000);

  it("deleting the space deletes its webhooks", async () => {
    const space = await t.factories.space(w.org.id, unique("doomed"));
    const created = await hook({ url: `${rx.base}/${unique("doomed")}`, spaceId: space.id });
    const res = await t.gql(`mutation($s: ID!) { deleteSpace(id: $s) { id } }`, { s: space.id }, w.adminToken);
    expect(res.errors).toBeUndefined();
    expect(await t.deps.prisma.webhook.findUnique({ where: { id: created.webhook.id } })).toBeNull();
  });
});

describe("targets (SSRF rules of URL import)", () => {
  it("refuses loopback, private and odd URLs at creation with a typed code, leaving nothing behind", async () => {
    const before = await t.deps.prisma.webhook.count();
    const cases: [string, string][] = [
      [`${forbiddenRx.base}/x`, "URL_FORBIDDEN"], // 127.0.0.2: loopback, not allowed
      [`http://localhost:${new URL(rx.base).port}/x`, "URL_FORBIDDEN"], // only the literal 127.0.0.1 is allowed
      ["http://[::1]/x", "URL_FORBIDDEN"],
      ["http://10.1.2.3/x", "URL_FORBIDDEN"],
      ["http://169.254.169.254/latest/meta-data", "URL_FORBIDDEN"],
      ["http://[::ffff:192.168.0.1]/x", "URL_FORBIDDEN"],
      ["ftp://127.0.0.1/x", "URL_FORBIDDEN"],
      ["http://user:pw@127.0.0.1/x", "URL_FORBIDDEN"],
      ["not a url", "BAD_USER_INPUT"],
      [`http://127.0.0.1/${"a".repeat(3000)}`, "BAD_USER_INPUT"],
    ];
    for (const [url, code] of cases) expect([url, errorCode(await createWebhook({ url }))]).toEqual([url, code]);
    expect(await t.deps.prisma.webhook.count()).toBe(before);
  });

  it("refuses unknown event types and weak secrets", async () => {
    const url = `${rx.base}/never`;
    const unknown = await createWebhook({ url, events: ["entry.created", "entry.exploded", "nope.*"] });
    expect(errorCode(unknown)).toBe("BAD_USER_INPUT");
    expect(unknown.errors![0]!.extensions?.details).toMatchObject({ unknownEvents: ["entry.exploded", "nope.*"] });
    expect(errorCode(await createWebhook({ url, events: ["token.revoked"] }))).toBe("BAD_USER_INPUT");
    expect(errorCode(await createWebhook({ url, events: [] }))).toBe("BAD_USER_INPUT");
    expect(errorCode(await createWebhook({ url, secret: "short" }))).toBe("BAD_USER_INPUT");
    expect(errorCode(await createWebhook({ url, secret: "has spaces in it, sixteen+" }))).toBe("BAD_USER_INPUT");
  });

  it("checks the target again at each delivery and never connects to a refused address", async () => {
    const created = await hook({ url: `${rx.base}/${unique("rebind")}` });
    // As if the name now resolved to another (loopback) address.
    await t.deps.prisma.webhook.update({ where: { id: created.webhook.id }, data: { url: `${forbiddenRx.base}/stolen` } });
    await upload(`${unique("file")}.txt`);
    const [refused] = await until(async () => {
      const list = await deliveries(created.webhook.id);
      return list[0]?.status === "RETRYING" ? list : null;
    });
    expect(refused!.lastError).toMatch(/^URL_FORBIDDEN/);
    expect(refused!.responseStatus).toBeNull();
    expect(forbiddenRx.received).toHaveLength(0);
  });

  it("a target that does not answer in time is a failed attempt", async () => {
    const silent = http.createServer(() => {}); // accepts, never answers
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    try {
      const created = await hook({ url: `http://127.0.0.1:${(silent.address() as AddressInfo).port}/slow` });
      await upload(`${unique("file")}.txt`);
      const [timedOut] = await until(async () => {
        const list = await deliveries(created.webhook.id);
        return list[0]?.status === "RETRYING" ? list : null;
      });
      expect(timedOut!.lastError).toContain("No answer within 2000 ms");
      expect(timedOut!.responseStatus).toBeNull();
    } finally {
      silent.closeAllConnections();
      await new Promise((r) => silent.close(r));
    }
  });
});

describe("slow bodies", () => {
  it("a 2xx whose body never ends is a success once the time is up", async () => {
    const trickle = http.createServer((req, res) => {
      req.resume();
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("accepted, more to come");
    });
    await new Promise<void>((r) => trickle.listen(0, "127.0.0.1", r));
    try {
      const created = await hook({ url: `http://127.0.0.1:${(trickle.address() as AddressInfo).port}/trickle` });
      await upload(`${unique("file")}.txt`);
      const [done] = await until(async () => {
        const list = await deliveries(created.webhook.id);
        return list[0]?.status === "SUCCEEDED" ? list : null;
      });
      expect(done).toMatchObject({ attempts: 1, responseStatus: 200, responseExcerpt: "accepted, more to come", lastError: null });
    } finally {
      trickle.closeAllConnections();
      await new Promise((r) => trickle.close(r));
    }
  });
});

describe("access", () => {
  it("space admins only; other spaces' webhooks do not exist", async () => {
    const created = await hook({ url: `${rx.base}/${unique("acl")}` });
    const { token: writer } = await t.factories.member(w.org.id, w.space.id, ["assets:read", "assets:create", "assets:update", "assets:delete"]);
    const { token: spaceAdmin } = await t.factories.member(w.org.id, w.space.id, ["space:admin"]);
    const other = await t.factories.space(w.org.id, unique("other"));
    const { token: otherAdmin } = await t.factories.member(w.org.id, other.id, ["space:admin"]);

    expect(errorCode(await createWebhook({ url: `${rx.base}/x` }, writer))).toBe("FORBIDDEN");
    expect(errorCode(await createWebhook({ url: `${rx.base}/x` }, otherAdmin))).toBe("NOT_FOUND");
    expect(errorCode(await t.gql(CREATE, { i: { spaceId: w.space.id, url: `${rx.base}/x`, events: ["entry.created"] } }))).toBe("UNAUTHENTICATED");
    const list = `query($s: ID!) { webhooks(spaceId: $s) { id } }`;
    expect(errorCode(await t.gql(list, { s: w.space.id }, writer))).toBe("FORBIDDEN");
    expect(((await t.gql<{ webhooks: { id: string }[] }, unknown>(list, { s: w.space.id }, spaceAdmin)).data?.webhooks ?? []).map((h) => h.id)).toContain(
      created.webhook.id,
    );
    const node = `query($id: ID!) { node(id: $id) { id ... on Webhook { url } } }`;
    expect((await t.gql<{ node: unknown }, unknown>(node, { id: created.webhook.id }, otherAdmin)).data?.node).toBeNull();
    expect((await t.gql<{ node: unknown }, unknown>(node, { id: created.webhook.id }, writer)).data?.node).toBeNull();
    expect((await t.gql<{ node: unknown }, unknown>(node, { id: created.webhook.id }, spaceAdmin)).data?.node).toMatchObject({ id: created.webhook.id });
    expect(errorCode(await t.gql(`mutation($id: ID!) { deleteWebhook(id: $id) { id } }`, { id: created.webhook.id }, otherAdmin))).toBe("NOT_FOUND");
    expect(errorCode(await t.gql(`mutation($id: ID!) { deleteWebhook(id: $id) { id } }`, { id: created.webhook.id }, writer))).toBe("FORBIDDEN");
    expect(await t.deps.prisma.webhook.findUnique({ where: { id: created.webhook.id } })).not.toBeNull();
  });

  it("at most 20 webhooks per space", async () => {
    const space = await t.factories.space(w.org.id, unique("full"));
    for (let i = 0; i < 20; i++) await hook({ url: `${rx.base}/cap-${i}`, spaceId: space.id });
    const res = await createWebhook({ url: `${rx.base}/cap-21`, spaceId: space.id });
    expect(errorCode(res)).toBe("LIMITS_REACHED");
    expect(await t.deps.prisma.webhook.count({ where: { spaceId: space.id } })).toBe(20);
  });
});
