// Space-level authorization. A space the viewer has no footing in (another
// organization, or no grant) is reported as NOT_FOUND, never FORBIDDEN, so ids
// from other spaces reveal nothing. FORBIDDEN only means "you can see this
// space, but lack this permission".
import type { Prisma } from "../generated/prisma/client.ts";
import type { PrismaClient } from "../db/prisma.ts";
import { errors } from "../errors.ts";
import { isPermission, type Permission } from "./permissions.ts";
import type { Viewer } from "./viewer.ts";

type SpaceRef = { id: string; organizationId: string };

export function canSeeSpace(viewer: Viewer, space: SpaceRef): boolean {
  if (viewer.isOrgAdmin) return space.organizationId === viewer.organizationId;
  return viewer.grants.has(space.id);
}

export function hasPermission(viewer: Viewer, space: SpaceRef, permission: Permission): boolean {
  if (!canSeeSpace(viewer, space)) return false;
  return viewer.isOrgAdmin || (viewer.grants.get(space.id)?.has(permission) ?? false);
}

/** Throws NOT_FOUND or FORBIDDEN unless `viewer` holds `permission` on `space`. */
export function assertPermission(viewer: Viewer, space: SpaceRef | null, permission: Permission): asserts space is SpaceRef {
  if (!space || !canSeeSpace(viewer, space)) throw errors.notFound("Space");
  if (!hasPermission(viewer, space, permission)) throw errors.forbidden(permission);
}

/** Loads a space by id and checks `permission` on it. */
export async function requireSpacePermission(
  prisma: PrismaClient,
  viewer: Viewer,
  spaceId: string,
  permission: Permission,
): Promise<SpaceRef & { name: string }> {
  const space = await prisma.space.findUnique({ where: { id: spaceId }, select: { id: true, organizationId: true, name: true } });
  assertPermission(viewer, space, permission);
  return space as SpaceRef & { name: string };
}

/**
 * requireSpacePermission with the account's current standing (admin flag and
 * grant read now), not the viewer's snapshot from when it authenticated. For
 * long-lived subscriptions re-checking after a `grant.revoked` event.
 */
export async function requireSpacePermissionNow(prisma: PrismaClient, viewer: Viewer, spaceId: string, permission: Permission): Promise<void> {
  const [space, account] = await Promise.all([
    prisma.space.findUnique({ where: { id: spaceId }, select: { id: true, organizationId: true } }),
    prisma.account.findUnique({ where: { id: viewer.accountId }, select: { isOrgAdmin: true, grants: { where: { spaceId }, select: { permissions: true } } } }),
  ]);
  if (!account) throw errors.notFound("Space");
  const grants = new Map(account.grants.map((g) => [spaceId, new Set(g.permissions.filter(isPermission))]));
  assertPermission({ ...viewer, isOrgAdmin: account.isOrgAdmin, grants }, space, permission);
}

/** Prisma where-fragment: spaces the viewer can see at all. */
export function visibleSpacesWhere(viewer: Viewer): Prisma.SpaceWhereInput {
  if (viewer.isOrgAdmin) return { organizationId: viewer.organizationId };
  return { id: { in: [...viewer.grants.keys()] } };
}

/** Organization-level actions (creating spaces, accounts, tokens for others). */
export function requireOrgAdmin(viewer: Viewer): void {
  if (!viewer.isOrgAdmin) throw errors.forbidden("organization:admin");
}

/**
 * Managing who may use a space: organization admins, and accounts holding
 * `space:admin` there. NOT_FOUND for a space the viewer cannot see.
 */
export function requireSpaceAdmin(prisma: PrismaClient, viewer: Viewer, spaceId: string) {
  return requireSpacePermission(prisma, viewer, spaceId, "space:admin");
}
