// node(id) and nodes(ids): refetch anything by its prefixed id, through the
// loader its module registered (node-registry.ts), which applies the same
// access rules as the type's own queries. Ids the caller may not see resolve to null.
import { errors } from "../../errors.ts";
import { builder } from "../../graphql/builder.ts";
import { loadNode } from "./node-registry.ts";

/** Each id is a lookup; the cap keeps one request's work bounded (query-cost.ts counts them too). */
export const MAX_NODE_IDS = 100;

builder.queryFields((t) => ({
  node: t.field({
    type: builder.nodeInterfaceRef(),
    nullable: true,
    args: { id: t.arg.id() },
    resolve: (_root, args, ctx) => loadNode(args.id, ctx) as never,
  }),
  nodes: t.field({
    type: [builder.nodeInterfaceRef()],
    nullable: { list: false, items: true },
    description: `At most ${MAX_NODE_IDS} ids; more is BAD_USER_INPUT.`,
    args: { ids: t.arg.idList() },
    resolve: (_root, args, ctx) => {
      if (args.ids.length > MAX_NODE_IDS) throw errors.badInput(`nodes takes at most ${MAX_NODE_IDS} ids (got ${args.ids.length})`, { limit: MAX_NODE_IDS });
      return Promise.all(args.ids.map((id) => loadNode(id, ctx))) as never;
    },
  }),
}));
