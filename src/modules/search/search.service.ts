// search(spaceId, query, first, after, filter): full-text search over a
// space's entry names and extracted text (decision 52). The rules (input
// bounds, cursors, permissions) live here; GraphQL and REST both call search().
import { requireSpacePermission } from "../../access/space-access.ts";
import type { Viewer } from "../../access/viewer.ts";
import type { PrismaClient } from "../../db/prisma.ts";
import { errors } from "../../errors.ts";
import { pageSize } from "../entry/entry-listing.ts";
import { MARK_END, MARK_START, runSearch, type SearchCursor, type SearchFilter } from "./search.sql.ts";

/** Longest query accepted, in characters (a query is parsed on every page). */
export const MAX_QUERY_CHARS = 256;
/** Longest MIME filter accepted. */
const MAX_MIME_CHARS = 255;
// type/subtype, or type/* (RFC 6838 token characters).
const MIME = /^[a-z0-9][a-z0-9!#$&^_.+-]*\/(\*|[a-z0-9][a-z0-9!#$&^_.+-]*)$/i;

export function encodeSearchCursor(c: SearchCursor): string {
  return Buffer.from(JSON.stringify(["s", c.rank, c.id])).toString("base64url");
}

/** A cursor from encodeSearchCursor; anything else is BAD_USER_INPUT "Invalid cursor". */
export function decodeSearchCursor(raw: string): SearchCursor {
  try {
    const [tag, rank, id] = JSON.parse(Buffer.from(raw, "base64url").toString("utf8")) as unknown[];
    // The rank is cast to real in SQL: only a plain decimal number may reach it.
    if (tag === "s" && typeof rank === "string" && /^-?\d+(\.\d+)?(e[+-]?\d+)?$/i.test(rank) && typeof id === "string" && id.length <= 64) {
      return { rank, id };
    }
  } catch {
    // fall through
  }
  throw errors.badInput("Invalid cursor");
}

const HTML: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** The snippet as HTML: the text escaped, the matched words in <mark>…</mark>. */
export function snippetHtml(raw: string): string {
  return raw
    .replace(/[&<>"']/g, (c) => HTML[c]!)
    .replaceAll(MARK_START, "<mark>")
    .replaceAll(MARK_END, "</mark>");
}

/**
 * The name with its matches marked: `headline` is the name as indexed (".",
 * "_" and "-" turned into spaces) with markers inserted, so the name's own
 * characters are put back one for one. Unmarked when they do not line up.
 */
export function nameSnippet(name: string, headline: string): string {
  let out = "";
  let i = 0;
  for (const c of headline) {
    if (c === MARK_START || c === MARK_END) {
      out += c;
      continue;
    }
    const original = name[i++];
    if (original === undefined) return snippetHtml(name);
    out += c === " " && "._-".includes(original) ? original : c;
  }
  return i === name.length ? snippetHtml(out) : snippetHtml(name);
}

export type SearchInput = { spaceId: string; query: string; first?: number | null; after?: string | null; filter?: SearchFilter | null };
export type SearchHit = { id: string; rank: number; snippet: string; cursor: string };
export type SearchPage = { hits: SearchHit[]; hasNextPage: boolean; endCursor: string | null };

export function createSearchService(deps: { prisma: PrismaClient }) {
  const { prisma } = deps;

  async function search(viewer: Viewer, input: SearchInput): Promise<SearchPage> {
    await requireSpacePermission(prisma, viewer, input.spaceId, "assets:read");
    const query = input.query.normalize("NFC").trim();
    if (query === "") throw errors.badInput("The search query cannot be empty");
    if ([...query].length > MAX_QUERY_CHARS) throw errors.badInput(`The search query can be at most ${MAX_QUERY_CHARS} characters`);
    // NUL cannot reach Postgres text; other control characters would only be noise.
    if (/\p{Cc}/u.test(query)) throw errors.badInput("The search query cannot contain control characters");
    const size = pageSize(input.first);
    const cursor = input.after ? decodeSearchCursor(input.after) : null;
    const mimeType = input.filter?.mimeType ?? null;
    if (mimeType !== null && (mimeType.length > MAX_MIME_CHARS || !MIME.test(mimeType))) {
      throw errors.badInput('mimeType must be a type/subtype ("application/pdf") or a prefix ("image/*")');
    }
    const folderId = input.filter?.folderId ?? null;
    const rows = await runSearch(prisma, { spaceId: input.spaceId, query, filter: { mimeType, folderId }, limit: size + 1, cursor });
    const page = rows.slice(0, size);
    const hits = page.map((r) => ({
      id: r.id,
      rank: Number(r.rank),
      snippet: r.text_snippet !== null ? snippetHtml(r.text_snippet) : nameSnippet(r.name, r.name_snippet),
      cursor: encodeSearchCursor({ rank: r.rank, id: r.id }),
    }));
    return { hits, hasNextPage: rows.length > size, endCursor: hits[hits.length - 1]?.cursor ?? null };
  }

  return { search };
}

export type SearchService = ReturnType<typeof createSearchService>;
