// The node(id) registry. Each module registers, beside its own types, the
// loader for its id kind (the prefix of the id, ids.ts): node.graphql.ts knows
// no type. A loader decides visibility through a function in access/ and
// returns null for anything the viewer may not see.
import { brandWithType, type ObjectRef } from "@pothos/core";
import { isObjectType, type GraphQLSchema } from "graphql";
import type { Viewer } from "../../access/viewer.ts";
import type { builder } from "../../graphql/builder.ts";
import type { Context } from "../../graphql/context.ts";
import { ID_PREFIXES, idKind, type IdKind } from "../../ids.ts";

type Types = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never;

/** A Pothos object type that implements Node (SpaceRef, FolderRef, …). */
export type NodeTypeRef = ObjectRef<Types, unknown>;

/** What a loader found: the row, and which of its declared types it is. */
export type LoadedNode = { type: NodeTypeRef; node: object };

export type NodeLoader = (id: string, viewer: Viewer, ctx: Context) => Promise<LoadedNode | null>;

type Registration = { types: readonly NodeTypeRef[]; load: NodeLoader };

const loaders = new Map<IdKind, Registration>();

/**
 * Registers the loader for ids of `kind`. `types` lists every GraphQL type it
 * may return (Entry ids are Folders or Assets), so the startup check below can
 * tell a Node type nobody loads.
 */
export function registerNodeLoader(kind: IdKind, types: readonly NodeTypeRef[], load: NodeLoader): void {
  if (loaders.has(kind)) throw new Error(`node(id): a loader for ${kind} ids is registered twice`);
  loaders.set(kind, { types, load });
}

/** node(id): the object, branded with its GraphQL type, or null (unknown prefix, missing, or not visible). */
export async function loadNode(id: string, ctx: Context): Promise<object | null> {
  // First, as before the registry: no token is UNAUTHENTICATED whatever the id.
  const viewer = await ctx.viewer();
  const kind = idKind(id);
  const registration = kind && loaders.get(kind);
  if (!registration) return null;
  const found = await registration.load(id, viewer, ctx);
  if (!found) return null;
  if (!registration.types.includes(found.type)) throw new Error(`node(id): the ${kind} loader returned ${found.type.name}, which it did not declare`);
  brandWithType(found.node, found.type);
  return found.node;
}

/** Id kind -> names of the GraphQL types its loader returns. */
export function registeredNodeTypes(): ReadonlyMap<IdKind, readonly string[]> {
  return new Map([...loaders].map(([kind, r]) => [kind, r.types.map((t) => t.name)]));
}

const isIdKind = (name: string): name is IdKind => Object.hasOwn(ID_PREFIXES, name);

/**
 * What node(id) cannot serve in `schema`: Node types whose ids nothing loads,
 * and registrations of types that are not Node types. A type's id kind is its
 * Prisma model (Folder and Asset are both Entry), else its own name. Empty when complete.
 */
export function nodeLoaderProblems(schema: GraphQLSchema, registered = registeredNodeTypes()): string[] {
  const problems: string[] = [];
  const nodeTypes = new Set<string>();
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || !type.getInterfaces().some((i) => i.name === "Node")) continue;
    nodeTypes.add(type.name);
    const kind = (type.extensions as { pothosPrismaModel?: string }).pothosPrismaModel ?? type.name;
    if (!isIdKind(kind)) problems.push(`${type.name} implements Node, but ${kind} has no id prefix in ids.ts`);
    else if (!registered.get(kind)?.includes(type.name)) problems.push(`${type.name} implements Node, but no registerNodeLoader("${kind}", …) returns it`);
  }
  for (const [kind, names] of registered) {
    for (const name of names) if (!nodeTypes.has(name)) problems.push(`the ${kind} loader returns ${name}, which is not a Node type of the schema`);
  }
  return problems;
}

/** Startup check (graphql/schema.ts): a Node type without a loader would silently resolve to null. */
export function assertNodeLoadersComplete(schema: GraphQLSchema): void {
  const problems = nodeLoaderProblems(schema);
  if (problems.length) throw new Error(`node(id) is incomplete:\n- ${problems.join("\n- ")}`);
}
