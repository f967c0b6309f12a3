// Accounts (users and service accounts) and their API tokens. The *Unchecked
// functions skip authorization and are for trusted callers only (bootstrap,
// CLI, test factories); resolvers use the checked ones.
import type { PrismaClient, Tx } from "../../db/prisma.ts";
import { requireOrgAdmin } from "../../access/space-access.ts";
import { hashToken, newTokenSecret, type Viewer } from "../../access/viewer.ts";
import { errors } from "../../errors.ts";
import { newId } from "../../ids.ts";

export type AccountService = ReturnType<typeof createAccountService>;

type AccountInput = { organizationId: string; kind: "USER" | "SERVICE"; name: string; isOrgAdmin?: boolean };

export function createAccountService(deps: { prisma: PrismaClient }) {
  const { prisma } = deps;

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

  async function createAccount(viewer: Viewer, input: Omit<AccountInput, "organizationId">) {
    requireOrgAdmin(viewer);
    const name = input.name.trim();
    if (!name) throw errors.badInput("An account needs a name");
    return createAccountUnchecked(prisma, { ...input, name, organizationId: viewer.organizationId });
  }

  return { createAccountUnchecked, createTokenUnchecked, createAdminTokenUnchecked, createAccount };
}
