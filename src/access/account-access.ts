// Account-level authorization: who may manage an account and its tokens, and
// which accounts a space may be shared with. As with spaces, an account the
// viewer has no footing on is NOT_FOUND, never FORBIDDEN, so ids from another
// organization (or, for non-admins, other accounts) reveal nothing.
import type { PrismaClient } from "../db/prisma.ts";
import { errors } from "../errors.ts";
import type { Viewer } from "./viewer.ts";

type AccountRef = { id: string; organizationId: string };

/**
 * An account manages itself; an organization admin manages every account of
 * the organization. The one account rule: it also decides who sees an account
 * or a token through node(id), and who lists an account's tokens.
 */
export function canManageAccount(viewer: Viewer, account: AccountRef): boolean {
  return account.id === viewer.accountId || (viewer.isOrgAdmin && account.organizationId === viewer.organizationId);
}

/**
 * Throws FORBIDDEN unless the viewer manages `account` (reading its tokens).
 * FORBIDDEN, not NOT_FOUND: the account itself is no secret to readers of a
 * space (it shows as an entry's `createdBy`); only its tokens are.
 */
export function assertManagesAccount(viewer: Viewer, account: AccountRef): void {
  if (!canManageAccount(viewer, account)) throw errors.forbidden("organization:admin");
}

/** Loads an account the viewer may manage (create tokens for, list tokens of). */
export async function requireManageableAccount(prisma: PrismaClient, viewer: Viewer, accountId: string): Promise<AccountRef> {
  const account = await prisma.account.findUnique({ where: { id: accountId }, select: { id: true, organizationId: true } });
  if (!account || !canManageAccount(viewer, account)) throw errors.notFound("Account");
  return account;
}

/** Loads a token whose account the viewer may manage (revoking follows the same rule as creating). */
export async function requireManageableToken(prisma: PrismaClient, viewer: Viewer, tokenId: string) {
  const token = await prisma.apiToken.findUnique({
    where: { id: tokenId },
    include: { account: { select: { id: true, organizationId: true } } },
  });
  if (!token || !canManageAccount(viewer, token.account)) throw errors.notFound("Token");
  return token;
}

/**
 * Loads an account to disable, enable or delete: organization admins only
 * (FORBIDDEN for anyone else, whatever the id), accounts of their own
 * organization only (NOT_FOUND otherwise), and never the caller's own account,
 * so an admin cannot lock itself out.
 */
export async function requireAdministrableAccount(prisma: PrismaClient, viewer: Viewer, accountId: string) {
  if (!viewer.isOrgAdmin) throw errors.forbidden("organization:admin");
  const account = await prisma.account.findFirst({ where: { id: accountId, organizationId: viewer.organizationId } });
  if (!account) throw errors.notFound("Account");
  if (account.id === viewer.accountId) throw errors.badInput("An account cannot disable or delete itself", { reason: "SELF" });
  return account;
}

/** Space grants only go to accounts of the space's own organization: organizations never share. */
export async function requireAccountInOrganization(prisma: PrismaClient, organizationId: string, accountId: string): Promise<AccountRef> {
  const account = await prisma.account.findFirst({ where: { id: accountId, organizationId }, select: { id: true, organizationId: true } });
  if (!account) throw errors.notFound("Account");
  return account;
}

/**
 * The expiry a new token gets. A credential can only hand out credentials that
 * die no later than itself, or an expiring token could mint a permanent one:
 * without an explicit expiry the new token inherits the caller's; a later one
 * is refused.
 */
export function expiryForNewToken(viewer: Viewer, requested: Date | null | undefined): Date | null {
  const ceiling = viewer.tokenExpiresAt;
  if (!ceiling) return requested ?? null;
  if (!requested) return ceiling;
  if (requested.getTime() > ceiling.getTime()) {
    throw errors.badInput("A token cannot outlive the token that creates it", {
      expiresAt: requested.toISOString(),
      latestAllowed: ceiling.toISOString(),
    });
  }
  return requested;
}
