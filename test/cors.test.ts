// CORS (decision 46): the exact origins of CORS_ORIGINS may call /graphql, the
// REST routes and the disk store's /blobs routes from a web page, preflights
// included; any other origin gets no CORS header. The headers are checked
// exactly, as a browser reads them, for preflights and actual requests.
import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.ts";
import { EXPOSED_HEADERS, PREFLIGHT_MAX_AGE } from "../src/http/cors.ts";
import { buildTestApp, type TestApp } from "./harness.ts";

const APP = "https://app.example.com";
const DEV = "http://localhost:5173";
const EVIL = "https://evil.example";

let t: TestApp;
let token: string;
let spaceId: string;

beforeAll(async () => {
  t = await buildTestApp({ workers: false, env: { CORS_ORIGINS: `${APP}, ${DEV}` } });
  const w = await t.factories.world();
  token = w.adminToken;
  spaceId = w.space.id;
});
afterAll(() => t?.close());

/** The CORS headers of a response (and Vary), exactly. */
function corsHeaders(res: Response): Record<string, string> {
  return Object.fromEntries([...res.headers].filter(([name]) => name.startsWith("access-control-") || name === "vary"));
}

const pathId = (path: string) => Buffer.from(path).toString("base64url");

function preflight(url: string, origin: string, method: string, headers: string) {
  return fetch(url, { method: "OPTIONS", headers: { origin, "access-control-request-method": method, "access-control-request-headers": headers } });
}

const allowedPreflight = (origin: string, methods: string, headers: string) => ({
  "access-control-allow-origin": origin,
  "access-control-allow-methods": methods,
  "access-control-allow-headers": headers,
  "access-control-max-age": String(PREFLIGHT_MAX_AGE),
  vary: "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
});
const REFUSED_PREFLIGHT = { vary: "Origin, Access-Control-Request-Method, Access-Control-Request-Headers" };
const allowedActual = (origin: string) => ({ "access-control-allow-origin": origin, "access-control-expose-headers": EXPOSED_HEADERS, vary: "Origin" });
const REFUSED_ACTUAL = { vary: "Origin" };

describe("/graphql", () => {
  const query = (origin: string, authorization = `Bearer ${token}`) =>
    fetch(t.graphqlUrl, {
      method: "POST",
      headers: { origin, authorization, "content-type": "application/json" },
      body: JSON.stringify({ query: "{ viewer { accountId } }" }),
    });

  it("answers an allowed origin's preflight with exactly the CORS headers, and no credentials", async () => {
    for (const origin of [APP, DEV]) {
      const res = await preflight(t.graphqlUrl, origin, "POST", "authorization,content-type");
      expect(res.status).toBe(204);
      expect(corsHeaders(res)).toEqual(allowedPreflight(origin, "GET, POST", "authorization,content-type"));
    }
  });

  it("an allowed origin's request gets its origin back and the exposed headers", async () => {
    const res = await query(APP);
    expect(res.status).toBe(200);
    expect(corsHeaders(res)).toEqual(allowedActual(APP));
    expect(((await res.json()) as { data: { viewer: { accountId: string } } }).data.viewer.accountId).toMatch(/^acc_/);
  });

  it("a disallowed origin gets no CORS header: neither reflected nor with credentials", async () => {
    const pre = await preflight(t.graphqlUrl, EVIL, "POST", "authorization,content-type");
    expect(pre.status).toBe(403);
    expect(corsHeaders(pre)).toEqual(REFUSED_PREFLIGHT);
    const res = await query(EVIL);
    expect(corsHeaders(res)).toEqual(REFUSED_ACTUAL);
    // Prefixes and other schemes of an allowed origin are other origins.
    for (const near of [`${APP}.evil.example`, "http://app.example.com", `${APP}:8443`, "null"]) {
      expect(corsHeaders(await query(near))["access-control-allow-origin"], near).toBeUndefined();
    }
  });

  it("SSE subscriptions carry the CORS headers too", async () => {
    const controller = new AbortController();
    const res = await fetch(t.graphqlUrl, {
      method: "POST",
      signal: controller.signal,
      headers: { origin: APP, authorization: `Bearer ${token}`, "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify({ query: `subscription { spaceEvents(spaceId: "${spaceId}") { cursor } }` }),
    });
    expect(res.headers.get("content-type")).toMatch(/text\/event-stream/);
    expect(corsHeaders(res)).toEqual(allowedActual(APP));
    controller.abort();
  });
});

describe("REST routes", () => {
  const listUrl = () => `${t.url}/api/v1/space/${spaceId}/storage`;

  it("answers an allowed origin's preflight (404 before) and its requests, errors included", async () => {
    const pre = await preflight(listUrl(), APP, "GET", "authorization");
    expect(pre.status).toBe(204);
    expect(corsHeaders(pre)).toEqual(allowedPreflight(APP, "GET, POST, DELETE", "authorization"));
    const upload = await preflight(`${t.url}/api/v1/space/${spaceId}/storage/${pathId("a.bin")}/upload`, DEV, "POST", "authorization, content-type");
    expect(corsHeaders(upload)).toEqual(allowedPreflight(DEV, "GET, POST, DELETE", "authorization, content-type"));

    const res = await fetch(listUrl(), { headers: { origin: APP, authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(corsHeaders(res)).toEqual(allowedActual(APP));
    // The page must be able to read an error too.
    const denied = await fetch(listUrl(), { headers: { origin: APP } });
    expect(denied.status).toBe(401);
    expect(corsHeaders(denied)).toEqual(allowedActual(APP));
  });

  it("a disallowed origin gets no CORS header", async () => {
    const pre = await preflight(listUrl(), EVIL, "GET", "authorization");
    expect(pre.status).toBe(403);
    expect(corsHeaders(pre)).toEqual(REFUSED_PREFLIGHT);
    const res = await fetch(listUrl(), { headers: { origin: EVIL, authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(corsHeaders(res)).toEqual(REFUSED_ACTUAL);
  });
});

describe("/blobs (disk store): a web app browses, uploads two-stage and downloads", () => {
  it("two-stage upload: REST start, preflighted PUT, then a download reading ETag and Content-Disposition", async () => {
    const bytes = randomBytes(5_000);
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const started = await fetch(`${t.url}/api/v1/space/${spaceId}/storage/${pathId("web/two-stage.bin")}/upload`, {
      method: "POST",
      headers: { origin: APP, authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ file: { type: "application/octet-stream", size: bytes.length, sha256 } }),
    });
    expect(started.status).toBe(200);
    expect(corsHeaders(started)).toEqual(allowedActual(APP));
    const { uploadRequest } = (await started.json()) as { uploadRequest: { method: string; url: string; headers: Record<string, string> } };
    expect(new URL(uploadRequest.url).pathname).toMatch(/^\/blobs\//);

    // What the browser asks before the PUT: the signed headers, minus Content-Length (set by the browser itself).
    const asked = Object.keys(uploadRequest.headers)
      .map((h) => h.toLowerCase())
      .filter((h) => h !== "content-length")
      .sort()
      .join(",");
    const pre = await preflight(uploadRequest.url, APP, "PUT", asked);
    expect(pre.status).toBe(204);
    expect(corsHeaders(pre)).toEqual(allowedPreflight(APP, "GET, HEAD, PUT", asked));
    const put = await fetch(uploadRequest.url, { method: "PUT", headers: { ...uploadRequest.headers, origin: APP }, body: bytes });
    expect(put.status).toBe(200);
    expect(corsHeaders(put)).toEqual(allowedActual(APP));

    const link = await fetch(`${t.url}/api/v1/space/${spaceId}/storage/${pathId("web/two-stage.bin")}?disposition=attachment`, {
      headers: { origin: APP, authorization: `Bearer ${token}`, accept: "application/json" },
    });
    const { url } = (await link.json()) as { url: string };
    const prefetch = await preflight(url, APP, "GET", "range");
    expect(corsHeaders(prefetch)).toEqual(allowedPreflight(APP, "GET, HEAD, PUT", "range"));
    const download = await fetch(url, { headers: { origin: APP } });
    expect(download.status).toBe(200);
    expect(corsHeaders(download)).toEqual(allowedActual(APP));
    // The headers a page reads are exposed, and present.
    for (const h of ["ETag", "Content-Length", "Content-Disposition"]) {
      expect(EXPOSED_HEADERS.split(", ")).toContain(h);
      expect(download.headers.get(h), h).toBeTruthy();
    }
    expect(download.headers.get("etag")).toBe(`"${sha256}"`);
    expect(Buffer.from(await download.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it("a disallowed origin gets no CORS header on /blobs", async () => {
    const blob = await t.deps.prisma.blob.findFirstOrThrow({ where: { status: "READY" } });
    const url = await t.deps.blobStore.presignGet(blob.key, { expiresInSeconds: 60 });
    const pre = await preflight(url, EVIL, "GET", "range");
    expect(pre.status).toBe(403);
    expect(corsHeaders(pre)).toEqual(REFUSED_PREFLIGHT);
    const res = await fetch(url, { headers: { origin: EVIL } });
    expect(res.status).toBe(200);
    expect(corsHeaders(res)).toEqual(REFUSED_ACTUAL);
  });
});

describe("without CORS_ORIGINS (the default)", () => {
  let bare: TestApp;
  beforeAll(async () => {
    bare = await buildTestApp({ workers: false });
  });
  afterAll(() => bare?.close());

  it("no origin gets CORS headers, and preflights are refused", async () => {
    const res = await fetch(bare.graphqlUrl, {
      method: "POST",
      headers: { origin: APP, "content-type": "application/json" },
      body: JSON.stringify({ query: "{ __typename }" }),
    });
    expect(res.status).toBe(200);
    expect(corsHeaders(res)).toEqual({});
    for (const url of [bare.graphqlUrl, `${bare.url}/api/v1/space/spc_x/storage`, `${bare.url}/blobs/${"a".repeat(32)}`]) {
      const pre = await preflight(url, APP, "GET", "authorization");
      expect(pre.status, url).toBe(403);
      expect(corsHeaders(pre), url).toEqual(REFUSED_PREFLIGHT);
    }
  });
});

describe("CORS_ORIGINS", () => {
  it("takes exact origins only", () => {
    expect(loadConfig({ CORS_ORIGINS: " https://a.example ,http://localhost:5173" }).http.corsOrigins).toEqual(["https://a.example", "http://localhost:5173"]);
    expect(loadConfig({}).http.corsOrigins).toEqual([]);
    for (const bad of ["https://a.example/", "https://a.example/app", "*", "a.example", "https://a.example:443", "ftp://a.example"]) {
      expect(() => loadConfig({ CORS_ORIGINS: bad }), bad).toThrow(/CORS_ORIGINS/);
    }
  });
});
