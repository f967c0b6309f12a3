// Organization: the quota, its exact usage and what is reserved; the
// organizations an admin administers, their accounts, and updateOrganization.
import { administeredOrganizationsWhere, canSeeOrganization, requireOrganizationAdmin } from "../../access/organization-access.ts";
import { requireOrgAdmin } from "../../access/space-access.ts";
import { errors } from "../../errors.ts";
import { builder } from "../../graphql/builder.ts";
import { AccountRef } from "../account/account.graphql.ts";
import { registerNodeLoader } from "../node/node-registry.ts";

export const OrganizationRef = builder.prismaNode("Organization", {
  id: { field: "id" },
  fields: (t) => ({
    name: t.exposeString("name"),
    quotaBytes: t.expose("quotaBytes", { type: "SafeInt" }),
    maxFileSizeBytes: t.expose("maxFileSizeBytes", { type: "SafeInt" }),
    usedBytes: t.expose("usedBytes", { type: "SafeInt", description: "Exact bytes stored across all spaces." }),
    reservedBytes: t.expose("reservedBytes", {
      type: "SafeInt",
      description: "Bytes held for two-stage uploads in flight (their declared sizes). usedBytes + reservedBytes never exceeds quotaBytes.",
    }),
    accounts: t.prismaConnection({
      type: AccountRef,
      cursor: "id",
      description: "The organization's accounts, oldest first, disabled ones included (organization admins only).",
      resolve: async (query, org, _args, ctx) => {
        if (query.cursor && typeof (query.cursor as { id?: unknown }).id !== "string") throw errors.badInput("Invalid cursor");
        requireOrganizationAdmin(await ctx.viewer(), org);
        return ctx.prisma.account.findMany({ ...query, where: { organizationId: org.id }, orderBy: [{ createdAt: "asc" }, { id: "asc" }] });
      },
    }),
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
  organizations: t.prismaConnection({
    type: OrganizationRef,
    cursor: "id",
    description:
      "The organizations the caller administers (organization admins only). Today that is its own organization: there is no super-admin yet who would see every organization of the installation.",
    resolve: async (query, _root, _args, ctx) => {
      if (query.cursor && typeof (query.cursor as { id?: unknown }).id !== "string") throw errors.badInput("Invalid cursor");
      const viewer = await ctx.viewer();
      requireOrgAdmin(viewer);
      return ctx.prisma.organization.findMany({ ...query, where: administeredOrganizationsWhere(viewer), orderBy: [{ createdAt: "asc" }, { id: "asc" }] });
    },
  }),
}));

const UpdateOrganizationInput = builder.inputType("UpdateOrganizationInput", {
  fields: (t) => ({
    id: t.id(),
    name: t.string({ required: false }),
    quotaBytes: t.field({
      type: "SafeInt",
      required: false,
      description: "Positive. Below the bytes used plus those reserved it is refused with QUOTA_BELOW_USAGE and nothing changes.",
    }),
    maxFileSizeBytes: t.field({ type: "SafeInt", required: false, description: "Largest single file accepted from now on. Positive." }),
  }),
});

builder.mutationFields((t) => ({
  updateOrganization: t.prismaField({
    type: OrganizationRef,
    description: "Changes the organization's name, quota and max file size together, or nothing (organization admins).",
    args: { input: t.arg({ type: UpdateOrganizationInput }) },
    resolve: async (query, _root, { input }, ctx) => {
      const org = await ctx.deps.services.organizations.updateOrganization(await ctx.viewer(), input);
      return ctx.prisma.organization.findUniqueOrThrow({ ...query, where: { id: org.id } });
    },
  }),
}));
