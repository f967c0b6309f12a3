// Query.search: full-text search over a space's names and extracted text
// (search.service.ts, decision 52). Each edge carries its rank and a
// highlighted snippet beside the entry.
import { queryFromInfo } from "@pothos/plugin-prisma";
import { errors } from "../../errors.ts";
import { builder } from "../../graphql/builder.ts";
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from "../entry/entry-listing.ts";
import { EntryRef } from "../entry/entry.graphql.ts";
import { MAX_QUERY_CHARS } from "./search.service.ts";

const SearchFilterInput = builder.inputType("SearchFilter", {
  fields: (t) => ({
    mimeType: t.string({
      required: false,
      description: 'Files of this MIME type: exact ("application/pdf") or a prefix ("image/*"). Folders never match a MIME filter.',
    }),
    folderId: t.id({ required: false, description: "Only entries below this folder, at any depth (a folder of another space matches nothing)." }),
  }),
});

type Edge = { cursor: string; node: never; rank: number; snippet: string };

builder.queryFields((t) => ({
  search: t.connection(
    {
      type: EntryRef,
      description:
        `Entries of a space whose name or extracted text (documents, transcripts) matches \`query\`, best first (ts_rank; a name hit outranks a text hit), ties by id. ` +
        `The query uses web search syntax (words, "quoted phrases", or, -excluded) and never fails to parse; 1 to ${MAX_QUERY_CHARS} characters. ` +
        `Keyset pagination with \`first\` (default ${DEFAULT_PAGE_SIZE}, 1 to ${MAX_PAGE_SIZE}) and \`after\`. Needs assets:read.`,
      args: {
        spaceId: t.arg.id(),
        query: t.arg.string(),
        filter: t.arg({ type: SearchFilterInput, required: false }),
      },
      resolve: async (_root, args, ctx, info) => {
        if (args.last != null || args.before != null) throw errors.badInput("search pages forward only (first, after)");
        const page = await ctx.deps.services.search.search(await ctx.viewer(), {
          spaceId: args.spaceId,
          query: args.query,
          first: args.first,
          after: args.after,
          filter: args.filter,
        });
        const query = queryFromInfo({ context: ctx, info, typeName: "Entry", path: ["edges", "node"] });
        const rows = await ctx.prisma.entry.findMany({ ...(query as object), where: { id: { in: page.hits.map((h) => h.id) } } });
        const byId = new Map(rows.map((r) => [r.id, r]));
        // An entry deleted between the two reads is left out.
        const edges: Edge[] = page.hits.flatMap((h) => {
          const node = byId.get(h.id);
          return node ? [{ cursor: h.cursor, node: node as never, rank: h.rank, snippet: h.snippet }] : [];
        });
        return {
          edges,
          pageInfo: { hasNextPage: page.hasNextPage, hasPreviousPage: args.after != null, startCursor: edges[0]?.cursor ?? null, endCursor: page.endCursor },
        };
      },
    },
    { name: "SearchConnection" },
    {
      name: "SearchEdge",
      fields: (e) => ({
        rank: e.float({
          description: "ts_rank of the hit (higher is better); only comparable within one query.",
          resolve: (edge) => (edge as unknown as Edge).rank,
        }),
        snippet: e.string({
          description:
            "HTML: an excerpt of the extracted text (from its first 65,536 characters) around the matches when the text matched, else the name; HTML-escaped, the matched words in <mark>…</mark>.",
          resolve: (edge) => (edge as unknown as Edge).snippet,
        }),
      }),
    },
  ),
}));
