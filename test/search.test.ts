// Search (decision 52) end to end: real uploads over HTTP, processed by the
// pipeline's workers (real PDF, DOCX and text extraction into blob_texts), then
// found through GraphQL Query.search and REST GET /api/v1/space/{id}/search.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PERMISSIONS } from "../src/access/permissions.ts";
import { ensureSearchLanguage } from "../src/modules/search/search-language.ts";
import { MAX_QUERY_CHARS } from "../src/modules/search/search.service.ts";
import { buildTestApp, createTestDatabase, errorCode, eventually, type TestApp } from "./harness.ts";
import * as fixtures from "./support/media-fixtures.ts";

let t: TestApp;
let w: Awaited<ReturnType<TestApp["factories"]["world"]>>;
let dir: string;
const ids: Record<string, string> = {};

async function upload(filePath: string, body: Buffer | string, type: string): Promise<string> {
  const res = await fetch(`${t.url}/api/v1/space/${w.space.id}/storage/${Buffer.from(filePath).toString("base64url")}/upload`, {
    method: "POST",
    headers: { authorization: `Bearer ${w.adminToken}`, "content-type": type },
    body: typeof body === "string" ? body : new Uint8Array(body),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { id: string }).id;
}

/** Waits until every processing step of these entries' blobs is settled. */
async function processed(entryIds: string[]) {
  await eventually(async () => {
    const entries = await t.deps.prisma.entry.findMany({ where: { id: { in: entryIds } }, select: { blobId: true } });
    const open = await t.deps.prisma.processingStep.count({
      where: { blobId: { in: entries.map((e) => e.blobId!) }, status: { in: ["QUEUED", "RUNNING"] } },
    });
    return open === 0 ? true : null;
  }, 60_000);
}

type Hit = { cursor: string; rank: number; snippet: string; node: { id: string; name: string; path: string } };
type SearchData = { search: { edges: Hit[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } };
const SEARCH = `query($s: ID!, $q: String!, $first: Int, $after: String, $filter: SearchFilter) {
  search(spaceId: $s, query: $q, first: $first, after: $after, filter: $filter) {
    edges { cursor rank snippet node { id name path } }
    pageInfo { hasNextPage endCursor }
  }
}`;

function search(q: string, opts: { first?: number; after?: string; filter?: Record<string, unknown> } = {}, token = w.adminToken, spaceId = w.space.id) {
  return t.gql<SearchData, Record<string, unknown>>(SEARCH, { s: spaceId, q, ...opts }, token);
}
async function names(q: string, filter?: Record<string, unknown>) {
  const res = await search(q, { first: 100, ...(filter ? { filter } : {}) });
  expect(res.errors).toBeUndefined();
  return res.data!.search.edges.map((e) => e.node.path);
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "cabinet-search-"));
  const at = (name: string) => path.join(dir, name);
  const [pdf, docx, png] = await Promise.all([
    fixtures.pdf(at("report.pdf"), ["Quarterly zebrafish numbers went up", "Second page mentions aardvark budgets"]),
    fixtures.docx(at("letter.docx"), ["Dear reader,", "Zebrafish crossings and quiet streets."]),
    fixtures.pngWithExif(at("photo.png")),
  ]);
  t = await buildTestApp();
  w = await t.factories.world();
  ids.pdf = await upload("docs/report.pdf", await readFile(pdf), "application/pdf");
  ids.docx = await upload("docs/deep/letter.docx", await readFile(docx), "application/vnd.openxmlformats-officedocument.wordprocessingml.document");
  ids.png = await upload("photos/zebrafish.png", await readFile(png), "image/png");
  ids.plan = await upload("notes/plan.txt", 'The aardvark migration plan: move the burrow <b>before</b> winter & "quietly".\n', "text/plain");
  ids.both = await upload("notes/zebrafish-notes.txt", "zebrafish zebrafish: feeding notes for the zebrafish tank.\n", "text/plain");
  await processed(Object.values(ids));
}, 120_000);

afterAll(async () => {
  await t?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("matching and ranking", () => {
  it("finds words of extracted text: a text file, a PDF's second page, a DOCX", async () => {
    expect(await names("aardvark")).toEqual(expect.arrayContaining(["notes/plan.txt", "docs/report.pdf"]));
    expect((await names("aardvark")).length).toBe(2);
    expect(await names("crossings")).toEqual(["docs/deep/letter.docx"]);
    expect(await names("burrow")).toEqual(["notes/plan.txt"]);
  });

  it("finds names (words split at . _ -), folders too", async () => {
    expect(await names("png")).toEqual(["photos/zebrafish.png"]);
    expect(await names("notes")).toEqual(expect.arrayContaining(["notes", "notes/zebrafish-notes.txt"]));
    expect(await names("deep")).toEqual(["docs/deep"]);
  });

  it("ranks a name and text hit first, name hits above text-only hits, ranks never increase", async () => {
    const res = await search("zebrafish", { first: 100 });
    const edges = res.data!.search.edges;
    expect(edges.map((e) => e.node.path)).toEqual(["notes/zebrafish-notes.txt", "photos/zebrafish.png", ...edges.slice(2).map((e) => e.node.path)]);
    expect(
      edges
        .slice(2)
        .map((e) => e.node.path)
        .sort(),
    ).toEqual(["docs/deep/letter.docx", "docs/report.pdf"]);
    for (let i = 1; i < edges.length; i++) expect(edges[i]!.rank).toBeLessThanOrEqual(edges[i - 1]!.rank);
    expect(edges[0]!.rank).toBeGreaterThan(edges[1]!.rank);
    expect(edges[1]!.rank).toBeGreaterThan(edges[2]!.rank);
  });

  it("the snippet is escaped HTML with the matched term in <mark>", async () => {
    const [hit] = (await search("migration")).data!.search.edges;
    expect(hit!.node.path).toBe("notes/plan.txt");
    expect(hit!.snippet).toContain("aardvark <mark>migration</mark> plan");
    // The text's own markup is dropped (ts_headline) and its & and quotes arrive escaped: the only tags are the marks.
    expect(hit!.snippet!.replace(/\s+/g, " ")).toContain("before winter &amp; &quot;quietly");
    expect(hit!.snippet!.replace(/<\/?mark>/g, "")).not.toMatch(/[<>"]/);
    const [name] = (await search("png")).data!.search.edges;
    expect(name!.snippet).toBe("zebrafish.<mark>png</mark>");
  });

  it("web search syntax: phrases, or, exclusion; syntax that would break to_tsquery just matches", async () => {
    expect(await names('"quiet streets"')).toEqual(["docs/deep/letter.docx"]);
    expect(await names('"streets quiet"')).toEqual([]);
    expect((await names("crossings or burrow")).sort()).toEqual(["docs/deep/letter.docx", "notes/plan.txt"]);
    expect(await names("aardvark -burrow")).toEqual(["docs/report.pdf"]);
    for (const q of ["&|!(", "):*", "'", "aardvark & (", "\\"]) {
      const res = await search(q);
      expect(res.errors).toBeUndefined();
    }
  });

  it("renames and deletions are searched at once (generated columns)", async () => {
    const id = await upload("tmp/wombat.txt", "nothing", "text/plain");
    expect(await names("wombat")).toEqual(["tmp/wombat.txt"]);
    const renamed = await t.gql(`mutation($id: ID!) { renameEntry(input: { id: $id, name: "koala.txt" }) { id } }`, { id }, w.adminToken);
    expect(renamed.errors).toBeUndefined();
    expect(await names("wombat")).toEqual([]);
    expect(await names("koala")).toEqual(["tmp/koala.txt"]);
    await t.gql(`mutation($id: ID!) { deleteEntry(input: { id: $id }) { id } }`, { id }, w.adminToken);
    expect(await names("koala")).toEqual([]);
  });
});

describe("filters", () => {
  it("mimeType: exact or a type/* prefix; folders never match", async () => {
    expect(await names("zebrafish", { mimeType: "application/pdf" })).toEqual(["docs/report.pdf"]);
    expect(await names("zebrafish", { mimeType: "image/*" })).toEqual(["photos/zebrafish.png"]);
    expect(await names("zebrafish", { mimeType: "text/*" })).toEqual(["notes/zebrafish-notes.txt"]);
    expect(await names("notes", { mimeType: "text/*" })).toEqual(["notes/zebrafish-notes.txt"]);
    expect(await names("zebrafish", { mimeType: "video/*" })).toEqual([]);
  });

  it("folderId: the whole subtree under the folder", async () => {
    const docs = (await t.deps.prisma.entry.findFirstOrThrow({ where: { spaceId: w.space.id, name: "docs" } })).id;
    const deep = (await t.deps.prisma.entry.findFirstOrThrow({ where: { spaceId: w.space.id, name: "deep" } })).id;
    expect((await names("zebrafish", { folderId: docs })).sort()).toEqual(["docs/deep/letter.docx", "docs/report.pdf"]);
    expect(await names("zebrafish", { folderId: deep })).toEqual(["docs/deep/letter.docx"]);
    expect(await names("zebrafish", { folderId: deep, mimeType: "application/pdf" })).toEqual([]);
    // A folder of another space (or a file id) matches nothing.
    expect(await names("zebrafish", { folderId: ids.pdf })).toEqual([]);
  });
});

describe("paging", () => {
  it("pages of 4 over 30 tied hits: every hit once, in the single-page order, and the last page says so", async () => {
    for (let i = 0; i < 30; i++) await upload(`paging/pagetest-${String(i).padStart(2, "0")}.txt`, `entry ${i}`, "text/plain");
    const all = (await search("pagetest", { first: 100 })).data!.search.edges.map((e) => e.node.id);
    expect(all.length).toBe(30);
    const seen: string[] = [];
    let after: string | undefined;
    for (let pages = 0; ; pages++) {
      expect(pages).toBeLessThan(10);
      const res = await search("pagetest", { first: 4, ...(after ? { after } : {}) });
      expect(res.errors).toBeUndefined();
      const { edges, pageInfo } = res.data!.search;
      seen.push(...edges.map((e) => e.node.id));
      if (!pageInfo.hasNextPage) break;
      after = pageInfo.endCursor!;
    }
    expect(seen).toEqual(all);
    expect(new Set(seen).size).toBe(30);
  });
});

describe("bad input", () => {
  it("empty, blank, too long, a bad cursor or a bad mimeType answer BAD_USER_INPUT", async () => {
    expect(errorCode(await search(""))).toBe("BAD_USER_INPUT");
    expect(errorCode(await search("   "))).toBe("BAD_USER_INPUT");
    expect(errorCode(await search("a".repeat(MAX_QUERY_CHARS + 1)))).toBe("BAD_USER_INPUT");
    expect((await search("a".repeat(MAX_QUERY_CHARS))).errors).toBeUndefined();
    expect(errorCode(await search("x", { after: "not-a-cursor" }))).toBe("BAD_USER_INPUT");
    const forged = Buffer.from(JSON.stringify(["s", "1; DROP TABLE entries", "x"])).toString("base64url");
    expect(errorCode(await search("x", { after: forged }))).toBe("BAD_USER_INPUT");
    expect(errorCode(await search("x", { filter: { mimeType: "image" } }))).toBe("BAD_USER_INPUT");
    expect(errorCode(await search("x", { first: 0 }))).toBe("BAD_USER_INPUT");
    expect(errorCode(await search("x\u0000y"))).toBe("BAD_USER_INPUT");
  });
});

describe("permissions", () => {
  it("another space's member gets NOT_FOUND; a member without assets:read FORBIDDEN; with it, hits", async () => {
    const other = await t.factories.space(w.org.id, "elsewhere");
    const outsider = await t.factories.member(w.org.id, other.id, [...PERMISSIONS]);
    expect(errorCode(await search("aardvark", {}, outsider.token))).toBe("NOT_FOUND");
    // The outsider's own space has no such file: nothing leaks across spaces.
    expect((await search("aardvark", {}, outsider.token, other.id)).data!.search.edges).toEqual([]);
    const writer = await t.factories.member(
      w.org.id,
      w.space.id,
      PERMISSIONS.filter((p) => p !== "assets:read"),
    );
    expect(errorCode(await search("aardvark", {}, writer.token))).toBe("FORBIDDEN");
    const reader = await t.factories.member(w.org.id, w.space.id, ["assets:read"]);
    expect((await search("burrow", {}, reader.token)).data!.search.edges.map((e) => e.node.path)).toEqual(["notes/plan.txt"]);
  });
});

describe("REST", () => {
  const get = (query: string, token = w.adminToken, spaceId = w.space.id) =>
    fetch(`${t.url}/api/v1/space/${spaceId}/search?${query}`, { headers: { authorization: `Bearer ${token}` } });

  it("answers items (the file JSON with rank and snippet) and pages with nextCursor", async () => {
    const res = await get("q=zebrafish&first=3");
    expect(res.status).toBe(200);
    const page = (await res.json()) as { items: { id: string; path: string; mimeType: string | null; rank: number; snippet: string }[]; nextCursor: string };
    expect(page.items.map((i) => i.path)).toEqual(["notes/zebrafish-notes.txt", "photos/zebrafish.png", expect.any(String)]);
    expect(page.items[1]!.mimeType).toBe("image/png");
    expect(page.items[0]!.snippet).toContain("<mark>zebrafish</mark>");
    const next = (await (await get(`q=zebrafish&first=3&after=${page.nextCursor}`)).json()) as { items: { path: string }[]; nextCursor: string | null };
    expect(next.items.length).toBe(1);
    expect(next.nextCursor).toBeNull();
    expect(new Set([...page.items, ...next.items].map((i) => i.path)).size).toBe(4);
  });

  it("filters by mimeType and folderId", async () => {
    const docs = (await t.deps.prisma.entry.findFirstOrThrow({ where: { spaceId: w.space.id, name: "docs" } })).id;
    const byType = (await (await get("q=zebrafish&mimeType=image/*")).json()) as { items: { path: string }[] };
    expect(byType.items.map((i) => i.path)).toEqual(["photos/zebrafish.png"]);
    const byFolder = (await (await get(`q=zebrafish&folderId=${docs}`)).json()) as { items: { path: string }[] };
    expect(byFolder.items.map((i) => i.path).sort()).toEqual(["docs/deep/letter.docx", "docs/report.pdf"]);
  });

  it("bad input is 400 BAD_USER_INPUT; another space 404; no token 401", async () => {
    for (const q of ["", "q=", `q=${"a".repeat(MAX_QUERY_CHARS + 1)}`, "q=x&after=zzz", "q=x&first=0"]) {
      const res = await get(q);
      expect(res.status, q).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("BAD_USER_INPUT");
    }
    const other = await t.factories.space(w.org.id, "rest-elsewhere");
    const outsider = await t.factories.member(w.org.id, other.id, [...PERMISSIONS]);
    expect((await get("q=aardvark", outsider.token)).status).toBe(404);
    expect((await fetch(`${t.url}/api/v1/space/${w.space.id}/search?q=x`)).status).toBe(401);
  });

  it("is in the OpenAPI document with its errors", async () => {
    const doc = (await (await fetch(`${t.url}/api/v1/openapi.json`)).json()) as { paths: Record<string, { get?: { operationId: string; responses: object } }> };
    const op = doc.paths["/api/v1/space/{spaceId}/search"]?.get;
    expect(op?.operationId).toBe("search");
    expect(Object.keys(op!.responses)).toEqual(expect.arrayContaining(["200", "400", "401", "403", "404"]));
  });
});

describe("SEARCH_LANGUAGE", () => {
  it("switching the configuration replaces the function and recomputes the columns once; unknown names are refused", async () => {
    const db = await createTestDatabase();
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      await client.query(`INSERT INTO organizations (id, name, quota_bytes, max_file_size_bytes) VALUES ('o1', 'o', 1000, 1000)`);
      await client.query(`INSERT INTO spaces (id, organization_id, name) VALUES ('s1', 'o1', 's')`);
      await client.query(`INSERT INTO entries (id, space_id, kind, name) VALUES ('r1', 's1', 'FOLDER', '')`);
      await client.query(`INSERT INTO entries (id, space_id, parent_id, kind, name) VALUES ('e1', 's1', 'r1', 'FOLDER', 'Running notes')`);
      const vector = async () => (await client.query<{ v: string }>(`SELECT search_tsv::text AS v FROM entries WHERE id = 'e1'`)).rows[0]!.v;
      expect(await vector()).toBe("'notes':2A 'running':1A");
      expect(await ensureSearchLanguage(db.url, "simple")).toBe(false);
      expect(await ensureSearchLanguage(db.url, "english")).toBe(true);
      expect(await vector()).toBe("'note':2A 'run':1A");
      const q = await client.query<{ hit: boolean }>(
        `SELECT search_tsv @@ websearch_to_tsquery(cabinet_search_config(), 'runs') AS hit FROM entries WHERE id = 'e1'`,
      );
      expect(q.rows[0]!.hit).toBe(true);
      expect(await ensureSearchLanguage(db.url, "english")).toBe(false);
      await expect(ensureSearchLanguage(db.url, "klingon")).rejects.toMatchObject({ code: "BAD_USER_INPUT" });
      expect(await vector()).toBe("'note':2A 'run':1A");
    } finally {
      await client.end();
      await db.drop();
    }
  });
});
