// Browsing a folder: keyset pages in every order (folders first), and nested
// listings whose SQL statement count does not grow with the number of children.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChildrenBackwardDocument, ChildrenDocument, DeepTreeDocument } from "./generated/graphql.ts";
import { buildTestApp, errorCode, type TestApp } from "./harness.ts";
import { newId } from "../src/ids.ts";

let t: TestApp;
let token: string;
let spaceId: string;
let rootId: string;
let accountId: string;
const sql: string[] = [];

beforeAll(async () => {
  t = await buildTestApp({ sqlLog: sql, workers: false });
  const w = await t.factories.world();
  token = w.adminToken;
  spaceId = w.space.id;
  accountId = w.admin.id;
  rootId = (await t.deps.prisma.entry.findFirstOrThrow({ where: { spaceId, parentId: null } })).id;
});
afterAll(() => t?.close());

/** Inserts entries directly (browsing is read-only; bytes do not matter here). */
async function seed(parentId: string, entries: { name: string; kind: "FOLDER" | "FILE"; size?: number; updatedAt?: Date }[]) {
  const rows = entries.map((e) => ({
    id: newId("Entry"),
    spaceId,
    parentId,
    kind: e.kind,
    name: e.name,
    size: BigInt(e.size ?? 0),
    createdById: accountId,
    updatedAt: e.updatedAt ?? new Date(),
  }));
  await t.deps.prisma.entry.createMany({ data: rows });
  return rows;
}

type Page = { names: string[]; endCursor: string | null; hasNextPage: boolean };
async function page(
  path: string,
  first: number,
  orderBy?: { field: "NAME" | "UPDATED_AT" | "SIZE"; direction: "ASC" | "DESC" },
  after?: string | null,
): Promise<Page> {
  const res = await t.gql(ChildrenDocument, { spaceId, path, first, after, orderBy }, token);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  const entry = res.data!.entry as { children: { pageInfo: { endCursor: string | null; hasNextPage: boolean }; edges: { node: { name: string } }[] } };
  return {
    names: entry.children.edges.map((e) => e.node.name),
    endCursor: entry.children.pageInfo.endCursor,
    hasNextPage: entry.children.pageInfo.hasNextPage,
  };
}
async function all(path: string, first: number, orderBy?: Parameters<typeof page>[2]) {
  const names: string[] = [];
  let after: string | null = null;
  for (let i = 0; i < 100; i++) {
    const p = await page(path, first, orderBy, after);
    names.push(...p.names);
    if (!p.hasNextPage) return names;
    after = p.endCursor;
  }
  throw new Error("too many pages");
}
async function pageBackward(path: string, last: number, orderBy?: Parameters<typeof page>[2], before?: string | null) {
  const res = await t.gql(ChildrenBackwardDocument, { spaceId, path, last, before, orderBy }, token);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  const entry = res.data!.entry as {
    children: { pageInfo: { startCursor: string | null; hasPreviousPage: boolean; hasNextPage: boolean }; edges: { cursor: string; node: { name: string } }[] };
  };
  return { names: entry.children.edges.map((e) => e.node.name), cursors: entry.children.edges.map((e) => e.cursor), ...entry.children.pageInfo };
}
/** Every child, read from the end towards the start with `last`/`before`, in listing order. */
async function allBackward(path: string, last: number, orderBy?: Parameters<typeof page>[2]) {
  const pages: string[][] = [];
  let before: string | null = null;
  for (let i = 0; i < 100; i++) {
    const p = await pageBackward(path, last, orderBy, before);
    pages.unshift(p.names);
    if (!p.hasPreviousPage) return pages.flat();
    before = p.startCursor;
  }
  throw new Error("too many pages");
}

describe("ordering and keyset pagination", () => {
  let folderId: string;
  const base = Date.parse("2026-01-01T00:00:00Z");
  const specs = [
    { name: "delta", kind: "FOLDER" as const, updatedAt: new Date(base + 5000) },
    { name: "alpha", kind: "FOLDER" as const, updatedAt: new Date(base + 1000) },
    { name: "b.txt", kind: "FILE" as const, size: 300, updatedAt: new Date(base + 3000) },
    { name: "a.txt", kind: "FILE" as const, size: 100, updatedAt: new Date(base + 4000) },
    { name: "c.txt", kind: "FILE" as const, size: 200, updatedAt: new Date(base + 2000) },
    { name: "d.txt", kind: "FILE" as const, size: 200, updatedAt: new Date(base + 2000) },
  ];
  const ids = new Map<string, string>();
  beforeAll(async () => {
    folderId = (await seed(rootId, [{ name: "sorted", kind: "FOLDER" }]))[0]!.id;
    for (const row of await seed(folderId, specs)) ids.set(row.name, row.id);
  });

  /** The expected order, computed independently: folders first, then the field, ties by id, all in `direction`. */
  function expected(field: "NAME" | "UPDATED_AT" | "SIZE", direction: "ASC" | "DESC") {
    const key = (s: (typeof specs)[number]) => (field === "NAME" ? s.name : field === "SIZE" ? (s.size ?? 0) : s.updatedAt.getTime());
    const sign = direction === "ASC" ? 1 : -1;
    const compare = (a: (typeof specs)[number], b: (typeof specs)[number]) => {
      if (key(a) !== key(b)) return key(a) < key(b) ? -sign : sign;
      return ids.get(a.name)! < ids.get(b.name)! ? -sign : sign;
    };
    const byKind = (k: "FOLDER" | "FILE") => specs.filter((s) => s.kind === k).sort(compare);
    return [...byKind("FOLDER"), ...byKind("FILE")].map((s) => s.name);
  }

  it.each([
    ["NAME", "ASC"],
    ["NAME", "DESC"],
    ["UPDATED_AT", "ASC"],
    ["UPDATED_AT", "DESC"],
    ["SIZE", "ASC"],
    ["SIZE", "DESC"],
  ] as const)("orders by %s %s with folders first, across pages of 1, 2 and 4", async (field, direction) => {
    const want = expected(field, direction);
    for (const first of [1, 2, 4]) {
      expect(await all("sorted", first, { field, direction })).toEqual(want);
    }
  });

  it("defaults to name ascending and reports page boundaries", async () => {
    const first = await page("sorted", 3);
    expect(first).toMatchObject({ names: ["alpha", "delta", "a.txt"], hasNextPage: true });
    const last = await page("sorted", 3, undefined, first.endCursor);
    expect(last).toMatchObject({ names: ["b.txt", "c.txt", "d.txt"], hasNextPage: false });
  });

  it.each([
    ["NAME", "ASC"],
    ["NAME", "DESC"],
    ["UPDATED_AT", "ASC"],
    ["UPDATED_AT", "DESC"],
    ["SIZE", "ASC"],
    ["SIZE", "DESC"],
  ] as const)("pages backward with last/before by %s %s, across the folder/file boundary, in pages of 1, 2 and 4", async (field, direction) => {
    const want = expected(field, direction);
    for (const last of [1, 2, 4]) {
      expect(await allBackward("sorted", last, { field, direction })).toEqual(want);
    }
  });

  it("last/before from a forward cursor gives the page before it, with its boundaries", async () => {
    const lastPage = await pageBackward("sorted", 2);
    expect(lastPage).toMatchObject({ names: ["c.txt", "d.txt"], hasPreviousPage: true, hasNextPage: false });
    const before = await pageBackward("sorted", 3, undefined, lastPage.cursors[0]);
    expect(before).toMatchObject({ names: ["delta", "a.txt", "b.txt"], hasPreviousPage: true, hasNextPage: true });
    const start = await pageBackward("sorted", 5, undefined, before.cursors[0]);
    expect(start).toMatchObject({ names: ["alpha"], hasPreviousPage: false });
  });

  it("rejects bad cursors, mixed forward and backward arguments and oversized pages with BAD_USER_INPUT", async () => {
    expect(errorCode(await t.gql(ChildrenDocument, { spaceId, path: "sorted", first: 2, after: "not-a-cursor" }, token))).toBe("BAD_USER_INPUT");
    expect(errorCode(await t.gql(ChildrenDocument, { spaceId, path: "sorted", first: 501 }, token))).toBe("BAD_USER_INPUT");
    expect(errorCode(await t.gql(ChildrenBackwardDocument, { spaceId, path: "sorted", last: 501 }, token))).toBe("BAD_USER_INPUT");
    expect(errorCode(await t.gql(ChildrenBackwardDocument, { spaceId, path: "sorted", last: 2, before: "not-a-cursor" }, token))).toBe("BAD_USER_INPUT");
    expect(
      errorCode(
        await t.gql(`{ entry(spaceId: "${spaceId}", path: "sorted") { ... on Folder { children(first: 2, last: 2) { edges { cursor } } } } }`, {}, token),
      ),
    ).toBe("BAD_USER_INPUT");
  });
});

describe("N+1-free nested listings", () => {
  /**
   * A space whose root has `width` folders, each with `width` children; the
   * first `width` of those hold `width` files each (with blobs, for mimeType and
   * downloadUrl). Seeded with bulk inserts.
   */
  async function treeSpace(width: number) {
    const space = await t.factories.space((await t.deps.prisma.space.findUniqueOrThrow({ where: { id: spaceId } })).organizationId);
    const root = await t.deps.prisma.entry.findFirstOrThrow({ where: { spaceId: space.id, parentId: null } });
    const folder = (parentId: string, name: string) => ({
      id: newId("Entry"),
      spaceId: space.id,
      parentId,
      kind: "FOLDER" as const,
      name,
      createdById: accountId,
    });
    const level1 = Array.from({ length: width }, (_, i) => folder(root.id, `l1-${i}`));
    const level2 = level1.flatMap((f) => Array.from({ length: width }, (_, i) => folder(f.id, `l2-${i}`)));
    const blobs: { id: string; organizationId: string; spaceId: string; key: string; status: "READY"; size: bigint; contentType: string }[] = [];
    const files = level2
      .filter((f) => f.name === "l2-0")
      .flatMap((f) =>
        Array.from({ length: width }, (_, i) => {
          const blobId = newId("Blob");
          blobs.push({
            id: blobId,
            organizationId: space.organizationId,
            spaceId: space.id,
            key: randomKey(),
            status: "READY",
            size: 10n,
            contentType: "text/plain",
          });
          return { ...folder(f.id, `f-${i}.txt`), kind: "FILE" as const, blobId, size: 10n };
        }),
      );
    await t.deps.prisma.entry.createMany({ data: [...level1, ...level2] });
    await t.deps.prisma.blob.createMany({ data: blobs });
    await t.deps.prisma.entry.createMany({ data: files });
    return { spaceId: space.id, files: files.length };
  }
  const randomKey = () => newId("Blob").slice(4);

  it("issues the same number of SQL statements for 3 levels of 5 and of 50 children", async () => {
    const counts: number[] = [];
    for (const width of [5, 50]) {
      const tree = await treeSpace(width);
      sql.length = 0;
      const res = await t.gql(DeepTreeDocument, { spaceId: tree.spaceId, first: width }, token);
      expect(res.errors).toBeUndefined();
      counts.push(sql.length);
      // The whole tree came back: every level-3 file with its URL, path and creator.
      const text = JSON.stringify(res.data);
      expect(text.match(/"downloadUrl":"http/g)?.length).toBe(tree.files);
      expect(text.match(/"path":"l1-0\/l2-0\/f-0.txt"/g)?.length).toBe(1);
    }
    expect(counts[1]).toBe(counts[0]);
    // Today 17: auth and the space check, the path, then per level the page, the rows and
    // their creators (and the files' blobs). A regression that adds per-row queries would
    // break the equality above first. Rows Pothos cannot find its field mappings for are
    // loaded again, once per field and level (22 statements, and ~300 µs per node in
    // bench/deep-browse.ts): the bound catches that.
    expect(counts[0]).toBeLessThanOrEqual(17);
  });
});
