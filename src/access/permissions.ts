// The closed list of permission names a space grant can carry.
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
