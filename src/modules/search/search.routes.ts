// REST: GET /api/v1/space/{spaceId}/search?q=&first=&after=&mimeType=&folderId=
// The same search as GraphQL's Query.search (search.service.ts), answered like
// the storage listing: { items, nextCursor }, each item a file's JSON with its
// rank and snippet.
import type { FastifyInstance } from "fastify";
import type { PrismaClient } from "../../db/prisma.ts";
import { errorResponses, viewerOf } from "../../http/rest.ts";
import { FILE_SCHEMA, fileJson } from "../asset/asset.routes.ts";
import { createPathLoader } from "../entry/entry-tree.sql.ts";
import { MAX_PAGE_SIZE } from "../entry/entry-listing.ts";
import { MAX_QUERY_CHARS, type SearchService } from "./search.service.ts";

export type SearchRouteDeps = { search: SearchService; prisma: PrismaClient };

/** Like the storage listing, 100 hits a page by default. */
const REST_PAGE_SIZE = 100;

const SEARCH_SCHEMA = {
  tags: ["search"],
  operationId: "search",
  summary: "Search a space's file and folder names and extracted text (documents, transcripts), best first",
  description:
    'Full-text search (PostgreSQL, web search syntax: words, "quoted phrases", or, -excluded). Keyset-paginated with ?after=nextCursor. ' +
    "snippet is HTML: escaped text with the matched words in <mark>…</mark>. Needs assets:read.",
  params: { type: "object", properties: { spaceId: { type: "string" } }, required: ["spaceId"] },
  querystring: {
    type: "object",
    properties: {
      q: { type: "string", maxLength: MAX_QUERY_CHARS, description: `The query, 1 to ${MAX_QUERY_CHARS} characters` },
      first: { type: "integer", minimum: 1, maximum: MAX_PAGE_SIZE, default: REST_PAGE_SIZE },
      after: { type: "string", description: "nextCursor of the previous page" },
      mimeType: { type: "string", description: 'Files of this MIME type: exact ("application/pdf") or a prefix ("image/*")' },
      folderId: { type: "string", description: "Only entries below this folder, at any depth" },
    },
    required: ["q"],
  },
  response: {
    200: {
      description: "One page of hits, best first",
      type: "object",
      properties: {
        items: {
          type: "array",
          items: {
            ...FILE_SCHEMA,
            properties: {
              ...FILE_SCHEMA.properties,
              rank: { type: "number", description: "ts_rank of the hit (higher is better)" },
              snippet: { type: "string", description: "HTML excerpt, matched words in <mark>…</mark>" },
            },
          },
        },
        nextCursor: { type: ["string", "null"] },
      },
      required: ["items", "nextCursor"],
    },
    ...errorResponses("UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND", "BAD_USER_INPUT"),
  },
};

type SearchQuery = { q: string; first?: number; after?: string; mimeType?: string; folderId?: string };

export async function registerSearchRoutes(api: FastifyInstance, deps: SearchRouteDeps): Promise<void> {
  api.get<{ Params: { spaceId: string }; Querystring: SearchQuery }>("/space/:spaceId/search", { schema: SEARCH_SCHEMA }, async (req, reply) => {
    const q = req.query;
    const page = await deps.search.search(viewerOf(req), {
      spaceId: req.params.spaceId,
      query: q.q,
      first: q.first ?? REST_PAGE_SIZE,
      after: q.after ?? null,
      filter: { mimeType: q.mimeType ?? null, folderId: q.folderId ?? null },
    });
    const ids = page.hits.map((h) => h.id);
    const [entries, paths] = await Promise.all([
      deps.prisma.entry.findMany({ where: { id: { in: ids } }, include: { blob: true } }),
      createPathLoader(deps.prisma).loadMany(ids),
    ]);
    const byId = new Map(entries.map((e) => [e.id, e]));
    const items = page.hits.flatMap((h, i) => {
      const entry = byId.get(h.id);
      const path = paths[i];
      return entry && typeof path === "string" ? [{ ...fileJson(entry, path), rank: h.rank, snippet: h.snippet }] : [];
    });
    return reply.send({ items, nextCursor: page.hasNextPage ? page.endCursor : null });
  });
}
