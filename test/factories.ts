// Factories for the rows most tests need. They use the services' trusted
// (*Unchecked) entry points, the same ones the CLI and bootstrap use.
import type { Deps } from "../src/deps.ts";
import type { Permission } from "../src/access/permissions.ts";
import { newId } from "../src/ids.ts";

export type Factories = ReturnType<typeof createFactories>;

export function createFactories(deps: Deps) {
  const { prisma, services } = deps;
  let n = 0;

  async function org(input: { quotaBytes?: bigint; maxFileSizeBytes?: bigint } = {}) {
    return services.organizations.createOrganization({ name: `Org ${++n}`, ...input });
  }

  async function account(organizationId: string, input: { admin?: boolean; kind?: "USER" | "SERVICE"; name?: string } = {}) {
    return services.accounts.createAccountUnchecked(prisma, {
      organizationId,
      kind: input.kind ?? "USER",
      name: input.name ?? `Account ${++n}`,
      isOrgAdmin: input.admin ?? false,
    });
  }

  async function token(accountId: string, input: { expiresAt?: Date } = {}) {
    const { secret, token } = await services.accounts.createTokenUnchecked(prisma, { accountId, name: `token ${++n}`, expiresAt: input.expiresAt });
    return { secret, id: token.id };
  }

  async function space(organizationId: string, name = `Space ${++n}`) {
    return services.spaces.createSpaceUnchecked({ organizationId, name });
  }

  async function grant(accountId: string, spaceId: string, permissions: Permission[]) {
    return prisma.spaceGrant.upsert({
      where: { spaceId_accountId: { spaceId, accountId } },
      create: { id: newId("SpaceGrant"), spaceId, accountId, permissions },
      update: { permissions },
    });
  }

  /** An organization with one space and an admin token: the common starting point. */
  async function world(input: { quotaBytes?: bigint; maxFileSizeBytes?: bigint } = {}) {
    const o = await org(input);
    const admin = await account(o.id, { admin: true, kind: "SERVICE", name: "admin" });
    const adminToken = await token(admin.id);
    const s = await space(o.id);
    return { org: o, admin, adminToken: adminToken.secret, space: s };
  }

  /** A non-admin account holding `permissions` on `spaceId`, and its token. */
  async function member(organizationId: string, spaceId: string, permissions: Permission[]) {
    const a = await account(organizationId);
    await grant(a.id, spaceId, permissions);
    const t = await token(a.id);
    return { account: a, token: t.secret };
  }

  return { org, account, token, space, grant, world, member };
}
