// Entry (interface) and Folder: the folder tree as GraphQL (Asset: asset.graphql.ts). Reads go
// straight to Prisma through Pothos selections (after an access check on the
// space); writes go through entry.service.ts / asset.service.ts.
import { queryFromInfo } from "@pothos/plugin-prisma";
import DataLoader from "dataloader";
import type { GraphQLResolveInfo } from "graphql";
import { errors } from "../../errors.ts";
import { builder } from "../../graphql/builder.ts";
import type { Context } from "../../graphql/context.ts";
import { decodeCursor, DEFAULT_PAGE_SIZE, encodeCursor, MAX_PAGE_SIZE, pageSize, type EntryOrder, type PageWindow } from "./entry-listing.ts";

export const EntryKindEnum = builder.enumType("EntryKind", { values: ["FOLDER", "FILE"] as const });

const EntryOrderFieldEnum = builder.enumType("EntryOrderField", { values: ["NAME", "UPDATED_AT", "SIZE"] as const });
const OrderDirectionEnum = builder.enumType("OrderDirection", { values: ["ASC", "DESC"] as const });
const EntryOrderInput = builder.inputType("EntryOrder", {
  description: "Sort order of a folder's children. Folders always come before files.",
  fields: (t) => ({
    field: t.field({ type: EntryOrderFieldEnum, defaultValue: "NAME" }),
    direction: t.field({ type: OrderDirectionEnum, defaultValue: "ASC" }),
  }),
});

/** The page a connection's arguments ask for: first/after forward, or last/before backward (never both). */
function pageWindow(
  args: { first?: number | null; after?: string | null; last?: number | null; before?: string | null },
  field: EntryOrder["field"],
): PageWindow {
  const backward = args.last != null || args.before != null;
  if (backward && (args.first != null || args.after != null)) throw errors.badInput("Page forward (first, after) or backward (last, before), not both");
  if (backward) return { size: pageSize(args.last), cursor: args.before ? decodeCursor(args.before, field) : null, backward };
  return { size: pageSize(args.first), cursor: args.after ? decodeCursor(args.after, field) : null, backward };
}

/**
 * Loads entry rows with the Prisma query Pothos plans for one selection (the
 * `edges.node` of one children field in the document), batched across all the
 * folders that selection appears under, so nested listings stay N+1 free.
 *
 * The plan is made for every folder's `children` execution, not once per
 * selection: making it records the plan's field mappings under that very
 * execution's path, and Pothos finds a loaded row's relations only through
 * them. With one plan per selection, only the first folder's rows had their
 * mappings; every file under the other folders fell back to one `findUnique`
 * per field (mimeType, downloadUrl), batched by Prisma but costing ~300 µs
 * per node: 1.6 s for a 5,050-node browse (bench/deep-browse.ts).
 */
function entriesFor(ctx: Context, info: GraphQLResolveInfo) {
  const query = queryFromInfo({ context: ctx, info, typeName: "Entry", path: ["edges", "node"] });
  const selection = info.fieldNodes[0]!;
  let loader = ctx.loaders.entriesBySelection.get(selection);
  if (!loader) {
    loader = new DataLoader<string, unknown>(async (ids) => {
      const rows = await ctx.prisma.entry.findMany({ ...(query as object), where: { id: { in: [...ids] } } });
      const byId = new Map(rows.map((r) => [r.id, r]));
      return ids.map((id) => byId.get(id) ?? new Error(`entry ${id} vanished`));
    });
    ctx.loaders.entriesBySelection.set(selection, loader);
  }
  return loader;
}

export const EntryRef = builder.prismaInterface("Entry", {
  name: "Entry",
  description: "A folder or a file in a space's tree.",
  fields: (t) => ({
    id: t.exposeID("id"),
    name: t.exposeString("name", { description: "The entry's name; empty for a space's root folder." }),
    kind: t.expose("kind", { type: EntryKindEnum }),
    path: t.string({
      description: "Path from the space root, e.g. `docs/contracts/a.pdf`; empty for the root.",
      resolve: async (entry, _args, ctx) => (await ctx.loaders.path.load(entry.id)) ?? "",
    }),
    spaceId: t.exposeID("spaceId"),
    parent: t.relation("parent", { nullable: true }),
    createdBy: t.relation("createdBy", { nullable: true }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
  }),
  resolveType: (entry) => (entry.kind === "FOLDER" ? "Folder" : "Asset"),
});

export const FolderRef = builder.prismaNode("Entry", {
  variant: "Folder",
  id: { field: "id" },
  interfaces: [EntryRef],
  fields: (t) => ({
    children: t.connection({
      type: EntryRef,
      description: `Folders first, then files, ordered by \`orderBy\` (default: name ascending). Keyset pagination forward with \`first\` (default ${DEFAULT_PAGE_SIZE}, 1 to ${MAX_PAGE_SIZE}) and \`after\`, or backward with \`last\` and \`before\` (the page just before the cursor, or the last page). Forward and backward arguments cannot be mixed.`,
      args: { orderBy: t.arg({ type: EntryOrderInput, required: false }) },
      resolve: async (folder, args, ctx, info) => {
        const order: EntryOrder = { field: args.orderBy?.field ?? "NAME", direction: args.orderBy?.direction ?? "ASC" };
        const window = pageWindow(args, order.field);
        const rows = await ctx.loaders.listing.load({ parentId: folder.id, order, ...window });
        // The extra row that says "there is more" is the last one forward, the first one backward.
        const more = rows.length > window.size;
        const page = window.backward ? rows.slice(more ? 1 : 0) : rows.slice(0, window.size);
        const nodes = await entriesFor(ctx, info).loadMany(page.map((r) => r.id));
        const edges = page.map((row, i) => {
          const node = nodes[i];
          if (node instanceof Error) throw node;
          return { cursor: encodeCursor(row), node: node as never };
        });
        return {
          edges,
          pageInfo: {
            // Like the relay spec allows, the side we did not page towards is only known to exist when a cursor was given.
            hasNextPage: window.backward ? window.cursor !== null : more,
            hasPreviousPage: window.backward ? more : window.cursor !== null,
            startCursor: edges[0]?.cursor ?? null,
            endCursor: edges[edges.length - 1]?.cursor ?? null,
          },
        };
      },
    }),
  }),
});

const CreateFolderInput = builder.inputType("CreateFolderInput", {
  description: "Either `path` (with `createParents` to make missing folders), or `parentId` and `name`.",
  fields: (t) => ({
    spaceId: t.id(),
    path: t.string({ required: false }),
    createParents: t.boolean({ required: false, defaultValue: false }),
    parentId: t.id({ required: false }),
    name: t.string({ required: false }),
  }),
});

builder.queryFields((t) => ({
  entry: t.prismaField({
    type: EntryRef,
    nullable: true,
    description: "The entry at `path` in a space (one SQL round trip), or null when nothing is there.",
    args: { spaceId: t.arg.id(), path: t.arg.string() },
    resolve: async (query, _root, args, ctx) => {
      const id = await ctx.deps.services.entries.findAt(await ctx.viewer(), args.spaceId, args.path, "assets:read");
      return id ? ctx.prisma.entry.findUnique({ ...query, where: { id } }) : null;
    },
  }),
}));

const RenameEntryInput = builder.inputType("RenameEntryInput", {
  fields: (t) => ({ id: t.id(), name: t.string() }),
});
const MoveEntryInput = builder.inputType("MoveEntryInput", {
  fields: (t) => ({
    id: t.id(),
    parentId: t.id({ description: "The folder to move into (same space)." }),
    name: t.string({ required: false, description: "A new name; the current one when omitted." }),
  }),
});
const DeleteEntryInput = builder.inputType("DeleteEntryInput", { fields: (t) => ({ id: t.id() }) });

const DeleteEntryPayload = builder.objectRef<{ id: string; deletedFiles: number }>("DeleteEntryPayload").implement({
  fields: (t) => ({
    id: t.exposeID("id", { description: "The deleted entry (its whole subtree went with it)." }),
    deletedFiles: t.exposeInt("deletedFiles", { description: "Files removed, the entry itself included." }),
  }),
});

builder.mutationFields((t) => ({
  renameEntry: t.prismaField({
    type: EntryRef,
    args: { input: t.arg({ type: RenameEntryInput }) },
    resolve: async (query, _root, { input }, ctx) => {
      const entry = await ctx.deps.services.entries.renameEntry(await ctx.viewer(), input);
      return ctx.prisma.entry.findUniqueOrThrow({ ...query, where: { id: entry.id } });
    },
  }),
  moveEntry: t.prismaField({
    type: EntryRef,
    args: { input: t.arg({ type: MoveEntryInput }) },
    resolve: async (query, _root, { input }, ctx) => {
      const entry = await ctx.deps.services.entries.moveEntry(await ctx.viewer(), input);
      return ctx.prisma.entry.findUniqueOrThrow({ ...query, where: { id: entry.id } });
    },
  }),
  deleteEntry: t.field({
    type: DeleteEntryPayload,
    args: { input: t.arg({ type: DeleteEntryInput }) },
    resolve: async (_root, { input }, ctx) => {
      const { entry, deletedFiles } = await ctx.deps.services.entries.deleteEntry(await ctx.viewer(), input);
      return { id: entry.id, deletedFiles };
    },
  }),
  createFolder: t.prismaField({
    type: FolderRef,
    args: { input: t.arg({ type: CreateFolderInput }) },
    resolve: async (query, _root, { input }, ctx) => {
      const folder = await ctx.deps.services.entries.createFolder(await ctx.viewer(), input);
      return ctx.prisma.entry.findUniqueOrThrow({ ...query, where: { id: folder.id } });
    },
  }),
}));
