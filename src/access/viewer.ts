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
  // One statement per request (decision 50): the token, its account and the account's grants.
  // Prisma's nested include costs three round trips; this runs on every request.
  const [row] = await prisma.$queryRaw<TokenRow[]>`
    SELECT t.id AS "tokenId", t.expires_at AS "expiresAt", t.revoked_at AS "revokedAt",
           a.id AS "accountId", a.organization_id AS "organizationId", a.is_org_admin AS "isOrgAdmin",
           a.kind::text AS kind, a.disabled_at AS "disabledAt",
           COALESCE((SELECT json_agg(json_build_array(g.space_id, g.permissions)) FROM space_grants g WHERE g.account_id = a.id), '[]') AS grants
    FROM api_tokens t JOIN accounts a ON a.id = t.account_id
    WHERE t.token_hash = ${hashToken(secret)}`;
  if (!row || row.revokedAt || (row.expiresAt && row.expiresAt.getTime() <= Date.now())) {
    throw errors.unauthenticated("The token is invalid, revoked or expired");
  }
  // A disabled account's tokens stop at once; they work again when it is enabled.
  if (row.disabledAt) throw errors.unauthenticated("The token's account is disabled");
  return {
    accountId: row.accountId,
    organizationId: row.organizationId,
    tokenId: row.tokenId,
    tokenExpiresAt: row.expiresAt,
    isOrgAdmin: row.isOrgAdmin,
    kind: row.kind,
    grants: new Map(row.grants.map(([spaceId, permissions]) => [spaceId, new Set(permissions.filter(isPermission))])),
  };
}

type TokenRow = {
  tokenId: string;
  expiresAt: Date | null;
  revokedAt: Date | null;
  accountId: string;
  organizationId: string;
  isOrgAdmin: boolean;
  kind: "USER" | "SERVICE";
  disabledAt: Date | null;
  grants: [spaceId: string, permissions: string[]][];
};

export function requireViewer(viewer: Viewer | null): Viewer {
  if (!viewer) throw errors.unauthenticated();
  return viewer;
}
