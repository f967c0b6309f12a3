// Organization: the quota and its exact usage.
import { canSeeOrganization } from "../../access/organization-access.ts";
import { builder } from "../../graphql/builder.ts";
import { registerNodeLoader } from "../node/node-registry.ts";

export const OrganizationRef = builder.prismaNode("Organization", {
  id: { field: "id" },
  fields: (t) => ({
    name: t.exposeString("name"),
    quotaBytes: t.expose("quotaBytes", { type: "SafeInt" }),
    maxFileSizeBytes: t.expose("maxFileSizeBytes", { type: "SafeInt" }),
    usedBytes: t.expose("usedBytes", { type: "SafeInt", description: "Exact bytes stored across all spaces." }),
  }),
});

registerNodeLoader("Organization", [OrganizationRef], async (id, viewer, ctx) => {
  // Checked before the lookup: another organization's id costs no query and reveals nothing.
  if (!canSeeOrganization(viewer, { id })) return null;
  const org = await ctx.prisma.organization.findUnique({ where: { id } });
  return org && { type: OrganizationRef, node: org };
});

builder.queryFields((t) => ({
  organization: t.prismaField({
    type: OrganizationRef,
    description: "The caller's organization, with its quota and exact usage.",
    resolve: async (query, _root, _args, ctx) => ctx.prisma.organization.findUniqueOrThrow({ ...query, where: { id: (await ctx.viewer()).organizationId } }),
  }),
}));
