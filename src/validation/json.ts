// How deep client JSON may nest: GraphQL `JSON` arguments (graphql/builder.ts)
// and REST JSON bodies (http/rest.ts). Deeper values are refused before
// anything recurses over them: JSON.stringify, Postgres' jsonb parser and
// graphql-js all recurse, and a value thousands of levels deep overflows a stack.
import { errors } from "../errors.ts";

/** Containers (objects, arrays) nested at most this deep: `{}` is 1, `{"a":[]}` is 2. */
export const MAX_JSON_DEPTH = 32;

/** Depth of a parsed JSON value, counted without recursion; stops once past `limit`. */
export function jsonDepth(value: unknown, limit = MAX_JSON_DEPTH): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (typeof current !== "object" || current === null) continue;
    deepest = Math.max(deepest, depth);
    if (deepest > limit) return deepest;
    for (const child of Object.values(current)) stack.push([child, depth + 1]);
  }
  return deepest;
}

/** BAD_USER_INPUT when `value` nests deeper than MAX_JSON_DEPTH. */
export function assertJsonDepth(value: unknown, what: string): void {
  if (jsonDepth(value) > MAX_JSON_DEPTH) throw errors.badInput(`${what} nests deeper than ${MAX_JSON_DEPTH} levels`, { maxDepth: MAX_JSON_DEPTH });
}
