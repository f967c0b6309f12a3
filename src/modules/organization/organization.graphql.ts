// Organization: the quota and its exact usage.
import { builder } from "../../graphql/builder.ts";

export const OrganizationRef = builder.prismaNode("Organization", {
  id: { field: "id" },
  fields: (t) => ({
    name: t.exposeString("name"),
    quotaBytes: t.expose("quotaBytes", { type: "SafeInt" }),
    maxFileSizeBytes: t.expose("maxFileSizeBytes", { type: "SafeInt" }),
    usedBytes: t.expose("usedBytes", { type: "SafeInt", description: "Exact bytes stored across all spaces." }),
  }),
});

builder.queryFields((t) => ({
  organization: t.prismaField({
    type: OrganizationRef,
    description: "The caller's organization, with its quota and exact usage.",
    resolve: async (query, _root, _args, ctx) =>
      ctx.prisma.organization.findUniqueOrThrow({ ...query, where: { id: (await ctx.viewer()).organizationId } }),
  }),
}));
