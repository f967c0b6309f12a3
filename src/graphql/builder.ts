// The Pothos builder: plugins and scalars only. Types live in modules/<noun>/<noun>.graphql.ts.
import SchemaBuilder from "@pothos/core";
import PrismaPlugin from "@pothos/plugin-prisma";
import RelayPlugin from "@pothos/plugin-relay";
import { GraphQLScalarType, Kind } from "graphql";
import { GraphQLUpload, type FileUpload } from "graphql-upload-minimal";
import type PrismaTypes from "../generated/pothos-prisma-types.ts";
import { getDatamodel } from "../generated/pothos-prisma-types.ts";
import { errors } from "../errors.ts";
import { assertJsonDepth, MAX_JSON_DEPTH } from "../validation/json.ts";
import type { Context } from "./context.ts";

// Sizes exceed GraphQL's 32-bit Int; they go out as JSON numbers (exact below 2^53).
const SafeInt = new GraphQLScalarType<bigint | number, number>({
  name: "SafeInt",
  description: "An integer between -(2^53-1) and 2^53-1, sent as a JSON number (used for byte counts).",
  serialize: (value) => {
    const n = Number(value as bigint | number);
    if (!Number.isSafeInteger(n)) throw new TypeError(`SafeInt cannot represent ${String(value)}`);
    return n;
  },
  parseValue: (value) => {
    if (typeof value !== "number" || !Number.isSafeInteger(value)) throw errors.badInput("SafeInt must be a safe integer");
    return value;
  },
  parseLiteral: (ast) => {
    if (ast.kind !== Kind.INT || !Number.isSafeInteger(Number(ast.value))) throw errors.badInput("SafeInt must be a safe integer");
    return Number(ast.value);
  },
});

// Years 1 to 9999: what ISO-8601 writes with four digits, JavaScript and
// Postgres timestamptz both hold, and Prisma sends unambiguously. A date outside
// would reach the database as "+010000-…" and fail there.
const MIN_DATE = Date.parse("0001-01-01T00:00:00.000Z");
const MAX_DATE = Date.parse("9999-12-31T23:59:59.999Z");

const DateTime = new GraphQLScalarType<Date, string>({
  name: "DateTime",
  description: "An ISO-8601 timestamp in UTC, e.g. 2026-11-22T10:00:00.000Z, between the years 0001 and 9999.",
  serialize: (value) => (value instanceof Date ? value : new Date(value as string)).toISOString(),
  parseValue: (value) => {
    const d = new Date(value as string);
    if (typeof value !== "string" || Number.isNaN(d.getTime())) throw errors.badInput("DateTime must be an ISO-8601 string");
    if (d.getTime() < MIN_DATE || d.getTime() > MAX_DATE) throw errors.badInput("DateTime must be between the years 0001 and 9999");
    return d;
  },
});

const JSONScalar = new GraphQLScalarType({
  name: "JSON",
  description: `Any JSON value, nested at most ${MAX_JSON_DEPTH} levels deep.`,
  serialize: (v) => v,
  // Literals arrive here too (the default parseLiteral reads them into a value first).
  parseValue: (v) => {
    assertJsonDepth(v, "A JSON value");
    return v;
  },
});

export const builder = new SchemaBuilder<{
  Context: Context;
  PrismaTypes: PrismaTypes;
  DefaultFieldNullability: false;
  DefaultInputFieldRequiredness: true;
  Scalars: {
    ID: { Input: string; Output: string };
    SafeInt: { Input: number; Output: bigint | number };
    DateTime: { Input: Date; Output: Date };
    JSON: { Input: unknown; Output: unknown };
    Upload: { Input: Promise<FileUpload>; Output: never };
  };
}>({
  plugins: [PrismaPlugin, RelayPlugin],
  defaultFieldNullability: false,
  defaultInputFieldRequiredness: true,
  prisma: {
    client: (ctx) => ctx.prisma,
    dmmf: getDatamodel(),
    exposeDescriptions: true,
    filterConnectionTotalCount: true,
    onUnusedQuery: null,
  },
  relay: {
    clientMutationId: "omit",
    cursorType: "String",
    // Our ids are already global and typed by prefix (ids.ts): no base64 wrapping.
    encodeGlobalID: (_typename, id) => String(id),
    decodeGlobalID: (globalID) => ({ typename: "", id: globalID }),
    // node(id)/nodes(ids) are defined in modules/node so they go through access/.
    nodeQueryOptions: false,
    nodesQueryOptions: false,
  },
});

builder.addScalarType("SafeInt", SafeInt);
builder.addScalarType("DateTime", DateTime);
builder.addScalarType("JSON", JSONScalar);
builder.addScalarType("Upload", GraphQLUpload as GraphQLScalarType<Promise<FileUpload>, never>);

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});
