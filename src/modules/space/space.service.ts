// Spaces are the unit of isolation. Each is born with its root folder; when one
// is deleted, everything in it goes with it.
import type { PrismaClient } from "../../db/prisma.ts";
import { requireOrgAdmin, requireSpaceAdmin } from "../../access/space-access.ts";
import type { Viewer } from "../../access/viewer.ts";
import { errors } from "../../errors.ts";
import { newId } from "../../ids.ts";
import type { BlobService } from "../blob/blob.service.ts";
import { deleteSpaceContents, lockSpaceTree } from "../entry/entry-tree.sql.ts";
import { recordAccessRevoked } from "../grant/grant.service.ts";
import { transactionWithEvents } from "../../events/event-log.ts";
import { cleanDisplayName } from "../../validation/text.ts";

export type SpaceService = ReturnType<typeof createSpaceService>;

/** The one rule for space names, at creation and rename. */
const spaceName = (name: string): string => cleanDisplayName(name, "A space");

export function createSpaceService(deps: { prisma: PrismaClient; blobs: Pick<BlobService, "purgeDeleted"> }) {
  const { prisma, blobs } = deps;

  async function createSpaceUnchecked(input: { organizationId: string; name: string; createdById?: string }) {
    const name = spaceName(input.name);
    const spaceId = newId("Space");
    const [space] = await prisma.$transaction([
      prisma.space.create({ data: { id: spaceId, organizationId: input.organizationId, name } }),
      prisma.entry.create({
        data: { id: newId("Entry"), spaceId, parentId: null, kind: "FOLDER", name: "", createdById: input.createdById ?? null },
      }),
    ]);
    return space;
  }

  async function createSpace(viewer: Viewer, input: { name: string }) {
    requireOrgAdmin(viewer);
    return createSpaceUnchecked({ organizationId: viewer.organizationId, name: input.name, createdById: viewer.accountId });
  }

  /** Organization admins and holders of space:admin on it. */
  async function renameSpace(viewer: Viewer, input: { id: string; name: string }) {
    const space = await requireSpaceAdmin(prisma, viewer, input.id);
    return prisma.space.update({ where: { id: space.id }, data: { name: spaceName(input.name) } });
  }

  /**
   * Organization admins only (NOT_FOUND for a space the caller cannot see,
   * FORBIDDEN for space admins). One transaction removes the entries, the
   * blobs (their bytes leave the organization's usage, reservations of
   * uploads in flight are released, the objects are purged after commit),
   * the grants and the space, and records for every account that had access
   * to it (by a grant or as an organization admin) that it lost that access,
   * so its open subscriptions to the space end once this commits.
   */
  async function deleteSpace(viewer: Viewer, spaceId: string): Promise<{ id: string; deletedFiles: number }> {
    const space = await requireSpaceAdmin(prisma, viewer, spaceId);
    requireOrgAdmin(viewer);
    const deletedFiles = await transactionWithEvents(prisma, async (tx) => {
      // Uploads and folder creation take this lock shared: none is half-way while the tree goes.
      await lockSpaceTree(tx, space.id, "exclusive");
      const [still] = await tx.$queryRaw<{ id: string }[]>`SELECT id FROM spaces WHERE id = ${space.id} FOR UPDATE`;
      if (!still) throw errors.notFound("Space");
      const holders = await tx.spaceGrant.findMany({ where: { spaceId: space.id }, select: { accountId: true } });
      const admins = await tx.account.findMany({ where: { organizationId: space.organizationId, isOrgAdmin: true }, select: { id: true } });
      const deleted = await deleteSpaceContents(tx, space.id);
      await blobs.purgeDeleted(tx, { organizationId: space.organizationId, spaceId: space.id }, deleted);
      // Grants go by ON DELETE CASCADE.
      await tx.space.delete({ where: { id: space.id } });
      recordAccessRevoked(tx, space.id, [...new Set([...holders.map((g) => g.accountId), ...admins.map((a) => a.id)])]);
      return deleted.filter((b) => b.status === "READY").length;
    });
    return { id: space.id, deletedFiles };
  }

  return { createSpace, createSpaceUnchecked, renameSpace, deleteSpace };
}
