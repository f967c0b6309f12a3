// Who is calling: resolved once per request (or per WebSocket connection) from
// an opaque bearer token. Tokens are stored as sha256 hashes; the secret is
// shown once at creation and never again.
import { createHash } from "node:crypto";
import type { PrismaClient } from "../db/prisma.ts";
import { errors } from "../errors.ts";
import { randomToken } from "../ids.ts";
import { isPermission, type Permission } from "./permissions.ts";

export type Viewer = {
  accountId: string;
  organizationId: string;
  tokenId: string;
  /** When the token stops working; long-lived connections are ended at that moment (access/live-access.ts). */
  tokenExpiresAt: Date | null;
  isOrgAdmin: boolean;
  kind: "USER" | "SERVICE";
  /** spaceId -> permissions granted there. Org admins hold everything in their organization instead. */
  grants: ReadonlyMap<string, ReadonlySet<Permission>>;
};

const TOKEN_PREFIX = "cab_";

export const newTokenSecret = () => TOKEN_PREFIX + randomToken(32);

export const hashToken = (secret: string) => createHash("sha256").update(secret, "utf8").digest("hex");

/** Extracts the token from an `Authorization: Bearer …` value; undefined when absent. */
export function bearerToken(header: string | undefined | null): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m) throw errors.unauthenticated("Authorization header must be `Bearer <token>`");
  return m[1];
}

/**
 * Loads the viewer for a token secret. Returns null when no token was given;
 * throws UNAUTHENTICATED for an unknown, revoked or expired token, or one of a
 * disabled account.
 */
export async function authenticate(prisma: PrismaClient, secret: string | undefined): Promise<Viewer | null> {
  if (!secret) return null;
  const token = await prisma.apiToken.findUnique({
    where: { tokenHash: hashToken(secret) },
    include: { account: { include: { grants: true } } },
  });
  if (!token || token.revokedAt || (token.expiresAt && token.expiresAt.getTime() <= Date.now())) {
    throw errors.unauthenticated("The token is invalid, revoked or expired");
  }
  const { account } = token;
  // A disabled account's tokens stop at once; they work again when it is enabled.
  if (account.disabledAt) throw errors.unauthenticated("The token's account is disabled");
  return {
    accountId: account.id,
    organizationId: account.organizationId,
    tokenId: token.id,
    tokenExpiresAt: token.expiresAt,
    isOrgAdmin: account.isOrgAdmin,
    kind: account.kind,
    grants: new Map(account.grants.map((g) => [g.spaceId, new Set(g.permissions.filter(isPermission))])),
  };
}

export function requireViewer(viewer: Viewer | null): Viewer {
  if (!viewer) throw errors.unauthenticated();
  return viewer;
}
