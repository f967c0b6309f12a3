// Bounded work per request: the cost limit counts list sizes (a connection by its
// `first`, or its default page size; nodes(ids) by its ids), also when they come
// in variables, while every browse the schema and the README invite still passes.
// nodes(ids) takes at most 100 ids.
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTestApp, errorCode, type GraphQLResponse, type TestApp } from "./harness.ts";

let t: TestApp;
let token: string;
let spaceId: string;
let rootId: string;
beforeAll(async () => {
  t = await buildTestApp({ workers: false });
  const w = await t.factories.world();
  token = w.adminToken;
  spaceId = w.space.id;
  rootId = (await t.deps.prisma.entry.findFirstOrThrow({ where: { spaceId, parentId: null } })).id;
});
afterAll(() => t?.close());

/** `levels` nested Folder.children listings, each with `args` (e.g. "(first: 50)"), `leaf` selected on every entry. */
function nestedChildren(levels: number, args: string, leaf = "name"): string {
  let selection = leaf;
  for (let i = 0; i < levels; i++) selection = `${leaf} ... on Folder { children${args} { edges { node { ${selection} } } } }`;
  return selection;
}
const browse = (levels: number, args: string, leaf?: string) =>
  `query($spaceId: ID!${args.includes("$first") ? ", $first: Int" : ""}) { entry(spaceId: $spaceId, path: "") { ${nestedChildren(levels, args, leaf)} } }`;

const expectAccepted = (res: GraphQLResponse<unknown>) => {
  expect(res.errors).toBeUndefined();
  expect(res.data).toBeTruthy();
};
const expectTooCostly = (res: GraphQLResponse<unknown>) => {
  expect(errorCode(res)).toBe("LIMITS_REACHED");
  expect(res.errors?.[0]?.extensions?.details).toMatchObject({ reason: "QUERY_COST" });
  expect(res.errors?.[0]?.message).toMatch(/cost/i);
  expect(res.data ?? null).toBeNull();
};

describe("what the schema and the README invite passes", () => {
  it("one listing of the largest page (children(first: 500))", async () => {
    expectAccepted(await t.gql(browse(1, "(first: 500)"), { spaceId }, token));
  });

  it("two nested levels of children(first: 10), as literals and as variables", async () => {
    expectAccepted(await t.gql(browse(2, "(first: 10)"), { spaceId }, token));
    expectAccepted(await t.gql(browse(2, "(first: $first)"), { spaceId, first: 10 }, token));
  });

  it("a deep browse: 3 levels x 50 children, with creators and download URLs", async () => {
    const leaf = "name path createdBy { name } ... on Asset { mimeType size downloadUrl }";
    expectAccepted(await t.gql(browse(3, "(first: 50)", leaf), { spaceId }, token));
    expectAccepted(await t.gql(browse(3, "", leaf), { spaceId }, token));
  });

  it("the README's first session", async () => {
    const readme = await readFile(new URL("../README.md", import.meta.url), "utf8");
    const session = readme.split("### A first session")[1]!.split("```graphql")[1]!.split("```")[0]!;
    // One operation per paragraph; the README's "spc_…" placeholders become the real space.
    const operations = session
      .split(/\n\s*\n/)
      .map((op) => op.trim())
      .filter(Boolean);
    expect(operations.length).toBeGreaterThanOrEqual(3);
    for (const op of operations) {
      const res = await t.gql(op.replaceAll("spc_…", spaceId), {}, token);
      expect(res.errors, op).toBeUndefined();
    }
  });
});

describe("pathological queries are refused before any work", () => {
  it("500 x 500 x 500 nested children", async () => {
    expectTooCostly(await t.gql(browse(3, "(first: 500)"), { spaceId }, token));
  });

  it("the same sizes sent in variables", async () => {
    expectTooCostly(await t.gql(browse(3, "(first: $first)"), { spaceId, first: 500 }, token));
    // A variable's default counts too.
    const withDefault = browse(3, "(first: $first)").replace("$first: Int)", "$first: Int = 500)");
    expectTooCostly(await t.gql(withDefault, { spaceId }, token));
  });

  it("listings without `first` count at their default page size (50)", async () => {
    // 3 levels x 50 with a creator per entry costs about 258,000; four of them are over the limit.
    const level = nestedChildren(3, "", "createdBy { name }");
    const aliased = Array.from({ length: 4 }, (_, i) => `a${i}: entry(spaceId: $spaceId, path: "") { ${level} }`).join(" ");
    expectTooCostly(await t.gql(`query($spaceId: ID!) { ${aliased} }`, { spaceId }, token));
    expectAccepted(await t.gql(`query($spaceId: ID!) { ${aliased.replaceAll("children", "children(first: 10)")} }`, { spaceId }, token));
  });

  it("aliases add up", async () => {
    const one = `children(first: 500) { edges { node { ... on Folder { children(first: 500) { edges { node { name } } } } } } }`;
    const aliased = Array.from({ length: 4 }, (_, i) => `a${i}: ${one}`).join(" ");
    expectTooCostly(await t.gql(`{ entry(spaceId: "${spaceId}", path: "") { ... on Folder { ${aliased} } } }`, {}, token));
  });

  it("fragments count where they are spread, also fragments on a connection", async () => {
    const pages = Array.from({ length: 8 }, (_, i) => `p${i}: children(first: 500) { ...Page }`).join(" ");
    const query = `
      query($spaceId: ID!) { entry(spaceId: $spaceId, path: "") { ...Level1 } }
      fragment Level1 on Folder { children(first: 500) { edges { node { ...Level2 } } } }
      fragment Level2 on Folder { ${pages} }
      fragment Page on FolderChildrenConnection { edges { node { name } } }`;
    expectTooCostly(await t.gql(query, { spaceId }, token));
    expectAccepted(await t.gql(query.replaceAll("500", "10"), { spaceId }, token));
  });
});

describe("nodes(ids)", () => {
  const heavySelection = `... on Folder { children(first: 500) { edges { node { ... on Folder { children(first: 500) { edges { node { name } } } } } } } }`;

  it("answers up to 100 ids", async () => {
    const ids = Array.from({ length: 100 }, () => rootId);
    const res = await t.gql<{ nodes: { id: string }[] }, unknown>(`query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, { ids }, token);
    expect(res.errors).toBeUndefined();
    expect(res.data?.nodes).toHaveLength(100);
  });

  it("refuses more than 100 ids with BAD_USER_INPUT, quickly, also 30,000 of them", async () => {
    const few = await t.gql(`query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, { ids: Array.from({ length: 101 }, () => rootId) }, token);
    expect(errorCode(few)).toBe("BAD_USER_INPUT");
    expect(few.errors?.[0]?.message).toMatch(/at most 100 ids/);
    const started = performance.now();
    const many = await t.gql(`query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, { ids: Array.from({ length: 30_000 }, () => rootId) }, token);
    expect(errorCode(many)).toBe("BAD_USER_INPUT");
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it("multiplies the cost of its selection by the number of ids", async () => {
    const query = `query($ids: [ID!]!) { nodes(ids: $ids) { id ${heavySelection} } }`;
    expectAccepted(await t.gql(query, { ids: [rootId] }, token));
    expectTooCostly(await t.gql(query, { ids: [rootId, rootId, rootId, rootId] }, token));
  });

  it("documents the cap in the schema", async () => {
    const schema = await readFile(new URL("../schema.graphql", import.meta.url), "utf8");
    expect(schema).toMatch(/"""[^"]*At most 100 ids[^"]*"""\s*nodes\(ids: \[ID!\]!\)/);
  });
});
