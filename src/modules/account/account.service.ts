// Accounts (users and service accounts) and their API tokens. The *Unchecked
// functions skip authorization and are for trusted callers only (bootstrap,
// CLI, test factories); resolvers use the checked ones.
import type { PrismaClient, Tx } from "../../db/prisma.ts";
import { requireAdministrableAccount, requireManageableAccount, requireManageableToken, expiryForNewToken } from "../../access/account-access.ts";
import { requireOrgAdmin } from "../../access/space-access.ts";
import { hashToken, newTokenSecret, type Viewer } from "../../access/viewer.ts";
import { errors } from "../../errors.ts";
import { newId } from "../../ids.ts";
import { recordEvent, transactionWithEvents } from "../../events/event-log.ts";
import { cleanDisplayName } from "../../validation/text.ts";

export type AccountService = ReturnType<typeof createAccountService>;

type AccountInput = { organizationId: string; kind: "USER" | "SERVICE"; name: string; isOrgAdmin?: boolean | null };

export function createAccountService(deps: { prisma: PrismaClient }) {
  const { prisma } = deps;

  function createAccountUnchecked(db: PrismaClient | Tx, input: AccountInput) {
    return db.account.create({
      data: { id: newId("Account"), organizationId: input.organizationId, kind: input.kind, name: input.name, isOrgAdmin: input.isOrgAdmin ?? false },
    });
  }

  /** Returns the secret once; only its hash is stored. */
  async function createTokenUnchecked(db: PrismaClient | Tx, input: { accountId: string; name: string; expiresAt?: Date | null; secret?: string }) {
    const secret = input.secret ?? newTokenSecret();
    const token = await db.apiToken.create({
      data: { id: newId("ApiToken"), accountId: input.accountId, name: input.name, tokenHash: hashToken(secret), expiresAt: input.expiresAt ?? null },
    });
    return { token, secret };
  }

  /** A new token for the organization's first admin account (CLI `create-token --admin`). */
  async function createAdminTokenUnchecked(organizationId: string, name = "cli") {
    const admin =
      (await prisma.account.findFirst({ where: { organizationId, isOrgAdmin: true, disabledAt: null }, orderBy: { createdAt: "asc" } })) ??
      (await createAccountUnchecked(prisma, { organizationId, kind: "SERVICE", name: "admin", isOrgAdmin: true }));
    return createTokenUnchecked(prisma, { accountId: admin.id, name });
  }

  /** Organization admins only; the account joins the admin's own organization. */
  async function createAccount(viewer: Viewer, input: Omit<AccountInput, "organizationId">) {
    requireOrgAdmin(viewer);
    return createAccountUnchecked(prisma, { ...input, name: cleanDisplayName(input.name, "An account"), organizationId: viewer.organizationId });
  }

  /** For the caller's own account, or (organization admins) any account of their organization. */
  async function createApiToken(viewer: Viewer, input: { accountId: string; name: string; expiresAt?: Date | null }) {
    const account = await requireManageableAccount(prisma, viewer, input.accountId);
    const name = cleanDisplayName(input.name, "A token");
    if (input.expiresAt && input.expiresAt.getTime() <= Date.now()) {
      throw errors.badInput("expiresAt must be in the future", { expiresAt: input.expiresAt.toISOString() });
    }
    return createTokenUnchecked(prisma, { accountId: account.id, name, expiresAt: expiryForNewToken(viewer, input.expiresAt) });
  }

  /**
   * Idempotent: a second call keeps the first revokedAt. HTTP requests refuse the
   * token at once (viewer.ts reads it per request); the `token.revoked` event,
   * committed with the revocation, makes every process close the WebSocket
   * connections and SSE streams opened with it.
   */
  async function revokeApiToken(viewer: Viewer, tokenId: string) {
    const token = await requireManageableToken(prisma, viewer, tokenId);
    await transactionWithEvents(prisma, async (tx) => {
      // Conditional, so concurrent revocations agree on one revokedAt (and record one event).
      const { count } = await tx.apiToken.updateMany({ where: { id: token.id, revokedAt: null }, data: { revokedAt: new Date() } });
      if (count) recordEvent(tx, { type: "token.revoked", spaceId: null, subjectId: token.id, payload: { accountId: token.accountId } });
    });
    return prisma.apiToken.findUniqueOrThrow({ where: { id: token.id } });
  }

  /**
   * Records, in the caller's transaction, that sessions opened with these
   * tokens must end: every process closes their WebSocket connections and SSE
   * streams once it commits. For all tokens of a disabled or deleted account.
   */
  function recordTokenSessionsEnded(tx: Tx, tokens: readonly { id: string; accountId: string }[]) {
    for (const token of tokens) recordEvent(tx, { type: "token.revoked", spaceId: null, subjectId: token.id, payload: { accountId: token.accountId } });
  }

  /**
   * Refuses LAST_ADMIN when taking `account` away would leave its organization
   * without an enabled admin. Holds the organization row lock until the
   * caller's transaction ends, so two admins disabling each other at once
   * cannot both succeed.
   */
  async function assertNotLastAdmin(tx: Tx, account: { id: string; organizationId: string; isOrgAdmin: boolean; disabledAt: Date | null }) {
    await tx.$queryRaw`SELECT id FROM organizations WHERE id = ${account.organizationId} FOR UPDATE`;
    if (!account.isOrgAdmin) return;
    const others = await tx.account.count({
      where: { organizationId: account.organizationId, isOrgAdmin: true, disabledAt: null, id: { not: account.id } },
    });
    if (others === 0) throw errors.lastAdmin();
  }

  /**
   * Organization admins disable other accounts of their organization. Its
   * tokens are refused at once (viewer.ts checks the account per request) and
   * its open connections close. Idempotent: a second call keeps the first
   * disabledAt and records nothing new.
   */
  async function disableAccount(viewer: Viewer, accountId: string) {
    const target = await requireAdministrableAccount(prisma, viewer, accountId);
    await transactionWithEvents(prisma, async (tx) => {
      const account = await tx.account.findUniqueOrThrow({ where: { id: target.id } });
      if (account.disabledAt) return;
      await assertNotLastAdmin(tx, account);
      await tx.account.update({ where: { id: account.id }, data: { disabledAt: new Date() } });
      recordTokenSessionsEnded(tx, await tx.apiToken.findMany({ where: { accountId: account.id, revokedAt: null }, select: { id: true, accountId: true } }));
    });
    return prisma.account.findUniqueOrThrow({ where: { id: target.id } });
  }

  /** Lets a disabled account's tokens (those not revoked or expired) work again. Idempotent. */
  async function enableAccount(viewer: Viewer, accountId: string) {
    const target = await requireAdministrableAccount(prisma, viewer, accountId);
    return prisma.account.update({ where: { id: target.id }, data: { disabledAt: null } });
  }

  /**
   * Deletes another account of the organization with its tokens and grants;
   * entries it created stay (their createdBy becomes null). Its open
   * connections close.
   */
  async function deleteAccount(viewer: Viewer, accountId: string): Promise<{ id: string }> {
    const target = await requireAdministrableAccount(prisma, viewer, accountId);
    await transactionWithEvents(prisma, async (tx) => {
      const account = await tx.account.findUnique({ where: { id: target.id } });
      if (!account) throw errors.notFound("Account");
      if (!account.disabledAt) await assertNotLastAdmin(tx, account);
      recordTokenSessionsEnded(tx, await tx.apiToken.findMany({ where: { accountId: account.id, revokedAt: null }, select: { id: true, accountId: true } }));
      // Tokens and grants go by ON DELETE CASCADE, entries' createdBy by SET NULL.
      await tx.account.delete({ where: { id: account.id } });
    });
    return { id: target.id };
  }

  return {
    createAccountUnchecked,
    createTokenUnchecked,
    createAdminTokenUnchecked,
    createAccount,
    createApiToken,
    revokeApiToken,
    disableAccount,
    enableAccount,
    deleteAccount,
  };
}
