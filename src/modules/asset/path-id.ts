// The REST routes address files by `pathId`: the base64 of the path
// ("photos/profile.png" -> "cGhvdG9zL3Byb2ZpbGUucG5n"). Both alphabets are
// accepted (standard and URL-safe), with or without padding, but nothing else:
// a pathId that is not exactly base64 of UTF-8 text is INVALID_PATH. The
// decoded path then goes through the same rules as any other (entry-path.ts).
import { errors } from "../../errors.ts";

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;
const utf8 = new TextDecoder("utf-8", { fatal: true });

export function decodePathId(pathId: string): string {
  const unpadded = pathId.replace(/=+$/, "");
  if (!BASE64.test(pathId) || unpadded.length % 4 === 1 || (pathId.includes("=") && pathId.length % 4 !== 0)) {
    throw errors.invalidPath("pathId must be the base64 of the path");
  }
  const standard = unpadded.replace(/-/g, "+").replace(/_/g, "/");
  const bytes = Buffer.from(standard, "base64");
  // Buffer ignores trailing bits; re-encoding catches a last character that carries garbage.
  if (bytes.toString("base64").replace(/=+$/, "") !== standard) throw errors.invalidPath("pathId must be the base64 of the path");
  try {
    return utf8.decode(bytes);
  } catch {
    throw errors.invalidPath("pathId must be the base64 of a UTF-8 path");
  }
}
