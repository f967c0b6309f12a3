// Organization-level visibility. Organizations never share: an account sees its
// own organization and nothing of any other.
import type { Prisma } from "../generated/prisma/client.ts";
import { errors } from "../errors.ts";
import type { Viewer } from "./viewer.ts";

export function canSeeOrganization(viewer: Viewer, organization: { id: string }): boolean {
  return organization.id === viewer.organizationId;
}

/**
 * Administering an organization (its name, quota and file-size limit, its
 * accounts): its own admins. NOT_FOUND for another organization, as for an id
 * that does not exist; FORBIDDEN for its members.
 */
export function requireOrganizationAdmin(viewer: Viewer, organization: { id: string }): void {
  if (!canSeeOrganization(viewer, organization)) throw errors.notFound("Organization");
  if (!viewer.isOrgAdmin) throw errors.forbidden("organization:admin");
}

/**
 * Prisma where-fragment: the organizations the viewer administers (callers
 * check it is an admin first). Only its own: there is no super-admin yet who
 * would see every organization of the installation.
 */
export function administeredOrganizationsWhere(viewer: Viewer): Prisma.OrganizationWhereInput {
  return { id: viewer.organizationId };
}
