// Spaces are the unit of isolation. Each is born with its root folder.
import type { PrismaClient } from "../../db/prisma.ts";
import { requireOrgAdmin } from "../../access/space-access.ts";
import type { Viewer } from "../../access/viewer.ts";
import { newId } from "../../ids.ts";
import { cleanDisplayName } from "../../validation/text.ts";

export type SpaceService = ReturnType<typeof createSpaceService>;

export function createSpaceService(deps: { prisma: PrismaClient }) {
  const { prisma } = deps;

  async function createSpaceUnchecked(input: { organizationId: string; name: string; createdById?: string }) {
    const name = cleanDisplayName(input.name, "A space");
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

  return { createSpace, createSpaceUnchecked };
}
