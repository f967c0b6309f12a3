// Space grants: which permissions an account holds on a space. Managed by
// organization admins and by holders of `space:admin` on that space.
import type { PrismaClient, Tx } from "../../db/prisma.ts";
import { requireAccountInOrganization } from "../../access/account-access.ts";
import { PERMISSIONS, parsePermissions } from "../../access/permissions.ts";
import { requireSpaceAdmin } from "../../access/space-access.ts";
import type { Viewer } from "../../access/viewer.ts";
import { errors } from "../../errors.ts";
import { newId } from "../../ids.ts";
import { recordEvent, transactionWithEvents } from "../../events/event-log.ts";

export type GrantService = ReturnType<typeof createGrantService>;

/**
 * Records, in the caller's transaction, that these accounts lost their access
 * to the space (the space itself is being deleted): once it commits, each of
 * their subscriptions to that space re-authorizes and ends.
 */
export function recordAccessRevoked(tx: Tx, spaceId: string, accountIds: readonly string[]): void {
  for (const accountId of accountIds) recordEvent(tx, { type: "grant.revoked", spaceId, subjectId: accountId, payload: { removed: [...PERMISSIONS] } });
}

type GrantTarget = { spaceId: string; accountId: string };

export function createGrantService(deps: { prisma: PrismaClient }) {
  const { prisma } = deps;

  /** Checks the caller may manage the space, and that the account belongs to its organization. */
  async function target(viewer: Viewer, input: GrantTarget): Promise<GrantTarget> {
    const space = await requireSpaceAdmin(prisma, viewer, input.spaceId);
    const account = await requireAccountInOrganization(prisma, space.organizationId, input.accountId);
    return { spaceId: space.id, accountId: account.id };
  }

  /**
   * Replaces the account's permission set on the space (creating the grant when
   * there is none). When a permission is taken away, a `grant.revoked` event
   * commits with the change: the account's open subscriptions to this space,
   * in every process, check their access again and end if it is gone.
   */
  async function grantSpaceAccess(viewer: Viewer, input: GrantTarget & { permissions: readonly string[] }) {
    const { spaceId, accountId } = await target(viewer, input);
    const permissions = parsePermissions(input.permissions);
    if (!permissions.length) throw errors.badInput("Grant at least one permission; revokeSpaceAccess removes access", { permissions: [] });
    return transactionWithEvents(prisma, async (tx) => {
      // Row lock: concurrent changes see each other's result, so no removal goes unannounced.
      const [previous] = await tx.$queryRaw<{ permissions: string[] }[]>`
        SELECT permissions FROM space_grants WHERE space_id = ${spaceId} AND account_id = ${accountId} FOR UPDATE`;
      const grant = await tx.spaceGrant.upsert({
        where: { spaceId_accountId: { spaceId, accountId } },
        create: { id: newId("SpaceGrant"), spaceId, accountId, permissions },
        update: { permissions },
      });
      const removed = (previous?.permissions ?? []).filter((p) => !(permissions as string[]).includes(p));
      if (removed.length) recordEvent(tx, { type: "grant.revoked", spaceId, subjectId: accountId, payload: { removed } });
      return grant;
    });
  }

  /** Removes the account's grant on the space; false when it had none (idempotent). */
  async function revokeSpaceAccess(viewer: Viewer, input: GrantTarget): Promise<boolean> {
    const { spaceId, accountId } = await target(viewer, input);
    return transactionWithEvents(prisma, async (tx) => {
      const [removed] = await tx.$queryRaw<{ permissions: string[] }[]>`
        DELETE FROM space_grants WHERE space_id = ${spaceId} AND account_id = ${accountId} RETURNING permissions`;
      if (removed) recordEvent(tx, { type: "grant.revoked", spaceId, subjectId: accountId, payload: { removed: removed.permissions } });
      return !!removed;
    });
  }

  return { grantSpaceAccess, revokeSpaceAccess };
}
