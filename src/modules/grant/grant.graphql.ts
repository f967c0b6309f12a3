// SpaceGrant type and the mutations that give or take away access to a space.
import { builder } from "../../graphql/builder.ts";

export const SpaceGrantRef = builder.prismaObject("SpaceGrant", {
  description: "The permissions an account holds on a space.",
  fields: (t) => ({
    id: t.exposeID("id"),
    spaceId: t.exposeID("spaceId"),
    accountId: t.exposeID("accountId"),
    permissions: t.exposeStringList("permissions", { description: "Sorted permission names, e.g. assets:read." }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    space: t.relation("space"),
    account: t.relation("account"),
  }),
});

const GrantSpaceAccessInput = builder.inputType("GrantSpaceAccessInput", {
  fields: (t) => ({
    spaceId: t.id(),
    accountId: t.id(),
    permissions: t.stringList({
      description: "assets:read|create|update|delete, conversations:read|write, attachments:manage, space:admin.",
    }),
  }),
});

const RevokeSpaceAccessInput = builder.inputType("RevokeSpaceAccessInput", {
  fields: (t) => ({ spaceId: t.id(), accountId: t.id() }),
});

builder.mutationFields((t) => ({
  grantSpaceAccess: t.prismaField({
    type: SpaceGrantRef,
    description: "Sets the account's permissions on the space, replacing what it had (organization admins and space:admin holders).",
    args: { input: t.arg({ type: GrantSpaceAccessInput }) },
    resolve: async (query, _root, { input }, ctx) => {
      const grant = await ctx.deps.services.grants.grantSpaceAccess(await ctx.viewer(), input);
      return ctx.prisma.spaceGrant.findUniqueOrThrow({ ...query, where: { id: grant.id } });
    },
  }),
  revokeSpaceAccess: t.boolean({
    description: "Removes the account's access to the space and ends its open subscriptions. False when it had no grant there.",
    args: { input: t.arg({ type: RevokeSpaceAccessInput }) },
    resolve: async (_root, { input }, ctx) => ctx.deps.services.grants.revokeSpaceAccess(await ctx.viewer(), input),
  }),
}));
