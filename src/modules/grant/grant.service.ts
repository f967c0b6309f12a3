// Space grants: which permissions an account holds on a space. Managed by
// organization admins and by holders of `space:admin` on that space.
import type { PrismaClient } from "../../db/prisma.ts";
import { requireAccountInOrganization } from "../../access/account-access.ts";
import { parsePermissions } from "../../access/permissions.ts";
import { requireSpaceAdmin } from "../../access/space-access.ts";
import type { Viewer } from "../../access/viewer.ts";
import { errors } from "../../errors.ts";
import { newId } from "../../ids.ts";
import type { CabinetPubSub } from "../../pubsub.ts";

export type GrantService = ReturnType<typeof createGrantService>;

type GrantTarget = { spaceId: string; accountId: string };

export function createGrantService(deps: { prisma: PrismaClient; pubsub: Pick<CabinetPubSub, "publish"> }) {
  const { prisma, pubsub } = deps;

  /** Checks the caller may manage the space, and that the account belongs to its organization. */
  async function target(viewer: Viewer, input: GrantTarget): Promise<GrantTarget> {
    const space = await requireSpaceAdmin(prisma, viewer, input.spaceId);
    const account = await requireAccountInOrganization(prisma, space.organizationId, input.accountId);
    return { spaceId: space.id, accountId: account.id };
  }

  /**
   * Replaces the account's permission set on the space (creating the grant when
   * there is none). When a permission is taken away, the account's open
   * subscriptions are ended in every process so they re-authorize.
   */
  async function grantSpaceAccess(viewer: Viewer, input: GrantTarget & { permissions: readonly string[] }) {
    const { spaceId, accountId } = await target(viewer, input);
    const permissions = parsePermissions(input.permissions);
    if (!permissions.length) throw errors.badInput("Grant at least one permission; revokeSpaceAccess removes access", { permissions: [] });
    const { grant, removed } = await prisma.$transaction(async (tx) => {
      // Row lock: concurrent changes see each other's result, so no removal goes unannounced.
      const [previous] = await tx.$queryRaw<{ permissions: string[] }[]>`
        SELECT permissions FROM space_grants WHERE space_id = ${spaceId} AND account_id = ${accountId} FOR UPDATE`;
      const grant = await tx.spaceGrant.upsert({
        where: { spaceId_accountId: { spaceId, accountId } },
        create: { id: newId("SpaceGrant"), spaceId, accountId, permissions },
        update: { permissions },
      });
      const removed = (previous?.permissions ?? []).filter((p) => !(permissions as string[]).includes(p));
      return { grant, removed };
    });
    if (removed.length) accessRevoked(spaceId, [accountId]);
    return grant;
  }

  /** Removes the account's grant on the space; false when it had none (idempotent). */
  async function revokeSpaceAccess(viewer: Viewer, input: GrantTarget): Promise<boolean> {
    const { spaceId, accountId } = await target(viewer, input);
    const { count } = await prisma.spaceGrant.deleteMany({ where: { spaceId, accountId } });
    if (count) accessRevoked(spaceId, [accountId]);
    return count > 0;
  }

  /**
   * The revocation announcement: these accounts lost (some of) their access to
   * the space, so every process ends their open subscriptions and they
   * re-authorize. Also called when the space itself is deleted.
   */
  function accessRevoked(spaceId: string, accountIds: readonly string[]) {
    for (const accountId of accountIds) pubsub.publish("grant.revoked", { accountId, spaceId });
  }

  return { grantSpaceAccess, revokeSpaceAccess, accessRevoked };
}
