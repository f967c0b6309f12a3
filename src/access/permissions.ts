// The closed list of permission names a space grant can carry.
import { errors } from "../errors.ts";

export const PERMISSIONS = [
  "assets:read",
  "assets:create",
  "assets:update",
  "assets:delete",
  "conversations:read",
  "conversations:write",
  "attachments:manage",
  "space:admin",
] as const;

export type Permission = (typeof PERMISSIONS)[number];

export const isPermission = (value: string): value is Permission => (PERMISSIONS as readonly string[]).includes(value);

/**
 * Validates names from a client against the closed list. Unknown names are
 * BAD_USER_INPUT listing every offender, so a typo is fixed in one round trip.
 * Returns the set deduplicated and sorted (grants are compared and displayed sorted).
 */
export function parsePermissions(names: readonly string[]): Permission[] {
  const unknown = names.filter((name) => !isPermission(name));
  if (unknown.length) {
    throw errors.badInput(`Unknown permission${unknown.length > 1 ? "s" : ""}: ${unknown.join(", ")}`, {
      unknownPermissions: unknown,
      allowedPermissions: [...PERMISSIONS],
    });
  }
  return [...new Set(names as Permission[])].sort();
}
