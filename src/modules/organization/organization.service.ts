// Organizations own the quota. The first start bootstraps one organization
// with an admin service account, so a fresh install is usable at once.
import { requireOrganizationAdmin } from "../../access/organization-access.ts";
import type { Viewer } from "../../access/viewer.ts";
import type { PrismaClient } from "../../db/prisma.ts";
import { errors } from "../../errors.ts";
import { newId } from "../../ids.ts";
import type { AccountService } from "../account/account.service.ts";

export type OrganizationService = ReturnType<typeof createOrganizationService>;

/** What updateOrganization may change; absent (or null) fields stay as they are. */
export type OrganizationChanges = {
  name?: string | null;
  quotaBytes?: bigint | number | null;
  maxFileSizeBytes?: bigint | number | null;
};

function organizationName(name: string): string {
  const trimmed = name.trim();
  if (!trimmed) throw errors.badInput("An organization needs a name");
  return trimmed;
}

/** A positive whole number of bytes, as the DEFAULT_* settings are. */
function byteLimit(value: bigint | number, field: string): bigint {
  if (typeof value === "number" && !Number.isSafeInteger(value)) throw errors.badInput(`${field} must be a whole number of bytes`, { [field]: value });
  const bytes = BigInt(value);
  if (bytes <= 0n) throw errors.badInput(`${field} must be a positive number of bytes`, { [field]: Number(bytes) });
  return bytes;
}

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

  /**
   * Changes the name, quota and file-size limit together, or nothing: a quota
   * below the bytes already used plus those reserved by uploads in flight is
   * QUOTA_BELOW_USAGE. The row lock makes uploads billing at the same moment
   * wait, so the check and the change see the same usage. For trusted callers
   * (CLI); resolvers use updateOrganization.
   */
  async function updateOrganizationUnchecked(organizationId: string, changes: OrganizationChanges) {
    const name = changes.name == null ? undefined : organizationName(changes.name);
    const quotaBytes = changes.quotaBytes == null ? undefined : byteLimit(changes.quotaBytes, "quotaBytes");
    const maxFileSizeBytes = changes.maxFileSizeBytes == null ? undefined : byteLimit(changes.maxFileSizeBytes, "maxFileSizeBytes");
    return prisma.$transaction(async (tx) => {
      const [usage] = await tx.$queryRaw<{ used_bytes: bigint; reserved_bytes: bigint }[]>`
        SELECT used_bytes, reserved_bytes FROM organizations WHERE id = ${organizationId} FOR UPDATE`;
      if (!usage) throw errors.notFound("Organization");
      if (quotaBytes !== undefined && quotaBytes < usage.used_bytes + usage.reserved_bytes) {
        throw errors.quotaBelowUsage({ quotaBytes: Number(quotaBytes), usedBytes: Number(usage.used_bytes), reservedBytes: Number(usage.reserved_bytes) });
      }
      return tx.organization.update({ where: { id: organizationId }, data: { name, quotaBytes, maxFileSizeBytes } });
    });
  }

  /** Organization admins change their own organization (NOT_FOUND for another). */
  async function updateOrganization(viewer: Viewer, input: OrganizationChanges & { id: string }) {
    requireOrganizationAdmin(viewer, { id: input.id });
    return updateOrganizationUnchecked(input.id, input);
  }

  return { createOrganization, defaultOrganization, ensureBootstrapAdmin, updateOrganization, updateOrganizationUnchecked };
}
