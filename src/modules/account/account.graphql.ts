// Account and Organization types, and `viewer`: who am I, and what may I do.
import { builder } from "../../graphql/builder.ts";

export const AccountKindEnum = builder.enumType("AccountKind", { values: ["USER", "SERVICE"] as const });

export const AccountRef = builder.prismaNode("Account", {
  id: { field: "id" },
  fields: (t) => ({
    name: t.exposeString("name"),
    kind: t.expose("kind", { type: AccountKindEnum }),
    isOrgAdmin: t.exposeBoolean("isOrgAdmin"),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

export const OrganizationRef = builder.prismaNode("Organization", {
  id: { field: "id" },
  fields: (t) => ({
    name: t.exposeString("name"),
    quotaBytes: t.expose("quotaBytes", { type: "SafeInt" }),
    maxFileSizeBytes: t.expose("maxFileSizeBytes", { type: "SafeInt" }),
    usedBytes: t.expose("usedBytes", { type: "SafeInt", description: "Exact bytes stored across all spaces." }),
  }),
});

type SpacePermissions = { spaceId: string; permissions: string[] };
const SpacePermissionsRef = builder.objectRef<SpacePermissions>("SpacePermissions").implement({
  fields: (t) => ({ spaceId: t.exposeID("spaceId"), permissions: t.exposeStringList("permissions") }),
});

const ViewerRef = builder.objectRef<{ accountId: string; isOrgAdmin: boolean; grants: SpacePermissions[] }>("Viewer").implement({
  description: "The caller: its account and the permissions it holds per space.",
  fields: (t) => ({
    accountId: t.exposeID("accountId"),
    isOrgAdmin: t.exposeBoolean("isOrgAdmin"),
    grants: t.field({ type: [SpacePermissionsRef], resolve: (v) => v.grants }),
  }),
});

builder.queryFields((t) => ({
  viewer: t.field({
    type: ViewerRef,
    resolve: async (_root, _args, ctx) => {
      const v = await ctx.viewer();
      return {
        accountId: v.accountId,
        isOrgAdmin: v.isOrgAdmin,
        grants: [...v.grants].map(([spaceId, perms]) => ({ spaceId, permissions: [...perms].sort() })),
      };
    },
  }),
  account: t.prismaField({
    type: AccountRef,
    description: "The calling account.",
    resolve: async (query, _root, _args, ctx) =>
      ctx.prisma.account.findUniqueOrThrow({ ...query, where: { id: (await ctx.viewer()).accountId } }),
  }),
  organization: t.prismaField({
    type: OrganizationRef,
    description: "The caller's organization, with its quota and exact usage.",
    resolve: async (query, _root, _args, ctx) =>
      ctx.prisma.organization.findUniqueOrThrow({ ...query, where: { id: (await ctx.viewer()).organizationId } }),
  }),
}));
