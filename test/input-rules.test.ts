// Bad input is a 4xx with a code, never a 500, in GraphQL and REST: NUL
// anywhere, cursors of the wrong type, far dates, deep JSON, over-long names
// and MIME types, invisible and bidi characters in names.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_MEDIA_TYPE_LENGTH } from "../src/ingest/content-type.ts";
import { MAX_JSON_DEPTH } from "../src/validation/json.ts";
import { MAX_DISPLAY_NAME_LENGTH } from "../src/validation/text.ts";
import { buildTestApp, errorCode, type GraphQLResponse, type TestApp } from "./harness.ts";
import { deepJson } from "./support/fuzz.ts";
import { uploadAsset } from "./support/upload.ts";

let t: TestApp;
let token: string;
let spaceId: string;
let adminId: string;
beforeAll(async () => {
  t = await buildTestApp({ workers: false });
  const w = await t.factories.world();
  token = w.adminToken;
  spaceId = w.space.id;
  adminId = w.admin.id;
  for (const path of ["list/a.txt", "list/b.txt", "list/c.txt"]) {
    const up = await uploadAsset(t.graphqlUrl, { token, spaceId, path, body: path, createParents: true });
    expect(up.errors).toBeUndefined();
  }
});
afterAll(() => t?.close());

const gql = <T = Record<string, unknown>>(query: string, variables: Record<string, unknown> = {}) =>
  t.gql(query, variables, token) as Promise<GraphQLResponse<T>>;
const b64 = (s: string) => Buffer.from(s).toString("base64url");
const rest = (path: string, init: RequestInit = {}) =>
  fetch(`${t.url}/api/v1/space/${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...init.headers } });
async function restError(res: Response): Promise<[number, string]> {
  return [res.status, ((await res.json()) as { error: { code: string } }).error.code];
}

const CREATE_SPACE = "mutation($name: String!) { createSpace(input: { name: $name }) { id name } }";
const CREATE_ACCOUNT = "mutation($name: String!) { createAccount(input: { name: $name, kind: USER }) { id name } }";
const CREATE_TOKEN =
  "mutation($a: ID!, $name: String!, $exp: DateTime) { createApiToken(input: { accountId: $a, name: $name, expiresAt: $exp }) { token { id expiresAt } } }";
const CREATE_UPLOAD =
  "mutation($s: ID!, $p: String!, $m: String!, $meta: JSON) { createAssetUpload(input: { spaceId: $s, path: $p, mimeType: $m, size: 3, meta: $meta }) { asset { id metadata } } }";
const CHILDREN =
  'query($s: ID!, $after: String, $o: EntryOrder) { entry(spaceId: $s, path: "list") { ... on Folder { children(first: 1, after: $after, orderBy: $o) { edges { cursor node { name } } } } } }';

describe("NUL (U+0000), which Postgres text and jsonb cannot hold", () => {
  it("is BAD_USER_INPUT in ids, names, JSON values and keys", async () => {
    const cases: [string, Record<string, unknown>][] = [
      ["query($id: ID!) { space(id: $id) { id } }", { id: "spc_\u0000" }],
      ["query($id: ID!) { node(id: $id) { id } }", { id: "ent_\u0000x" }],
      ['query($s: ID!) { entry(spaceId: $s, path: "a") { id } }', { s: "spc_a\u0000" }],
      [CREATE_SPACE, { name: "nul\u0000space" }],
      [CREATE_ACCOUNT, { name: "nul\u0000" }],
      [CREATE_TOKEN, { a: adminId, name: "tok\u0000en" }],
      [CREATE_UPLOAD, { s: spaceId, p: "nul-meta.txt", m: "text/plain", meta: { a: "b\u0000" } }],
      [CREATE_UPLOAD, { s: spaceId, p: "nul-key.txt", m: "text/plain", meta: { "k\u0000": 1 } }],
      ["mutation($id: ID!) { revokeApiToken(id: $id) { id } }", { id: "tok_\u0000" }],
    ];
    for (const [query, variables] of cases) expect(errorCode(await gql(query, variables)), JSON.stringify(variables)).toBe("BAD_USER_INPUT");
  });

  it("keeps INVALID_PATH for paths and entry names", async () => {
    expect(errorCode(await gql("query($s: ID!, $p: String!) { entry(spaceId: $s, path: $p) { id } }", { s: spaceId, p: "a\u0000" }))).toBe("INVALID_PATH");
  });

  it("is a 400 over REST: in the space id, a JSON meta value, a cursor", async () => {
    expect(await restError(await rest(`%00/storage/${b64("a.txt")}`))).toEqual([400, "BAD_USER_INPUT"]);
    const meta = await rest(`${spaceId}/storage/${b64("rest-nul.txt")}/upload`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ file: { type: "text/plain", size: 3, meta: { v: "\u0000" } } }),
    });
    expect(await restError(meta)).toEqual([400, "BAD_USER_INPUT"]);
    const cursor = b64(JSON.stringify(["FILE", "a\u0000", "ent_x"]));
    expect(await restError(await rest(`${spaceId}/storage?path=list&after=${cursor}`))).toEqual([400, "BAD_USER_INPUT"]);
  });
});

describe("cursors and page arguments", () => {
  it("refuses a cursor whose value is not of the listing's order type", async () => {
    const byName = await gql<{ entry: { children: { edges: { cursor: string }[] } } }>(CHILDREN, { s: spaceId });
    const nameCursor = byName.data!.entry.children.edges[0]!.cursor;
    for (const field of ["SIZE", "UPDATED_AT"]) {
      expect(errorCode(await gql(CHILDREN, { s: spaceId, after: nameCursor, o: { field } })), field).toBe("BAD_USER_INPUT");
    }
    // Values that look right but cannot be cast: a day that does not exist, a size past int8.
    const [kind, , id] = JSON.parse(Buffer.from(nameCursor, "base64url").toString()) as string[];
    const forged = (value: string) => b64(JSON.stringify([kind, value, id]));
    expect(errorCode(await gql(CHILDREN, { s: spaceId, after: forged("2026-02-30 10:00:00+00"), o: { field: "UPDATED_AT" } }))).toBe("BAD_USER_INPUT");
    expect(errorCode(await gql(CHILDREN, { s: spaceId, after: forged("99999999999999999999"), o: { field: "SIZE" } }))).toBe("BAD_USER_INPUT");
    expect(await restError(await rest(`${spaceId}/storage?path=list&orderBy=SIZE&after=${nameCursor}`))).toEqual([400, "BAD_USER_INPUT"]);
  });

  it("still pages with its own cursors in every order", async () => {
    for (const field of ["NAME", "SIZE", "UPDATED_AT"]) {
      const first = await gql<{ entry: { children: { edges: { cursor: string; node: { name: string } }[] } } }>(CHILDREN, { s: spaceId, o: { field } });
      const after = first.data!.entry.children.edges[0]!.cursor;
      const second = await gql<{ entry: { children: { edges: { node: { name: string } }[] } } }>(CHILDREN, { s: spaceId, after, o: { field } });
      expect(second.errors, field).toBeUndefined();
      expect(second.data!.entry.children.edges[0]!.node.name).not.toBe(first.data!.entry.children.edges[0]!.node.name);
    }
  });

  it("refuses spaces cursors that decode to something other than an id", async () => {
    for (const chunk of ["N:5", "D:1700000000000", 'J:{"gt":""}', "B:9"]) {
      const cursor = Buffer.from(`GPC:${chunk}`).toString("base64");
      expect(errorCode(await gql("query($a: String) { spaces(after: $a) { edges { cursor } } }", { a: cursor })), chunk).toBe("BAD_USER_INPUT");
    }
  });

  it("refuses negative, zero and oversized page sizes, junk cursors and mixed directions for children", async () => {
    // Backward paging itself works (decisions.md 37); mixing directions and junk cursors do not.
    for (const args of ["first: 0", "first: -1", "first: 501", "last: 0", "last: 501", "first: 1, last: 1", 'before: "x"']) {
      const res = await gql(`query($s: ID!) { entry(spaceId: $s, path: "list") { ... on Folder { children(${args}) { edges { cursor } } } } }`, { s: spaceId });
      expect(errorCode(res), args).toBe("BAD_USER_INPUT");
    }
    expect(errorCode(await gql("{ spaces(first: -1, last: -1) { edges { cursor } } }"))).toBe("BAD_USER_INPUT");
  });
});

describe("DateTime", () => {
  it("refuses dates outside the years 0001-9999", async () => {
    for (const exp of ["+010000-01-01T00:00:00.000Z", "+275760-09-13T00:00:00.000Z", "-000001-01-01T00:00:00.000Z"]) {
      expect(errorCode(await gql(CREATE_TOKEN, { a: adminId, name: "far", exp })), exp).toBe("BAD_USER_INPUT");
    }
    const latest = await gql<{ createApiToken: { token: { expiresAt: string } } }>(CREATE_TOKEN, {
      a: adminId,
      name: "latest",
      exp: "9999-12-31T23:59:59.999Z",
    });
    expect(latest.data?.createApiToken.token.expiresAt).toBe("9999-12-31T23:59:59.999Z");
  });
});

describe("JSON nesting", () => {
  it(`accepts ${MAX_JSON_DEPTH} levels in a JSON argument and refuses more, as a variable or a literal`, async () => {
    const ok = await gql<{ createAssetUpload: { asset: { metadata: { meta: unknown } } } }>(CREATE_UPLOAD, {
      s: spaceId,
      p: "deep-ok.txt",
      m: "text/plain",
      meta: deepJson(MAX_JSON_DEPTH),
    });
    expect(ok.errors).toBeUndefined();
    expect(ok.data?.createAssetUpload.asset.metadata.meta).toEqual(deepJson(MAX_JSON_DEPTH));
    for (const depth of [MAX_JSON_DEPTH + 1, 3_000]) {
      expect(errorCode(await gql(CREATE_UPLOAD, { s: spaceId, p: "deep.txt", m: "text/plain", meta: deepJson(depth) })), String(depth)).toBe("BAD_USER_INPUT");
    }
    const literal = `mutation($s: ID!) { createAssetUpload(input: { spaceId: $s, path: "lit.txt", mimeType: "text/plain", size: 1, meta: ${"[".repeat(40)}${"]".repeat(40)} }) { asset { id } } }`;
    // A literal of the wrong shape is refused while validating the document, like any mistyped literal.
    const refused = await gql(literal, { s: spaceId });
    expect(errorCode(refused)).toBe("GRAPHQL_VALIDATION_FAILED");
    expect(refused.errors![0]!.message).toContain(`nests deeper than ${MAX_JSON_DEPTH} levels`);
  });

  it(`refuses REST JSON bodies nested deeper than ${MAX_JSON_DEPTH}`, async () => {
    const body = `{"file":{"type":"text/plain","size":3,"meta":${"[".repeat(5_000)}${"]".repeat(5_000)}}}`;
    const res = await rest(`${spaceId}/storage/${b64("deep-rest.txt")}/upload`, { method: "POST", headers: { "content-type": "application/json" }, body });
    expect(await restError(res)).toEqual([400, "BAD_USER_INPUT"]);
  });
});

describe("lengths", () => {
  it(`space, account and token names: at most ${MAX_DISPLAY_NAME_LENGTH} characters`, async () => {
    const longest = "n".repeat(MAX_DISPLAY_NAME_LENGTH);
    const tooLong = "n".repeat(MAX_DISPLAY_NAME_LENGTH + 1);
    expect((await gql<{ createSpace: { name: string } }>(CREATE_SPACE, { name: longest })).data?.createSpace.name).toBe(longest);
    expect(errorCode(await gql(CREATE_SPACE, { name: tooLong }))).toBe("BAD_USER_INPUT");
    expect(errorCode(await gql(CREATE_SPACE, { name: "x".repeat(900_000) }))).toBe("BAD_USER_INPUT");
    expect(errorCode(await gql(CREATE_ACCOUNT, { name: tooLong }))).toBe("BAD_USER_INPUT");
    expect(errorCode(await gql(CREATE_TOKEN, { a: adminId, name: tooLong }))).toBe("BAD_USER_INPUT");
    expect(await t.deps.prisma.space.count({ where: { name: tooLong } })).toBe(0);
  });

  it(`MIME types: at most ${MAX_MEDIA_TYPE_LENGTH} characters, over GraphQL and REST`, async () => {
    const longest = `application/${"x".repeat(MAX_MEDIA_TYPE_LENGTH - "application/".length)}`;
    const tooLong = `${longest}x`;
    expect((await gql(CREATE_UPLOAD, { s: spaceId, p: "mime-ok.bin", m: longest })).errors).toBeUndefined();
    expect(errorCode(await gql(CREATE_UPLOAD, { s: spaceId, p: "mime.bin", m: tooLong }))).toBe("BAD_USER_INPUT");
    expect(errorCode(await gql(CREATE_UPLOAD, { s: spaceId, p: "mime.bin", m: `text/${"p".repeat(100_000)}` }))).toBe("BAD_USER_INPUT");
    const raw = await rest(`${spaceId}/storage/${b64("mime-rest.bin")}/upload`, { method: "POST", headers: { "content-type": tooLong }, body: "abc" });
    expect(await restError(raw)).toEqual([400, "BAD_USER_INPUT"]);
    const twoStage = await rest(`${spaceId}/storage/${b64("mime-rest2.bin")}/upload`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ file: { type: tooLong, size: 3 } }),
    });
    expect(await restError(twoStage)).toEqual([400, "BAD_USER_INPUT"]);
    expect(await t.deps.prisma.entry.count({ where: { name: { startsWith: "mime" } } })).toBe(1);
  });
});

describe("invisible and bidi characters in names", () => {
  const INVISIBLE = [
    "\u202A",
    "\u202B",
    "\u202C",
    "\u202D",
    "\u202E",
    "\u2066",
    "\u2067",
    "\u2068",
    "\u2069",
    "\u200B",
    "\u200C",
    "\u200D",
    "\u2060",
    "\uFEFF",
    "\u2028",
    "\u2029",
  ];

  it("are INVALID_PATH in entry names, whatever creates the entry", async () => {
    expect(errorCode(await gql('mutation($s: ID!) { createFolder(input: { spaceId: $s, path: "invoice\u202Etxt.exe" }) { id } }', { s: spaceId }))).toBe(
      "INVALID_PATH",
    );
    expect(errorCode(await uploadAsset(t.graphqlUrl, { token, spaceId, path: "invoice\u202Etxt.exe", body: "x" }))).toBe("INVALID_PATH");
    const raw = await rest(`${spaceId}/storage/${b64("docs/invoice\u202Etxt.exe")}/upload`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: "x",
    });
    expect(await restError(raw)).toEqual([400, "INVALID_PATH"]);
    const folder = await gql<{ createFolder: { id: string } }>('mutation($s: ID!) { createFolder(input: { spaceId: $s, path: "plain" }) { id } }', {
      s: spaceId,
    });
    for (const c of INVISIBLE) {
      const res = await gql("mutation($id: ID!, $n: String!) { renameEntry(input: { id: $id, name: $n }) { id } }", {
        id: folder.data!.createFolder.id,
        n: `a${c}b`,
      });
      expect(errorCode(res), escape(c)).toBe("INVALID_PATH");
    }
    expect(await t.deps.prisma.entry.count({ where: { name: { contains: "\u202E" } } })).toBe(0);
  });

  it("are BAD_USER_INPUT in space, account and token names", async () => {
    for (const c of INVISIBLE) {
      expect(errorCode(await gql(CREATE_SPACE, { name: `a${c}b` })), escape(c)).toBe("BAD_USER_INPUT");
      expect(errorCode(await gql(CREATE_ACCOUNT, { name: `a${c}b` })), escape(c)).toBe("BAD_USER_INPUT");
      expect(errorCode(await gql(CREATE_TOKEN, { a: adminId, name: `a${c}b` })), escape(c)).toBe("BAD_USER_INPUT");
    }
    // Ordinary non-ASCII text stays welcome.
    expect((await gql<{ createSpace: { name: string } }>(CREATE_SPACE, { name: "Grüße 报告 😀 עברית" })).data?.createSpace.name).toBe("Grüße 报告 😀 עברית");
  });
});
