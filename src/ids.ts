// Prefixed, opaque ids (`spc_…`). They are also the GraphQL global ids: the prefix
// tells node(id) which type to load, so no base64 wrapping is needed.
import { randomBytes } from "node:crypto";

export const ID_PREFIXES = {
  Organization: "org",
  Space: "spc",
  Account: "acc",
  ApiToken: "tok",
  SpaceGrant: "grt",
  Entry: "ent",
  Blob: "blb",
  Room: "rom",
  Conversation: "cnv",
  Message: "msg",
  Webhook: "whk",
  WebhookDelivery: "whd",
  Attachment: "att",
} as const;

export type IdKind = keyof typeof ID_PREFIXES;

// Crockford base32 without ambiguous letters; 16 random bytes -> 26 chars, 128 bits.
const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";

function base32(buf: Buffer): string {
  let out = "";
  let bits = 0;
  let value = 0;
  for (const byte of buf) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

export function newId(kind: IdKind): string {
  return `${ID_PREFIXES[kind]}_${base32(randomBytes(16))}`;
}

/** Random string for secrets and object keys. */
export function randomToken(bytes = 32): string {
  return base32(randomBytes(bytes));
}

const KIND_BY_PREFIX = new Map<string, IdKind>(Object.entries(ID_PREFIXES).map(([kind, prefix]) => [prefix, kind as IdKind]));

export function idKind(id: string): IdKind | undefined {
  const underscore = id.indexOf("_");
  return underscore > 0 ? KIND_BY_PREFIX.get(id.slice(0, underscore)) : undefined;
}
