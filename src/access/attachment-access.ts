// Who may manage a space's attachments (retention, the operator list, soft
// delete, restore, hard delete): holders of `attachments:manage` and the space's
// admins. Uploaders may also hard-delete, and set the retention of, their own
// attachments while they can write to the conversation. Decision 53.
import type { PrismaClient } from "../db/prisma.ts";
import { errors } from "../errors.ts";
import { canSeeSpace, hasPermission } from "./space-access.ts";
import type { Viewer } from "./viewer.ts";

type SpaceRef = { id: string; organizationId: string };

export const canManageAttachments = (viewer: Viewer, space: SpaceRef) =>
  hasPermission(viewer, space, "attachments:manage") || hasPermission(viewer, space, "space:admin");

/** NOT_FOUND when the space is hidden from the viewer, FORBIDDEN unless it may manage attachments. */
export function assertAttachmentManager(viewer: Viewer, space: SpaceRef | null): asserts space is SpaceRef {
  if (!space || !canSeeSpace(viewer, space)) throw errors.notFound("Space");
  if (!canManageAttachments(viewer, space)) throw errors.forbidden("attachments:manage");
}

export async function requireAttachmentManager(prisma: PrismaClient, viewer: Viewer, spaceId: string): Promise<SpaceRef> {
  const space = await prisma.space.findUnique({ where: { id: spaceId }, select: { id: true, organizationId: true } });
  assertAttachmentManager(viewer, space);
  return space;
}
