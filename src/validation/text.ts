// Text rules shared by every name a client chooses (entry names, space,
// account and token names) and by the database guard (db/prisma.ts). Each rule
// is written once here; entry names report INVALID_PATH (entry-path.ts), the
// other names BAD_USER_INPUT.
import { errors } from "../errors.ts";

/** Postgres `text` and `jsonb` cannot hold U+0000; a string with one can never be stored or matched. */
export const containsNul = (s: string) => s.includes("\u0000");

// C0 controls, DEL and C1 controls; NUL is among them.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

// Characters that change how a name looks without being seen: bidi embeddings,
// overrides and isolates (U+202A-U+202E, U+2066-U+2069) make "invoice\u202Etxt.exe"
// display as "invoiceexe.txt"; zero-width characters (U+200B-U+200D, U+2060,
// U+FEFF) make two names that look the same differ; line and paragraph
// separators (U+2028, U+2029) break lines in listings and logs.
const INVISIBLE = /[\u200b-\u200d\u2028\u2029\u202a-\u202e\u2060\u2066-\u2069\ufeff]/;

/**
 * Why `name` cannot be a name, or null when it can. Entry names refuse every
 * control character (they become path segments); display names refuse NUL,
 * which the database cannot store. Both refuse the invisible characters above.
 */
export function nameProblem(name: string, options: { controls: boolean }): string | null {
  if (options.controls && CONTROL.test(name)) return "cannot contain control characters";
  if (containsNul(name)) return "cannot contain NUL (U+0000)";
  if (INVISIBLE.test(name)) return "cannot contain invisible or bidirectional-control characters (U+200B-U+200D, U+2028-U+202E, U+2060, U+2066-U+2069, U+FEFF)";
  return null;
}

/** Longest space, account and token name, in characters (UTF-16 code units, as JavaScript counts). */
export const MAX_DISPLAY_NAME_LENGTH = 200;

/**
 * A name shown in listings and logs (space, account, token): trimmed,
 * non-empty, at most MAX_DISPLAY_NAME_LENGTH characters, no NUL and nothing
 * invisible. `what` starts the message ("A space" -> "A space needs a name").
 */
export function cleanDisplayName(raw: string, what: string): string {
  const name = raw.trim();
  if (!name) throw errors.badInput(`${what} needs a name`);
  if (name.length > MAX_DISPLAY_NAME_LENGTH) throw errors.badInput(`${what} name is longer than ${MAX_DISPLAY_NAME_LENGTH} characters`);
  const problem = nameProblem(name, { controls: false });
  if (problem) throw errors.badInput(`${what} name ${problem}`);
  return name;
}

/** True when a string anywhere in `value` (object keys included) holds U+0000. */
export function holdsNul(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const current = stack.pop();
    if (typeof current === "string") {
      if (containsNul(current)) return true;
    } else if (typeof current === "object" && current !== null && !(current instanceof Date) && !ArrayBuffer.isView(current)) {
      for (const [key, child] of Object.entries(current)) {
        if (containsNul(key)) return true;
        stack.push(child);
      }
    }
  }
  return false;
}
