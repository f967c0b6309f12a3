// node(id) and nodes(ids): refetch anything by its prefixed id, through the
// loader its module registered (node-registry.ts), which applies the same
// access rules as the type's own queries. Ids the caller may not see resolve to null.
import { builder } from "../../graphql/builder.ts";
import { loadNode } from "./node-registry.ts";

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
    args: { ids: t.arg.idList() },
    resolve: (_root, args, ctx) => Promise.all(args.ids.map((id) => loadNode(id, ctx))) as never,
  }),
}));
