// Entry-level authorization: an entry is as visible as its space, and what may
// be done to it is what the viewer may do in that space.
import type { PrismaClient, Tx } from "../db/prisma.ts";
import { errors } from "../errors.ts";
import type { Permission } from "./permissions.ts";
import { assertPermission, hasPermission } from "./space-access.ts";
import type { Viewer } from "./viewer.ts";

type SpaceRef = { id: string; organizationId: string };

/** node(id) of an entry (folder or file): visible to whoever may read the assets of its space. */
export function canSeeEntry(viewer: Viewer, entry: { space: SpaceRef }): boolean {
  return hasPermission(viewer, entry.space, "assets:read");
}

/**
 * Loads an entry (with its space's id and organization) and checks
 * `permission` on its space: NOT_FOUND when the viewer cannot see it, as for
 * an id that does not exist; FORBIDDEN when it can but lacks the permission.
 */
export async function requireEntry(db: PrismaClient | Tx, viewer: Viewer, entryId: string, permission: Permission) {
  const entry = await db.entry.findUnique({ where: { id: entryId }, include: { space: { select: { id: true, organizationId: true } } } });
  assertPermission(viewer, entry?.space ?? null, permission);
  return entry!;
}

/** Uploading over an existing file replaces its bytes: that needs assets:update on top of assets:create. */
export function assertMayReplaceFile(viewer: Viewer, space: SpaceRef): void {
  if (!hasPermission(viewer, space, "assets:update")) throw errors.forbidden("assets:update");
}
