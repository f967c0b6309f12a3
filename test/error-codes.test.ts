// Every error a client sees carries extensions.code, GraphQL's own errors and
// graphql-armor's and yoga's refusals included; "Did you mean …?" never leaks;
// client mistakes and hang-ups stay out of the error log.
import { readdir } from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import { PassThrough, Writable } from "node:stream";
import pino from "pino";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { AppError, errors } from "../src/errors.ts";
import { ingest } from "../src/ingest/ingest.ts";
import { DiskBlobStore } from "../src/storage/disk/disk-blob-store.ts";
import { buildTestApp, eventually, type GraphQLResponse, type TestApp } from "./harness.ts";
import { uploadAsset } from "./support/upload.ts";

const logLines: { level: number; msg?: string; [k: string]: unknown }[] = [];
const logger = pino(
  { level: "info" },
  new Writable({
    write: (chunk, _enc, done) => {
      logLines.push(JSON.parse(String(chunk)));
      done();
    },
  }),
);
const errorLines = () => logLines.filter((l) => l.level >= 50);

let t: TestApp;
let token: string;
let spaceId: string;
beforeAll(async () => {
  t = await buildTestApp({ workers: false, logger });
  const w = await t.factories.world();
  token = w.adminToken;
  spaceId = w.space.id;
});
afterAll(() => t?.close());
beforeEach(() => {
  logLines.length = 0;
});

const codes = (res: GraphQLResponse<unknown>) => (res.errors ?? []).map((e) => e.extensions?.code);

describe("GraphQL's own errors", () => {
  it("GRAPHQL_PARSE_FAILED for a syntax error", async () => {
    const res = await t.gql("{ viewer { ", {}, token);
    expect(codes(res)).toEqual(["GRAPHQL_PARSE_FAILED"]);
    expect(res.errors![0]!.message).toMatch(/^Syntax Error/);
  });

  it("GRAPHQL_VALIDATION_FAILED for a document the schema refuses, without suggestions", async () => {
    const res = await t.gql("{ viewr { accountId } }", {}, token);
    expect(codes(res)).toEqual(["GRAPHQL_VALIDATION_FAILED"]);
    expect(res.errors![0]!.message).toContain('Cannot query field "viewr"');
    expect(JSON.stringify(res)).not.toMatch(/Did you mean|viewer/);
  });

  it("hides enum suggestions in literals (validation) and in variables (coercion)", async () => {
    const doc = (variables: string, order: string) =>
      `query($s: ID!${variables}) { entry(spaceId: $s, path: "") { ... on Folder { children(orderBy: ${order}) { edges { cursor } } } } }`;
    const literal = await t.gql(doc("", "{ field: NAM }"), { s: spaceId }, token);
    expect(codes(literal)).toEqual(["GRAPHQL_VALIDATION_FAILED"]);
    const variable = await t.gql(doc(", $o: EntryOrder", "$o"), { s: spaceId, o: { field: "NAM" } }, token);
    expect(codes(variable)).toEqual(["BAD_USER_INPUT"]);
    for (const res of [literal, variable]) {
      expect(res.errors![0]!.message).toContain('"NAM"');
      expect(JSON.stringify(res)).not.toMatch(/Did you mean|"NAME"/);
    }
  });

  it("BAD_USER_INPUT for variables that do not coerce, keeping which variable it was", async () => {
    const res = await t.gql("query($id: ID!) { space(id: $id) { id } }", { id: { not: "an id" } }, token);
    expect(codes(res)).toEqual(["BAD_USER_INPUT"]);
    expect(res.errors![0]!.message).toContain('Variable "$id"');
    const missing = await t.gql("query($id: ID!) { space(id: $id) { id } }", {}, token);
    expect(codes(missing)).toEqual(["BAD_USER_INPUT"]);
  });

  it("BAD_USER_INPUT for Pothos' refusals of connection arguments (negative first, before with after, junk cursor)", async () => {
    for (const args of ["first: -1", 'before: "x", after: "y"', 'after: "junk"']) {
      const res = await t.gql(`{ spaces(${args}) { edges { cursor } } }`, {}, token);
      expect(codes(res), args).toEqual(["BAD_USER_INPUT"]);
    }
  });
});

// The cost limit is our own (src/graphql/query-cost.ts) and answers LIMITS_REACHED: test/query-cost.test.ts.
describe("graphql-armor's limits: QUERY_TOO_COMPLEX", () => {
  it.each([
    ["depth", `{ entry(spaceId: "s", path: "") { ${"parent { ".repeat(17)}id${" }".repeat(17)} } }`, /depth/i],
    ["aliases", `{ ${Array.from({ length: 20 }, (_, i) => `a${i}: __typename`).join(" ")} }`, /alias/i],
    ["directives", `{ viewer { accountId ${"@include(if: true) ".repeat(6)}} }`, /directive/i],
    ["tokens", `{ ${"__typename ".repeat(5_001)}}`, /token/i],
  ])("%s", async (_what, query, message) => {
    const res = await t.gql(query, {}, token);
    expect(codes(res)).toEqual(["QUERY_TOO_COMPLEX"]);
    expect(res.errors![0]!.message).toMatch(message);
  });
});

describe("refused HTTP requests", () => {
  it("CSRF_HEADER_MISSING for a GET or a multipart POST with neither a CSRF header nor a bearer token", async () => {
    const get = await fetch(`${t.graphqlUrl}?query=${encodeURIComponent("{ __typename }")}`);
    expect(get.status).toBe(403);
    expect(codes((await get.json()) as GraphQLResponse<unknown>)).toEqual(["CSRF_HEADER_MISSING"]);
    const multipart = await uploadAsset(t.graphqlUrl, { spaceId, path: "x.txt", body: "x", csrf: false });
    expect(codes(multipart)).toEqual(["CSRF_HEADER_MISSING"]);
  });

  it("BAD_REQUEST for requests that are not GraphQL requests", async () => {
    const post = (body: string) => fetch(t.graphqlUrl, { method: "POST", headers: { "content-type": "application/json" }, body });
    for (const body of [JSON.stringify({ query: 42 }), JSON.stringify({ variables: {} }), JSON.stringify({ query: "{ __typename }", extensions: "x" })]) {
      const res = await post(body);
      expect(res.status, body).toBeLessThan(500);
      expect(codes((await res.json()) as GraphQLResponse<unknown>), body).toEqual(["BAD_REQUEST"]);
    }
    const put = await fetch(t.graphqlUrl, { method: "PUT", headers: { "content-type": "application/json" }, body: "{}" });
    expect(put.status).toBeLessThan(500);
    expect(((await put.json()) as { errors?: unknown[]; error?: { code: string } }).error?.code ?? "BAD_REQUEST").toBeTypeOf("string");
  });
});

describe("logging", () => {
  it("keeps client mistakes out of the error log", async () => {
    await t.gql("{ viewer { ", {}, token);
    await t.gql("{ viewr }", {}, token);
    await t.gql("query($id: ID!) { space(id: $id) { id } }", { id: 5.5 }, token);
    await t.gql(`{ ${Array.from({ length: 20 }, (_, i) => `a${i}: __typename`).join(" ")} }`, {}, token);
    await t.gql("{ spaces(first: -1) { edges { cursor } } }", {}, token);
    await t.gql('{ space(id: "spc_nope") { id } }', {}, "cab_wrong");
    await fetch(`${t.graphqlUrl}?query=${encodeURIComponent("{ __typename }")}`);
    await uploadAsset(t.graphqlUrl, { spaceId, path: "x.txt", body: "x", csrf: false });
    expect(errorLines()).toEqual([]);
  });

  it("an upload the client abandons over REST leaves nothing behind", async () => {
    const url = new URL(`${t.url}/api/v1/space/${spaceId}/storage/${Buffer.from("aborted.bin").toString("base64url")}/upload`);
    await new Promise<void>((resolve) => {
      const req = http.request(url, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/octet-stream", "content-length": String(1024 * 1024) },
      });
      req.on("error", () => resolve());
      req.write(Buffer.alloc(64 * 1024, 1), () =>
        setTimeout(() => {
          req.destroy();
          resolve();
        }, 200),
      );
    });
    // The partial object goes once the server has seen the hang-up.
    const list = (dir: string) => readdir(dir).catch((): string[] => []);
    const blobs = path.join(t.dataDir, "blobs");
    await eventually(async () => (await list(blobs)).includes(".partial") && (await list(path.join(blobs, ".partial"))).length === 0);
    expect(await t.deps.prisma.entry.count({ where: { spaceId, name: "aborted.bin" } })).toBe(0);
    expect(await t.deps.prisma.blob.count()).toBe(0);
    expect(errorLines()).toEqual([]);
  });

  it("a GraphQL multipart upload the client abandons is not logged as a storage error", async () => {
    const boundary = "----fuzzboundary";
    const operations = JSON.stringify({
      query: `mutation($f: Upload!) { uploadAsset(input: { spaceId: "${spaceId}", path: "aborted-gql.bin", file: $f }) { id } }`,
      variables: { f: null },
    });
    const head =
      `--${boundary}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n${operations}\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="map"\r\n\r\n{"0":["variables.f"]}\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="0"; filename="a.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`;
    await new Promise<void>((resolve) => {
      const req = http.request(t.graphqlUrl, {
        method: "POST",
        headers: {
          authorization: `Bearer ${token}`,
          "x-graphql-yoga-csrf": "1",
          "content-type": `multipart/form-data; boundary=${boundary}`,
          "content-length": String(1024 * 1024),
        },
      });
      req.on("error", () => resolve());
      req.write(head);
      req.write(Buffer.alloc(64 * 1024, 1), () =>
        setTimeout(() => {
          req.destroy();
          resolve();
        }, 300),
      );
    });
    await new Promise((r) => setTimeout(r, 500));
    expect(errorLines()).toEqual([]);
    expect(await t.deps.prisma.entry.count({ where: { spaceId, name: "aborted-gql.bin" } })).toBe(0);
  });
});

describe("ingest tells the client's failures from the store's", () => {
  class FailingStore extends DiskBlobStore {
    override async put(): Promise<void> {
      throw new Error("ECONNREFUSED: the store is down");
    }
  }
  const store = () => new DiskBlobStore({ root: path.join(t.dataDir, "ingest-test"), publicUrl: t.url, signingSecret: "x".repeat(32) });
  const limits = { limitBytes: 1024 * 1024, onLimit: () => errors.badInput("too big") };
  /** A source that sends a few bytes, then fails as a client hanging up does. */
  const brokenSource = (error: Error) => {
    const source = new PassThrough();
    source.write("some bytes");
    setTimeout(() => source.destroy(error), 20);
    return source;
  };

  it("UPLOAD_INTERRUPTED when the source breaks (the client hung up)", async () => {
    const reset = Object.assign(new Error("aborted"), { code: "ECONNRESET" });
    await expect(ingest(store(), "k1", brokenSource(reset), limits)).rejects.toMatchObject({
      code: "UPLOAD_INTERRUPTED",
      message: "The upload was interrupted",
    });
  });

  it("the source's own AppError when it has one (a URL import's fetch failing)", async () => {
    const fetchFailed = new AppError("URL_FETCH_FAILED", "The remote server reset the connection");
    await expect(ingest(store(), "k2", brokenSource(fetchFailed), limits)).rejects.toBe(fetchFailed);
  });

  it("STORAGE_UNAVAILABLE when the store fails", async () => {
    const source = new PassThrough();
    source.end("bytes");
    const failing = new FailingStore({ root: path.join(t.dataDir, "ingest-test"), publicUrl: t.url, signingSecret: "x".repeat(32) });
    await expect(ingest(failing, "k3", source, limits)).rejects.toMatchObject({ code: "STORAGE_UNAVAILABLE" });
  });
});
