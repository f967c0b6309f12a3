// The usage counters. Every change in stored bytes goes through billUsage, in the
// same transaction as the change itself, so usage is always exact.
import type { Tx } from "../../db/prisma.ts";
import { errors } from "../../errors.ts";

/**
 * Adds `delta` bytes (negative frees) to the organization and the space. A
 * positive delta that would cross the quota bills nothing and throws
 * LIMITS_REACHED: the conditional UPDATE is what makes concurrent uploads safe.
 */
export async function billUsage(tx: Tx, organizationId: string, spaceId: string, delta: bigint): Promise<void> {
  if (delta === 0n) return;
  const billed = await tx.$executeRaw`
    UPDATE organizations SET used_bytes = used_bytes + ${delta}
     WHERE id = ${organizationId} AND used_bytes + ${delta} <= quota_bytes`;
  if (billed === 0) throw errors.limitsReached("The organization's storage quota is used up", { reason: "QUOTA" });
  await tx.$executeRaw`UPDATE spaces SET used_bytes = used_bytes + ${delta} WHERE id = ${spaceId}`;
}
