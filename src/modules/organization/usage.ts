// The usage counters. Every change in stored bytes goes through here, in the
// same transaction as the change itself, so usage is always exact. Bytes of
// two-stage uploads in flight are reserved: used + reserved never exceeds the
// quota (a CHECK constraint backs this up).
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
     WHERE id = ${organizationId} AND used_bytes + reserved_bytes + ${delta} <= quota_bytes`;
  if (billed === 0) throw errors.quotaExceeded();
  await tx.$executeRaw`UPDATE spaces SET used_bytes = used_bytes + ${delta} WHERE id = ${spaceId}`;
}

/** Holds `bytes` of quota for an upload in flight, or throws LIMITS_REACHED. */
export async function reserveQuota(tx: Tx, organizationId: string, bytes: bigint): Promise<void> {
  const reserved = await tx.$executeRaw`
    UPDATE organizations SET reserved_bytes = reserved_bytes + ${bytes}
     WHERE id = ${organizationId} AND used_bytes + reserved_bytes + ${bytes} <= quota_bytes`;
  if (reserved === 0) throw errors.quotaExceeded();
}

/** Gives back the reservation of an upload that will not complete. */
export async function releaseQuota(tx: Tx, organizationId: string, bytes: bigint): Promise<void> {
  if (bytes === 0n) return;
  await tx.$executeRaw`UPDATE organizations SET reserved_bytes = reserved_bytes - ${bytes} WHERE id = ${organizationId}`;
}

/**
 * Turns a completed upload's reservation into usage: the reservation goes, and
 * `delta` (new size minus the size of the bytes it replaces) is billed. Never
 * crosses the quota, since delta <= the reserved bytes.
 */
export async function settleReservation(tx: Tx, organizationId: string, spaceId: string, reserved: bigint, delta: bigint): Promise<void> {
  await tx.$executeRaw`
    UPDATE organizations SET reserved_bytes = reserved_bytes - ${reserved}, used_bytes = used_bytes + ${delta}
     WHERE id = ${organizationId}`;
  if (delta !== 0n) await tx.$executeRaw`UPDATE spaces SET used_bytes = used_bytes + ${delta} WHERE id = ${spaceId}`;
}
