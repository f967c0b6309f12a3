// Organizations own the quota. The first start bootstraps one organization
// with an admin service account, so a fresh install is usable at once.
import type { PrismaClient } from "../../db/prisma.ts";
import { newId } from "../../ids.ts";
import type { AccountService } from "../account/account.service.ts";

export type OrganizationService = ReturnType<typeof createOrganizationService>;

export function createOrganizationService(deps: {
  prisma: PrismaClient;
  accounts: AccountService;
  defaults: { quotaBytes: bigint; maxFileSizeBytes: bigint };
}) {
  const { prisma, accounts, defaults } = deps;

  async function createOrganization(input: { name: string; quotaBytes?: bigint; maxFileSizeBytes?: bigint }) {
    return prisma.organization.create({
      data: {
        id: newId("Organization"),
        name: input.name,
        quotaBytes: input.quotaBytes ?? defaults.quotaBytes,
        maxFileSizeBytes: input.maxFileSizeBytes ?? defaults.maxFileSizeBytes,
      },
    });
  }

  /** The organization the CLI and bootstrap act on: the oldest one, created when none exists. */
  async function defaultOrganization() {
    const existing = await prisma.organization.findFirst({ orderBy: { createdAt: "asc" } });
    return existing ?? createOrganization({ name: "Default organization" });
  }

  /**
   * Creates the first organization admin when none exists. Returns the token
   * secret when one was made (the caller prints it once), else null.
   * `bootstrapToken` (CABINET_BOOTSTRAP_TOKEN) becomes that token verbatim.
   */
  async function ensureBootstrapAdmin(bootstrapToken?: string): Promise<{ secret: string; generated: boolean } | null> {
    // One process bootstraps: concurrent starters wait on the same advisory lock.
    return prisma.$transaction(async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(727274002)`;
      const admin = await tx.account.findFirst({ where: { isOrgAdmin: true } });
      if (admin) return null;
      const org =
        (await tx.organization.findFirst({ orderBy: { createdAt: "asc" } })) ??
        (await tx.organization.create({
          data: { id: newId("Organization"), name: "Default organization", quotaBytes: defaults.quotaBytes, maxFileSizeBytes: defaults.maxFileSizeBytes },
        }));
      const account = await accounts.createAccountUnchecked(tx, { organizationId: org.id, kind: "SERVICE", name: "admin", isOrgAdmin: true });
      const { secret } = await accounts.createTokenUnchecked(tx, { accountId: account.id, name: "bootstrap", secret: bootstrapToken });
      return { secret, generated: !bootstrapToken };
    });
  }

  return { createOrganization, defaultOrganization, ensureBootstrapAdmin };
}
