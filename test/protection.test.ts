// Protections on by default: graphql-armor limits (depth, aliases incl.
// __typename, directives), our cost limit and CSRF prevention for browser-forgeable requests.
import { afterAll, beforeAll, expect, it } from "vitest";
import { buildTestApp, type TestApp } from "./harness.ts";
import { uploadAsset } from "./support/upload.ts";

let t: TestApp;
let token: string;
let spaceId: string;
beforeAll(async () => {
  t = await buildTestApp({ workers: false });
  const w = await t.factories.world();
  token = w.adminToken;
  spaceId = w.space.id;
});
afterAll(() => t?.close());

const messages = (res: { errors?: { message: string }[] }) => (res.errors ?? []).map((e) => e.message).join(" | ");

it("rejects queries nested deeper than the limit", async () => {
  let selection = "id";
  // 17 levels: past the depth limit (16) while still under the cost limit.
  for (let i = 0; i < 17; i++) selection = `parent { ${selection} }`;
  const res = await t.gql(`{ entry(spaceId: "${spaceId}", path: "") { ${selection} } }`, {}, token);
  expect(messages(res)).toMatch(/depth/i);
});

it("counts __typename aliases too (allowList: [])", async () => {
  const aliases = Array.from({ length: 20 }, (_, i) => `a${i}: __typename`).join(" ");
  const res = await t.gql(`{ ${aliases} }`, {}, token);
  expect(messages(res)).toMatch(/alias/i);
});

it("rejects more than 5 directives", async () => {
  const directives = Array.from({ length: 6 }, () => "@include(if: true)").join(" ");
  const res = await t.gql(`{ viewer { accountId ${directives} } }`, {}, token);
  expect(messages(res)).toMatch(/directive/i);
});

it("rejects queries over the cost limit", async () => {
  // 500 x 500 x 500 nested children (test/query-cost.test.ts has the cost model's cases).
  let selection = "id name path";
  for (let i = 0; i < 3; i++) selection = `... on Folder { children(first: 500) { edges { node { ${selection} } } } }`;
  const res = await t.gql(`{ entry(spaceId: "${spaceId}", path: "") { ${selection} } }`, {}, token);
  expect(res.errors?.length).toBeGreaterThan(0);
  expect(res.data ?? null).toBeNull();
});

it("refuses multipart uploads with neither a bearer token nor a CSRF header, and stores nothing", async () => {
  const res = await uploadAsset(t.graphqlUrl, { spaceId, path: "csrf.txt", body: "x", csrf: false });
  expect(res.errors?.[0]?.message).toMatch(/CSRF/);
  expect(await t.deps.prisma.blob.count()).toBe(0);
});

it("accepts a multipart upload authenticated by Authorization: Bearer without a CSRF header", async () => {
  const res = await uploadAsset(t.graphqlUrl, { token, spaceId, path: "bearer.txt", body: "x", csrf: false });
  expect(res.errors).toBeUndefined();
  expect(res.data?.uploadAsset.path).toBe("bearer.txt");
});

it("refuses a simple GET request with neither a bearer token nor a CSRF header", async () => {
  const url = `${t.graphqlUrl}?query=${encodeURIComponent("{ __typename }")}`;
  expect((await fetch(url)).status).toBe(403);
  // A Basic header is one a browser sends by itself (cached credentials): it proves nothing.
  expect((await fetch(url, { headers: { authorization: "Basic dTpw" } })).status).toBe(403);
  expect((await fetch(url, { headers: { "x-graphql-yoga-csrf": "1" } })).status).toBe(200);
  const viewer = `${t.graphqlUrl}?query=${encodeURIComponent("{ viewer { accountId } }")}`;
  expect((await fetch(viewer, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
});

it("keeps introspection on (GraphiQL needs it) and serves GraphiQL", async () => {
  const res = await t.gql("{ __schema { queryType { name } } }", {}, token);
  expect(res.data).toEqual({ __schema: { queryType: { name: "Query" } } });
  const page = await fetch(t.graphqlUrl, { headers: { accept: "text/html" } });
  expect(page.status).toBe(200);
  expect(await page.text()).toContain("GraphiQL");
});
