// Generators for test/fuzz.test.ts: a seeded PRNG, hostile values, and GraphQL
// documents built from the schema itself (random Query/Mutation fields, their
// arguments filled with right- and wrong-typed values, random subselections).
import {
  getNamedType,
  getNullableType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  isUnionType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLNamedType,
  type GraphQLOutputType,
  type GraphQLSchema,
} from "graphql";
import { jsonDepth } from "../../src/validation/json.ts";

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export function createRandom(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return {
    next,
    int,
    chance: (p: number) => next() < p,
    pick: <T>(items: readonly T[]): T => items[int(items.length)]!,
  };
}
export type Random = ReturnType<typeof createRandom>;

const b64 = (s: string) => Buffer.from(s).toString("base64url");

/** A value `depth` containers deep: {"a":{"a":…}} or [[…]]. */
export function deepJson(depth: number, leaf: unknown = 1): unknown {
  let v: unknown = leaf;
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v };
  return v;
}

/** Ids of things that exist, so some requests get past the lookups. */
export type KnownIds = { spaces: string[]; entries: string[]; accounts: string[]; tokens: string[]; other: string[] };

const HOSTILE_STRINGS = [
  "",
  " ",
  "a",
  "docs",
  "docs/a.txt",
  "/",
  "//",
  ".",
  "..",
  "a/../../etc/passwd",
  "a//b",
  "fresh/new.txt",
  "nul\u0000byte",
  "\u0000",
  "a/b\u0000c",
  "invoice\u202Etxt.exe",
  "zero\u200Bwidth",
  "word\u2060joiner",
  "line\u2028sep",
  "para\u2029sep",
  "\uFEFFbom",
  "isolate\u2066x\u2069",
  "bell\u0007",
  "tab\tname",
  "emoji 😀🎉",
  "\ud800lone",
  "é".repeat(128),
  "x".repeat(201),
  "x".repeat(256),
  "a/".repeat(2100),
  "text/plain",
  "image/png",
  "text/html; charset=utf-8",
  `a/${"b".repeat(300)}`,
  "not a mime",
  "application/octet-stream",
  "http://127.0.0.1:1/x",
  "ftp://example.invalid/x",
  "data:text/plain;base64,aGk=",
  "javascript:alert(1)",
  "'; DROP TABLE spaces; --",
  "%00",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a hostile literal, not a template
  "${jndi:ldap://x}",
  "<script>alert(1)</script>",
  "assets:read",
  "space:admin",
  "nope:perm",
  "NaN",
  "-1",
  "1e309",
  "0".repeat(64),
  "f".repeat(64),
];

const HOSTILE_DATES = [
  "2030-01-01T00:00:00.000Z",
  "2000-01-01T00:00:00Z",
  "9999-12-31T23:59:59.999Z",
  "+010000-01-01T00:00:00.000Z",
  "+275760-09-13T00:00:00.000Z",
  "-000001-01-01T00:00:00.000Z",
  "0000-01-01T00:00:00Z",
  "2026-02-30T00:00:00Z",
  "yesterday",
  "",
  "1",
  "2026-13-01",
  "\u0000",
];

const HOSTILE_INTS = [0, 1, -1, 2, 50, 500, 501, 1000, -2147483648, 2147483647, 2147483648, -2147483649, 1.5, 1e21, 2 ** 53, -(2 ** 53), 2 ** 53 - 1];

function hostileCursors(known: KnownIds): string[] {
  const entry = known.entries[0] ?? "ent_x";
  return [
    "junk",
    "",
    "\u0000",
    "!!!",
    b64("not json"),
    b64("[]"),
    b64('["FILE"]'),
    b64(JSON.stringify(["FILE", "abc", entry])),
    b64(JSON.stringify(["FOLDER", "99999999999999999999999", entry])),
    b64(JSON.stringify(["FILE", "2026-02-30 10:00:00+00", entry])),
    b64(JSON.stringify(["FILE", "2026-01-01 10:00:00.123456+00", entry])),
    b64(JSON.stringify(["FILE", "12", entry])),
    b64(JSON.stringify(["FILE", "a\u0000b", entry])),
    b64(JSON.stringify(["FILE", 12, entry])),
    b64(JSON.stringify(["BLOB", "a", entry])),
    b64(JSON.stringify({ kind: "FILE" })),
    Buffer.from("GPC:S:spc_x").toString("base64"),
    Buffer.from("GPC:N:5").toString("base64"),
    Buffer.from("GPC:D:1700000000000").toString("base64"),
    Buffer.from('GPC:J:{"gt":""}').toString("base64"),
    Buffer.from("GPC:S:a\u0000b").toString("base64"),
    Buffer.from("GPC:B:9").toString("base64"),
    Buffer.from("GPC:").toString("base64"),
  ];
}

function hostileIds(_known: KnownIds): string[] {
  return [
    "",
    "x",
    "\u0000",
    "spc_\u0000",
    "ent_00000000000000000000000000",
    "spc_00000000000000000000000000",
    "acc_zzzz",
    "tok_💥",
    "x".repeat(5000),
    "blb_1",
    "org_1",
    "'; --",
    "ent_",
    "_",
    "spc",
    "\u202Espc_x",
  ];
}

function hostileJson(r: Random): unknown {
  switch (r.int(12)) {
    case 0:
      return deepJson(40);
    case 1:
      return deepJson(31);
    case 2:
      return deepJson(1500);
    case 3:
      return { "k\u0000": 1 };
    case 4:
      return { a: "nul\u0000" };
    case 5:
      return Array.from({ length: 2000 }, (_, i) => i);
    case 6:
      return { big: "x".repeat(20_000) };
    case 7:
      return 1e308;
    case 8:
      return "just a string";
    case 9:
      return null;
    case 10:
      return [{ "\u202E": "bidi" }];
    default:
      return { ok: true, n: 1, list: [1, "two", null] };
  }
}

/** A JSON value of any type: used where the argument's type is deliberately ignored. */
function anyValue(r: Random, known: KnownIds): unknown {
  switch (r.int(7)) {
    case 0:
      return r.pick(HOSTILE_STRINGS);
    case 1:
      return r.pick(HOSTILE_INTS);
    case 2:
      return r.chance(0.5);
    case 3:
      return null;
    case 4:
      return [r.pick(HOSTILE_STRINGS)];
    case 5:
      return { junk: r.pick(hostileIds(known)) };
    default:
      return hostileJson(r);
  }
}

function scalarValue(r: Random, name: string, known: KnownIds): unknown {
  switch (name) {
    case "ID": {
      const real = [...known.spaces, ...known.entries, ...known.accounts, ...known.tokens, ...known.other];
      return r.chance(0.6) && real.length ? r.pick(real) : r.pick(hostileIds(known));
    }
    case "String":
      return r.chance(0.2) ? r.pick(hostileCursors(known)) : r.chance(0.03) ? "x".repeat(300_000) : r.pick(HOSTILE_STRINGS);
    case "Int":
    case "SafeInt":
    case "Float":
      return r.pick(HOSTILE_INTS);
    case "Boolean":
      return r.chance(0.5);
    case "DateTime":
      return r.pick(HOSTILE_DATES);
    case "JSON":
      return hostileJson(r);
    case "Upload":
      return r.pick([null, "file", { uri: "x" }]);
    default:
      return r.pick(HOSTILE_STRINGS);
  }
}

/** A value for `type`: mostly of the right shape, sometimes of another type, null or missing fields. */
export function inputValue(r: Random, type: GraphQLInputType, known: KnownIds, depth = 0): unknown {
  if (r.chance(0.03)) return anyValue(r, known);
  if (isNonNullType(type)) return r.chance(0.01) ? null : inputValue(r, type.ofType, known, depth);
  if (r.chance(0.03)) return null;
  if (isListType(type)) {
    const n = r.pick([0, 1, 1, 2, 3, 120]);
    return Array.from({ length: n }, () => inputValue(r, type.ofType, known, depth + 1));
  }
  if (isInputObjectType(type)) {
    const out: Record<string, unknown> = {};
    for (const field of Object.values(type.getFields())) {
      const required = isNonNullType(field.type) && field.defaultValue === undefined;
      if (required ? r.chance(0.97) : r.chance(0.6)) out[field.name] = depth > 4 ? null : inputValue(r, field.type, known, depth + 1);
    }
    if (r.chance(0.02)) out.unknownField = "x";
    return out;
  }
  if (isEnumType(type)) {
    const values = type.getValues().map((v) => v.name);
    // A near miss invites a "Did you mean …?" suggestion, which must not reach the client.
    return r.chance(0.85) ? r.pick(values) : r.pick([`${values[0]}X`, values[0]!.toLowerCase(), "", "\u0000"]);
  }
  if (isScalarType(type)) return scalarValue(r, type.name, known);
  return null;
}

/** A value written as a GraphQL literal (enums bare when the type says so). */
export function toLiteral(value: unknown, type: GraphQLInputType | undefined): string {
  const nullable = type ? getNullableType(type) : undefined;
  if (value === null || value === undefined) return "null";
  if (typeof value === "string") return nullable && isEnumType(nullable) && /^[_A-Za-z][_0-9A-Za-z]*$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "0";
  if (typeof value === "boolean") return String(value);
  if (Array.isArray(value)) {
    const item = nullable && isListType(nullable) ? nullable.ofType : undefined;
    return `[${value.map((v) => toLiteral(v, item)).join(", ")}]`;
  }
  const fields = nullable && isInputObjectType(nullable) ? nullable.getFields() : {};
  const entries = Object.entries(value as Record<string, unknown>).filter(([k]) => /^[_A-Za-z][_0-9A-Za-z]*$/.test(k));
  return `{${entries.map(([k, v]) => `${k}: ${toLiteral(v, fields[k]?.type)}`).join(", ")}}`;
}

const typeString = (t: GraphQLInputType): string => String(t);

/** Builds one document: an operation with one root field, arguments as literals or variables. */
export function generateDocument(r: Random, schema: GraphQLSchema, known: KnownIds): { query: string; variables: Record<string, unknown> } {
  const variables: Record<string, unknown> = {};
  const definitions: string[] = [];
  let n = 0;

  function args(list: readonly GraphQLArgument[]): string {
    const parts: string[] = [];
    for (const arg of list) {
      const required = isNonNullType(arg.type) && arg.defaultValue === undefined;
      if (!(required ? r.chance(0.97) : r.chance(0.5))) continue;
      const value = inputValue(r, arg.type, known);
      // Values too deep to write as a literal (the document would blow the token limit anyway) go as variables.
      if (r.chance(0.5) || jsonDepth(value, 100) > 100) {
        const name = `v${n++}`;
        // Sometimes the variable is declared with another type than the argument's.
        definitions.push(`$${name}: ${r.chance(0.02) ? "String" : typeString(arg.type)}`);
        if (value !== undefined) variables[name] = value;
        parts.push(`${arg.name}: $${name}`);
      } else {
        parts.push(`${arg.name}: ${toLiteral(value, arg.type)}`);
      }
    }
    if (r.chance(0.01)) parts.push("noSuchArgument: 1");
    return parts.length ? `(${parts.join(", ")})` : "";
  }

  function selection(type: GraphQLOutputType, depth: number): string {
    const named: GraphQLNamedType = getNamedType(type);
    if (isLeafType(named)) return "";
    const parts: string[] = ["__typename"];
    if (isObjectType(named) || isInterfaceType(named)) {
      const fields = Object.values(named.getFields()) as GraphQLField<unknown, unknown>[];
      // Distinct fields: the same field twice with other arguments is only a validation error.
      const chosen = new Set<GraphQLField<unknown, unknown>>();
      for (let i = 1 + r.int(4); i > 0; i--) chosen.add(r.pick(fields));
      for (const field of chosen) {
        const leaf = isLeafType(getNamedType(field.type));
        if (!leaf && depth >= 3) continue;
        parts.push(`${field.name}${args(field.args)}${leaf ? "" : ` { ${selection(field.type, depth + 1)} }`}`);
      }
    }
    if ((isInterfaceType(named) || isUnionType(named)) && r.chance(0.6)) {
      const possible = schema.getPossibleTypes(named);
      const on = r.pick(possible);
      parts.push(`... on ${on.name} { ${selection(on, depth + 1)} }`);
    }
    if (r.chance(0.01)) parts.push("noSuchField");
    return parts.join(" ");
  }

  const root = r.chance(0.55) ? schema.getQueryType()! : schema.getMutationType()!;
  const field = r.pick(Object.values(root.getFields()));
  const call = `${field.name}${args(field.args)}`;
  const sub = selection(field.type, 1);
  const body = sub ? `${call} { ${sub} }` : call;
  const keyword = root === schema.getQueryType() ? "query" : "mutation";
  const query = `${keyword} Fuzz${definitions.length ? `(${definitions.join(", ")})` : ""} { ${body} }`;
  return { query, variables };
}
