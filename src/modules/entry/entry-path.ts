// Path rules. A path is a "/"-separated list of names relative to the space
// root ("docs/a.pdf"; a leading or trailing "/" is tolerated). Names are stored
// NFC-normalized, so "é" typed either way is the same entry.
// Which characters a name may hold is the text rules' (validation/text.ts).
import { errors } from "../../errors.ts";
import { nameProblem } from "../../validation/text.ts";

export const MAX_SEGMENT_BYTES = 255;
export const MAX_PATH_BYTES = 4096;

/** Validates one entry name (used for rename and create-by-name too). */
export function normalizeName(raw: string): string {
  const name = raw.normalize("NFC");
  if (name === "") throw errors.invalidPath("A name cannot be empty");
  if (name === "." || name === "..") throw errors.invalidPath(`"${name}" is not a valid name`);
  if (name.includes("/")) throw errors.invalidPath('A name cannot contain "/"');
  const problem = nameProblem(name, { controls: true });
  if (problem) throw errors.invalidPath(`A name ${problem}`);
  if (Buffer.byteLength(name, "utf8") > MAX_SEGMENT_BYTES) {
    throw errors.invalidPath(`A name can be at most ${MAX_SEGMENT_BYTES} bytes`);
  }
  return name;
}

/** Splits and validates a path; "" or "/" is the root (no segments). */
export function normalizePath(raw: string): string[] {
  const path = raw.normalize("NFC");
  if (Buffer.byteLength(path, "utf8") > MAX_PATH_BYTES) throw errors.invalidPath(`A path can be at most ${MAX_PATH_BYTES} bytes`);
  const trimmed = path.replace(/^\//, "").replace(/\/$/, "");
  if (trimmed === "") return [];
  return trimmed.split("/").map((segment) => {
    if (segment === "") throw errors.invalidPath('A path cannot contain empty segments ("//")');
    return normalizeName(segment);
  });
}

export const joinPath = (segments: readonly string[]) => segments.join("/");
