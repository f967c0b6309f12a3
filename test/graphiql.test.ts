// Browsers' GraphQL (decision 46): the GraphiQL page served compressed with an
// ETag; GraphiQL's subscriptions authenticated with the token of its headers
// panel (it sends them in each graphql-ws subscribe message's
// extensions.headers, through @graphql-tools/url-loader, the loader its bundle
// uses); graphql-sse's distinct connections mode working and its single
// connection mode refused with a clear error.
import { promisify } from "node:util";
import { brotliDecompress, gunzip } from "node:zlib";
import { UrlLoader } from "@graphql-tools/url-loader";
import { parse } from "graphql";
import { createClient as createSseClient, type ExecutionResult } from "graphql-sse";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SINGLE_CONNECTION_REFUSAL } from "../src/http/graphql-http.ts";
import { buildTestApp, eventually, type TestApp } from "./harness.ts";

let t: TestApp;
let w: Awaited<ReturnType<TestApp["factories"]["world"]>>;

beforeAll(async () => {
  t = await buildTestApp({ workers: false });
  w = await t.factories.world();
});
afterAll(() => t?.close());

const SPACE_EVENTS = "subscription($spaceId: ID!) { spaceEvents(spaceId: $spaceId) { type name } }";

async function createFolder(path: string) {
  const res = await t.gql(
    "mutation($input: CreateFolderInput!) { createFolder(input: $input) { id } }",
    { input: { spaceId: w.space.id, path, createParents: true } },
    w.adminToken,
  );
  expect(res.errors).toBeUndefined();
}

describe("the GraphiQL page", () => {
  const get = (headers: Record<string, string>) => fetch(t.graphqlUrl, { headers: { accept: "text/html", ...headers } });

  it("is served brotli- or gzip-compressed as accepted, the same page in every encoding", async () => {
    const plain = await get({ "accept-encoding": "identity" });
    expect(plain.status).toBe(200);
    expect(plain.headers.get("content-encoding")).toBeNull();
    const html = Buffer.from(await plain.arrayBuffer());
    expect(html.length).toBeGreaterThan(5_000_000);
    expect(html.toString()).toContain('"subscriptionsProtocol":"WS"');

    // undici's fetch would decode the body itself: read the raw bytes through node:http semantics instead.
    for (const [encoding, decode] of [
      ["br", promisify(brotliDecompress)],
      ["gzip", promisify(gunzip)],
    ] as const) {
      const res = await rawGet(t.graphqlUrl, { accept: "text/html", "accept-encoding": `${encoding}, identity;q=0.5` });
      expect(res.headers["content-encoding"]).toBe(encoding);
      expect(res.headers.vary).toBe("Accept-Encoding");
      expect(Number(res.headers["content-length"])).toBe(res.body.length);
      // At most a third of the page travels (brotli: about a fifth).
      expect(res.body.length).toBeLessThan(html.length / 3);
      expect((await decode(res.body)).equals(html)).toBe(true);
    }
    expect((await rawGet(t.graphqlUrl, { accept: "text/html", "accept-encoding": "gzip, br;q=0" })).headers["content-encoding"]).toBe("gzip");
  });

  it("carries an ETag per encoding and answers If-None-Match with 304", async () => {
    const first = await rawGet(t.graphqlUrl, { accept: "text/html", "accept-encoding": "br" });
    const etag = first.headers.etag as string;
    expect(etag).toMatch(/^"[\w-]+-br"$/);
    expect(first.headers["cache-control"]).toBe("no-cache");
    const again = await rawGet(t.graphqlUrl, { accept: "text/html", "accept-encoding": "br", "if-none-match": etag });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    const gz = await rawGet(t.graphqlUrl, { accept: "text/html", "accept-encoding": "gzip" });
    expect(gz.headers.etag).toBe(etag.replace(/-br"$/, '-gzip"'));
    expect((await rawGet(t.graphqlUrl, { accept: "text/html", "if-none-match": '"stale"' })).status).toBe(200);
  });
});

describe("GraphiQL's subscriptions (graphql-ws, headers panel in extensions.headers)", () => {
  /** What GraphiQL's fetcher does: UrlLoader's executor over WS, the panel's headers in the request's extensions. */
  async function graphiqlSubscribe(headers: Record<string, string>) {
    const executor = new UrlLoader().getExecutorAsync(t.graphqlUrl, { subscriptionsProtocol: "WS" as never, headers: {} });
    const result = await executor({ document: parse(SPACE_EVENTS), variables: { spaceId: w.space.id }, extensions: { headers } });
    return result as AsyncIterableIterator<ExecutionResult<{ spaceEvents: { type: string; name: string } }>>;
  }

  it("authenticates with the headers panel's Authorization and delivers events", async () => {
    const stream = await graphiqlSubscribe({ Authorization: `Bearer ${w.adminToken}` });
    const first = stream.next();
    await new Promise((r) => setTimeout(r, 300));
    await createFolder("from-graphiql");
    const { value } = await first;
    expect(value?.errors).toBeUndefined();
    expect(value?.data?.spaceEvents).toEqual({ type: "CREATED", name: "from-graphiql" });
    await stream.return?.();
  });

  it("without a token in the panel: UNAUTHENTICATED, as before", async () => {
    const stream = await graphiqlSubscribe({});
    const { value } = await stream.next();
    expect(value?.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
  });

  it("the stream ends when the panel's token is revoked", async () => {
    const member = await t.factories.account(w.org.id, { admin: true });
    const token = await t.factories.token(member.id);
    const stream = await graphiqlSubscribe({ authorization: `Bearer ${token.secret}` });
    const next = stream.next();
    await new Promise((r) => setTimeout(r, 300));
    const revoke = await t.gql("mutation($id: ID!) { revokeApiToken(id: $id) { id } }", { id: token.id }, w.adminToken);
    expect(revoke.errors).toBeUndefined();
    const ended = await Promise.race([next.then((r) => r.done), new Promise((r) => setTimeout(() => r("still open"), 5_000))]);
    expect(ended).toBe(true);
  });
});

describe("graphql-sse", () => {
  it("distinct connections mode (its default) subscribes over /graphql", async () => {
    const client = createSseClient({ url: t.graphqlUrl, headers: { authorization: `Bearer ${w.adminToken}` }, retryAttempts: 0 });
    const events: unknown[] = [];
    let failure: unknown;
    const unsubscribe = client.subscribe(
      { query: SPACE_EVENTS, variables: { spaceId: w.space.id } },
      { next: (r) => events.push(r), error: (e) => (failure = e), complete: () => {} },
    );
    await new Promise((r) => setTimeout(r, 500));
    await createFolder("from-sse");
    await eventually(() => events.length > 0 || failure, 5_000);
    expect(failure).toBeUndefined();
    expect(events[0]).toEqual({ data: { spaceEvents: { type: "CREATED", name: "from-sse" } } });
    unsubscribe();
    client.dispose();
  });

  it("single connection mode is refused with a clear error, before anything is reserved", async () => {
    const client = createSseClient({
      url: t.graphqlUrl,
      singleConnection: true,
      headers: { authorization: `Bearer ${w.adminToken}` },
      // Its default retries network errors (every non-201 answer) for about 30 s first.
      retryAttempts: 0,
    });
    const failure = await new Promise<unknown>((resolve) => {
      client.subscribe({ query: SPACE_EVENTS, variables: { spaceId: w.space.id } }, { next: () => {}, error: resolve, complete: () => resolve(null) });
    });
    expect(String(failure)).toContain("Server responded with 405: Single connection mode is not supported");
    const response = (failure as { response?: Response }).response;
    expect(response?.headers.get("allow")).toBe("GET, POST, OPTIONS");
    client.dispose();
    // Its reservation request, sent by hand: the body says why (the client aborts its own read of it).
    const reserve = await fetch(t.graphqlUrl, { method: "PUT", headers: { authorization: `Bearer ${w.adminToken}` } });
    expect(reserve.status).toBe(405);
    expect(await reserve.json()).toEqual({ errors: [{ message: SINGLE_CONNECTION_REFUSAL, extensions: { code: "BAD_REQUEST" } }] });

    // An operation sent to a stream token (a client that skipped the reservation) gets the same reason.
    const res = await fetch(t.graphqlUrl, {
      method: "POST",
      headers: { "x-graphql-event-stream-token": "x", authorization: `Bearer ${w.adminToken}`, "content-type": "application/json" },
      body: JSON.stringify({ query: "{ __typename }" }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { errors: { message: string }[] }).errors[0]!.message).toBe(SINGLE_CONNECTION_REFUSAL);
  });
});

async function rawGet(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  const http = await import("node:http");
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      })
      .on("error", reject);
  });
}
