// Space type, its queries, createSpace, renameSpace, deleteSpace and the spaceEvents subscription.
import DataLoader from "dataloader";
import { assertPermission, canSeeSpace, visibleSpacesWhere } from "../../access/space-access.ts";
import { encodeCursor } from "../../events/event-log.ts";
import { isStreamEnd, type StreamItem } from "../../events/event-stream.ts";
import type { EventOf } from "../../events/event-types.ts";
import { errors } from "../../errors.ts";
import { builder } from "../../graphql/builder.ts";
import type { Context } from "../../graphql/context.ts";
import { EntryKindEnum, FolderRef } from "../entry/entry.graphql.ts";
import { registerNodeLoader } from "../node/node-registry.ts";
import { openSpaceEvents } from "./space-events.ts";

// Per request: one query sums the pending uploads of every space a response lists.
const reservedLoaders = new WeakMap<Context, DataLoader<string, bigint>>();
function reservedBytesOf(ctx: Context, spaceId: string): Promise<bigint> {
  let loader = reservedLoaders.get(ctx);
  if (!loader) {
    loader = new DataLoader(async (ids) => {
      const rows = await ctx.prisma.blob.groupBy({ by: ["spaceId"], where: { spaceId: { in: [...ids] }, status: "PENDING" }, _sum: { size: true } });
      const bySpace = new Map(rows.map((r) => [r.spaceId, r._sum.size ?? 0n]));
      return ids.map((id) => bySpace.get(id) ?? 0n);
    });
    reservedLoaders.set(ctx, loader);
  }
  return loader.load(spaceId);
}

export const SpaceRef = builder.prismaNode("Space", {
  id: { field: "id" },
  fields: (t) => ({
    name: t.exposeString("name"),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    usedBytes: t.expose("usedBytes", { type: "SafeInt", description: "Bytes stored in this space." }),
    reservedBytes: t.field({
      type: "SafeInt",
      description: "Bytes held for two-stage uploads in flight into this space (counted against the organization's quota).",
      resolve: (space, _args, ctx) => reservedBytesOf(ctx, space.id),
    }),
    grants: t.prismaConnection({
      type: "SpaceGrant",
      cursor: "id",
      description: "Who holds which permissions here, oldest grant first (organization admins and space:admin holders).",
      resolve: async (query, space, _args, ctx) => {
        if (query.cursor && typeof (query.cursor as { id?: unknown }).id !== "string") throw errors.badInput("Invalid cursor");
        assertPermission(await ctx.viewer(), space, "space:admin");
        return ctx.prisma.spaceGrant.findMany({ ...query, where: { spaceId: space.id }, orderBy: [{ createdAt: "asc" }, { id: "asc" }] });
      },
    }),
    root: t.prismaField({
      type: FolderRef,
      description: "The space's root folder (requires assets:read).",
      resolve: async (query, space, _args, ctx) => {
        assertPermission(await ctx.viewer(), space, "assets:read");
        return ctx.prisma.entry.findFirstOrThrow({ ...query, where: { spaceId: space.id, parentId: null } });
      },
    }),
  }),
});

registerNodeLoader("Space", [SpaceRef], async (id, viewer, ctx) => {
  const space = await ctx.prisma.space.findUnique({ where: { id } });
  return space && canSeeSpace(viewer, space) ? { type: SpaceRef, node: space } : null;
});

type EntryEvent = EventOf<"entry.created" | "entry.updated" | "entry.moved" | "entry.deleted">;

const EVENT_TYPE = { "entry.created": "CREATED", "entry.updated": "UPDATED", "entry.moved": "MOVED", "entry.deleted": "DELETED" } as const;

const SpaceEventTypeEnum = builder.enumType("SpaceEventType", { values: ["CREATED", "UPDATED", "MOVED", "DELETED"] as const });

const EntryChangeEnum = builder.enumType("EntryChange", {
  description: "What an UPDATED event changed.",
  values: {
    RENAMED: { description: "The name (in the same folder; a change of folder is MOVED)." },
    CONTENT: { description: "The file's bytes: an overwrite, or a two-stage upload's content arriving." },
    METADATA: { description: "The entry's metadata. Reserved: nothing changes metadata yet." },
  } as const,
});

const SpaceEventRef = builder.objectRef<EntryEvent>("SpaceEvent").implement({
  description: "Something changed in a space's tree. Events arrive in commit order (parents before their children).",
  fields: (t) => ({
    cursor: t.string({
      description: "This event's position in the log: pass it as `spaceEvents(after:)` to resume right after it.",
      resolve: (e) => encodeCursor(e.id),
    }),
    type: t.field({ type: SpaceEventTypeEnum, resolve: (e) => EVENT_TYPE[e.type] }),
    spaceId: t.id({ resolve: (e) => e.spaceId }),
    entryId: t.id({ resolve: (e) => e.subjectId }),
    parentId: t.id({ nullable: true, description: "The folder the entry is in (for MOVED: its new folder).", resolve: (e) => e.payload.parentId }),
    name: t.string({ resolve: (e) => e.payload.name }),
    kind: t.field({ type: EntryKindEnum, resolve: (e) => e.payload.kind }),
    at: t.field({ type: "DateTime", resolve: (e) => e.createdAt }),
    change: t.field({
      type: EntryChangeEnum,
      nullable: true,
      description: "UPDATED only: what changed.",
      resolve: (e) => (e.type === "entry.updated" ? e.payload.change : null),
    }),
    previousName: t.string({
      nullable: true,
      description: "RENAMED and MOVED: the name before.",
      resolve: (e) => (e.type === "entry.updated" || e.type === "entry.moved" ? (e.payload.previousName ?? null) : null),
    }),
    previousParentId: t.id({
      nullable: true,
      description: "MOVED only: the folder it was in before.",
      resolve: (e) => (e.type === "entry.moved" ? e.payload.previousParentId : null),
    }),
    path: t.string({
      nullable: true,
      description: "MOVED only: the entry's new path.",
      resolve: (e) => (e.type === "entry.moved" ? e.payload.path : null),
    }),
    deletedCount: t.int({
      nullable: true,
      description: "DELETED only: how many entries went, this one included (a file: 1; a folder: 1 + everything below it).",
      resolve: (e) => (e.type === "entry.deleted" ? e.payload.deletedCount : null),
    }),
  }),
});

const CreateSpaceInput = builder.inputType("CreateSpaceInput", {
  fields: (t) => ({ name: t.string() }),
});

const RenameSpaceInput = builder.inputType("RenameSpaceInput", {
  fields: (t) => ({ id: t.id(), name: t.string() }),
});

const DeleteSpacePayload = builder.objectRef<{ id: string; deletedFiles: number }>("DeleteSpacePayload").implement({
  fields: (t) => ({
    id: t.exposeID("id", { description: "The deleted space." }),
    deletedFiles: t.exposeInt("deletedFiles", { description: "Files removed with it." }),
  }),
});

builder.queryFields((t) => ({
  space: t.prismaField({
    type: SpaceRef,
    nullable: true,
    args: { id: t.arg.id() },
    resolve: async (query, _root, args, ctx) => {
      const viewer = await ctx.viewer();
      return ctx.prisma.space.findFirst({ ...query, where: { AND: [{ id: args.id }, visibleSpacesWhere(viewer)] } });
    },
  }),
  spaces: t.prismaConnection({
    type: SpaceRef,
    cursor: "id",
    description: "Spaces the caller can see, oldest first.",
    resolve: async (query, _root, _args, ctx) => {
      const viewer = await ctx.viewer();
      // Pothos decodes a cursor into whatever value it tags (a number, a date, JSON): only a string can be an id.
      if (query.cursor && typeof (query.cursor as { id?: unknown }).id !== "string") throw errors.badInput("Invalid cursor");
      return ctx.prisma.space.findMany({ ...query, where: visibleSpacesWhere(viewer), orderBy: [{ createdAt: "asc" }, { id: "asc" }] });
    },
  }),
}));

builder.mutationFields((t) => ({
  createSpace: t.prismaField({
    type: SpaceRef,
    args: { input: t.arg({ type: CreateSpaceInput }) },
    resolve: async (query, _root, { input }, ctx) => {
      const space = await ctx.deps.services.spaces.createSpace(await ctx.viewer(), input);
      return ctx.prisma.space.findUniqueOrThrow({ ...query, where: { id: space.id } });
    },
  }),
  renameSpace: t.prismaField({
    type: SpaceRef,
    description: "Organization admins and space:admin holders.",
    args: { input: t.arg({ type: RenameSpaceInput }) },
    resolve: async (query, _root, { input }, ctx) => {
      const space = await ctx.deps.services.spaces.renameSpace(await ctx.viewer(), input);
      return ctx.prisma.space.findUniqueOrThrow({ ...query, where: { id: space.id } });
    },
  }),
  deleteSpace: t.field({
    type: DeleteSpacePayload,
    description:
      "Deletes the space and everything in it: entries, files (their bytes leave the quota at once and are purged in the background), uploads in flight and grants. Open subscriptions of everyone who had access end. Organization admins only.",
    args: { id: t.arg.id() },
    resolve: async (_root, args, ctx) => ctx.deps.services.spaces.deleteSpace(await ctx.viewer(), args.id),
  }),
}));

builder.subscriptionFields((t) => ({
  spaceEvents: t.field({
    type: SpaceEventRef,
    description:
      "Entries created, updated, moved or deleted in a space (requires assets:read), in commit order. " +
      "With `after` (an event's `cursor`): the stored events after it first, then live ones, none missed or repeated; " +
      "CURSOR_EXPIRED when the log no longer reaches back that far. Without: live from now. " +
      "Losing access to the space ends this subscription with an error.",
    args: { spaceId: t.arg.id(), after: t.arg.string({ required: false }) },
    subscribe: async (_root, args, ctx): Promise<AsyncIterable<StreamItem>> =>
      openSpaceEvents({ prisma: ctx.prisma, events: ctx.deps.events }, await ctx.viewer(), { spaceId: args.spaceId, after: args.after }),
    resolve: (item: StreamItem) => {
      // The stream's last item when access was revoked (or the cursor expired mid-replay).
      if (isStreamEnd(item)) throw item.end;
      return item as EntryEvent;
    },
  }),
}));
