// Accounts (users and service accounts) and their API tokens. The *Unchecked
// functions skip authorization and are for trusted callers only (bootstrap,
// CLI, test factories); resolvers use the checked ones.
import type { PrismaClient, Tx } from "../../db/prisma.ts";
import { requireManageableAccount, requireManageableToken, expiryForNewToken } from "../../access/account-access.ts";
import { requireOrgAdmin } from "../../access/space-access.ts";
import { hashToken, newTokenSecret, type Viewer } from "../../access/viewer.ts";
import { errors } from "../../errors.ts";
import { newId } from "../../ids.ts";
import type { CabinetPubSub } from "../../pubsub.ts";
import { cleanDisplayName } from "../../validation/text.ts";

export type AccountService = ReturnType<typeof createAccountService>;

type AccountInput = { organizationId: string; kind: "USER" | "SERVICE"; name: string; isOrgAdmin?: boolean | null };

export function createAccountService(deps: { prisma: PrismaClient; pubsub: Pick<CabinetPubSub, "publish"> }) {
  const { prisma, pubsub } = deps;

  function createAccountUnchecked(db: PrismaClient | Tx, input: AccountInput) {
    return db.account.create({
      data: { id: newId("Account"), organizationId: input.organizationId, kind: input.kind, name: input.name, isOrgAdmin: input.isOrgAdmin ?? false },
    });
  }

  /** Returns the secret once; only its hash is stored. */
  async function createTokenUnchecked(
    db: PrismaClient | Tx,
    input: { accountId: string; name: string; expiresAt?: Date | null; secret?: string },
  ) {
    const secret = input.secret ?? newTokenSecret();
    const token = await db.apiToken.create({
      data: { id: newId("ApiToken"), accountId: input.accountId, name: input.name, tokenHash: hashToken(secret), expiresAt: input.expiresAt ?? null },
    });
    return { token, secret };
  }

  /** A new token for the organization's first admin account (CLI `create-token --admin`). */
  async function createAdminTokenUnchecked(organizationId: string, name = "cli") {
    const admin =
      (await prisma.account.findFirst({ where: { organizationId, isOrgAdmin: true }, orderBy: { createdAt: "asc" } })) ??
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
   * token at once (viewer.ts reads it per request); the event makes every
   * process close the WebSocket connections and SSE streams opened with it.
   */
  async function revokeApiToken(viewer: Viewer, tokenId: string) {
    const token = await requireManageableToken(prisma, viewer, tokenId);
    // Conditional, so concurrent revocations agree on one revokedAt.
    await prisma.apiToken.updateMany({ where: { id: token.id, revokedAt: null }, data: { revokedAt: new Date() } });
    // Published on every call, not only the first: repeating a revocation also retries a lost notification.
    pubsub.publish("token.revoked", { tokenId: token.id, accountId: token.accountId });
    return prisma.apiToken.findUniqueOrThrow({ where: { id: token.id } });
  }

  return { createAccountUnchecked, createTokenUnchecked, createAdminTokenUnchecked, createAccount, createApiToken, revokeApiToken };
}
