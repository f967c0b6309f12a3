// Space type, its queries, createSpace and the spaceEvents subscription.
import { assertPermission, requireSpacePermission, visibleSpacesWhere } from "../../access/space-access.ts";
import { errors } from "../../errors.ts";
import { builder } from "../../graphql/builder.ts";
import type { SpaceEvent } from "../../pubsub.ts";
import { EntryKindEnum, FolderRef } from "../entry/entry.graphql.ts";

export const SpaceRef = builder.prismaNode("Space", {
  id: { field: "id" },
  fields: (t) => ({
    name: t.exposeString("name"),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    usedBytes: t.expose("usedBytes", { type: "SafeInt", description: "Bytes stored in this space." }),
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

const SpaceEventTypeEnum = builder.enumType("SpaceEventType", { values: ["CREATED", "UPDATED", "MOVED", "DELETED"] as const });

const SpaceEventRef = builder.objectRef<SpaceEvent>("SpaceEvent").implement({
  description: "Something changed in a space's tree.",
  fields: (t) => ({
    type: t.expose("type", { type: SpaceEventTypeEnum }),
    spaceId: t.exposeID("spaceId"),
    entryId: t.exposeID("entryId"),
    parentId: t.exposeID("parentId", { nullable: true }),
    name: t.exposeString("name"),
    kind: t.expose("kind", { type: EntryKindEnum }),
    at: t.field({ type: "DateTime", resolve: (e) => new Date(e.at) }),
  }),
});

const CreateSpaceInput = builder.inputType("CreateSpaceInput", {
  fields: (t) => ({ name: t.string() }),
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
}));

builder.subscriptionFields((t) => ({
  spaceEvents: t.field({
    type: SpaceEventRef,
    description: "Entries created, updated, moved or deleted in a space (requires assets:read).",
    args: { spaceId: t.arg.id() },
    subscribe: async (_root, args, ctx) => {
      const space = await requireSpacePermission(ctx.prisma, await ctx.viewer(), args.spaceId, "assets:read");
      return ctx.deps.pubsub.subscribe("space.events", space.id);
    },
    resolve: (event) => event,
  }),
}));
