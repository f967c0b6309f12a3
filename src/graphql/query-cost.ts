// The query cost limit: an upper bound of the objects an operation can make the
// server produce, checked before it runs. graphql-armor's cost limit multiplies
// only by literal `first`/`last` arguments, and compounds a factor per level, so
// it refused `children(first: 400)` and let `children(first: $n)` through.
//
// The model (docs/decisions.md 33):
// - an object-typed field costs 1 each time it can be resolved; a connection's
//   `edges` wrapper costs nothing, each edge's `node` costs 1 (a row);
// - leaves cost 0, except those listed in LEAF_COSTS (work per value);
// - a connection multiplies its edges by its page size: `first` (or `last`),
//   else the field's default, capped at its maximum (a larger page is refused by
//   the resolver before any work); `nodes(ids)` multiplies by its ids (capped
//   likewise); other object lists by DEFAULT_LIST_SIZE;
// - sizes are read after variable coercion, so variables and their defaults count.
// Introspection (`__schema`, `__type`) is schema-sized and not counted.
import {
  getArgumentValues,
  getNamedType,
  getOperationAST,
  getVariableValues,
  isCompositeType,
  isInterfaceType,
  isListType,
  isNonNullType,
  isObjectType,
  Kind,
  type DocumentNode,
  type ExecutionArgs,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLField,
  type GraphQLOutputType,
  type GraphQLSchema,
  type SelectionSetNode,
} from "graphql";
import type { Plugin } from "graphql-yoga";
import { errors } from "../errors.ts";
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from "../modules/entry/entry-listing.ts";
import { MAX_NODE_IDS } from "../modules/node/node.graphql.ts";
import { appErrorToGraphQL } from "./errors.ts";

/** About a million objects: 3 levels x 50 children with a few objects per entry fit; 3 x 100 do not. */
export const MAX_QUERY_COST = 1_000_000;

/** Object lists without a size argument (Account.tokens, Viewer.grants). */
const DEFAULT_LIST_SIZE = 20;

type PageSize = { default: number; max: number };
/** Pothos's connection defaults, for connections not listed in PAGE_SIZES (Query.spaces). */
const POTHOS_PAGE_SIZE: PageSize = { default: 20, max: 100 };
const PAGE_SIZES: Record<string, PageSize> = {
  "Folder.children": { default: DEFAULT_PAGE_SIZE, max: MAX_PAGE_SIZE },
};

/** Leaves that do work per value. */
const LEAF_COSTS: Record<string, number> = {
  "Asset.downloadUrl": 1, // signs a URL
};

const isConnectionType = (type: GraphQLCompositeType) => isObjectType(type) && "edges" in type.getFields() && "pageInfo" in type.getFields();

function isListOutput(type: GraphQLOutputType): boolean {
  return isListType(isNonNullType(type) ? type.ofType : type);
}

/** The cost of the selected operation, or null when it cannot run anyway (execution then says why). */
export function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  rawVariables: Record<string, unknown> | null | undefined,
): number | null {
  const operation = getOperationAST(document, operationName);
  const rootType = operation && schema.getRootType(operation.operation);
  if (!operation || !rootType) return null;
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], rawVariables ?? {});
  if (coerced.errors) return null;
  const variables = coerced.coerced;

  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  // A fragment's cost does not depend on where it is spread (sizes come from its own
  // arguments), so each is computed once: nested spreads cannot make this exponential.
  const fragmentCosts = new Map<string, number>();

  function fragmentCost(name: string, pageSize: number): number {
    const key = `${name}:${pageSize}`;
    const known = fragmentCosts.get(key);
    if (known !== undefined) return known;
    const fragment = fragments.get(name);
    const type = fragment && schema.getType(fragment.typeCondition.name.value);
    fragmentCosts.set(key, 0); // a cycle (refused by validation) counts once
    const cost = fragment && type && isCompositeType(type) ? selectionCost(fragment.selectionSet, type, pageSize) : 0;
    fragmentCosts.set(key, cost);
    return cost;
  }

  /** One instance of `type` with this selection; `pageSize` is the enclosing connection's, for its edges. */
  function selectionCost(set: SelectionSetNode, type: GraphQLCompositeType, pageSize = 1): number {
    let total = 0;
    for (const selection of set.selections) {
      if (selection.kind === Kind.FRAGMENT_SPREAD) total += fragmentCost(selection.name.value, pageSize);
      else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const condition = selection.typeCondition && schema.getType(selection.typeCondition.name.value);
        total += selectionCost(selection.selectionSet, condition && isCompositeType(condition) ? condition : type, pageSize);
      } else {
        const name = selection.name.value;
        const field = name.startsWith("__") || !(isObjectType(type) || isInterfaceType(type)) ? undefined : type.getFields()[name];
        if (!field) continue; // introspection, __typename
        const coordinate = `${type.name}.${name}`;
        const named = getNamedType(field.type);
        if (!selection.selectionSet || !isCompositeType(named)) {
          total += LEAF_COSTS[coordinate] ?? 0;
          continue;
        }
        if (isConnectionType(type) && name === "edges") {
          total += pageSize * selectionCost(selection.selectionSet, named);
          continue;
        }
        // Arguments are read only where they size a list: other fields' inputs (uploads) stay untouched.
        const args = () => getArgumentValues(field as GraphQLField<unknown, unknown>, selection, variables);
        if (isConnectionType(named)) {
          total += 1 + selectionCost(selection.selectionSet, named, connectionSize(coordinate, args()));
        } else {
          total += listSize(coordinate, field.type, args) * (1 + selectionCost(selection.selectionSet, named));
        }
      }
    }
    return total;
  }

  return selectionCost(operation.selectionSet, rootType);
}

function connectionSize(coordinate: string, args: Record<string, unknown>): number {
  const sizes = PAGE_SIZES[coordinate] ?? POTHOS_PAGE_SIZE;
  const requested = (args.first ?? args.last ?? sizes.default) as number;
  return Math.min(Math.max(requested, 0), sizes.max);
}

function listSize(coordinate: string, type: GraphQLOutputType, args: () => Record<string, unknown>): number {
  if (coordinate === "Query.nodes") return Math.min((args().ids as unknown[]).length, MAX_NODE_IDS);
  return isListOutput(type) ? DEFAULT_LIST_SIZE : 1;
}

/** Refuses operations over MAX_QUERY_COST with LIMITS_REACHED (reason QUERY_COST), on every transport. */
export function useQueryCostLimit(): Plugin {
  // After validation, on purpose: yoga caches validation per document, and the cost depends on the variables.
  const check = (args: ExecutionArgs, refuse: (result: { errors: Error[] }) => void) => {
    const cost = operationCost(args.schema, args.document, args.operationName, args.variableValues as Record<string, unknown> | undefined);
    if (cost === null || cost <= MAX_QUERY_COST) return;
    const error = errors.limitsReached(
      `The query's cost is ${Math.round(cost)}, over the limit of ${MAX_QUERY_COST}: it may produce that many objects (lists count at their page size). Ask for smaller pages or fewer levels.`,
      { reason: "QUERY_COST", cost: Math.round(cost), limit: MAX_QUERY_COST },
    );
    refuse({ errors: [appErrorToGraphQL(error)] });
  };
  return {
    onExecute: ({ args, setResultAndStopExecution }) => check(args, setResultAndStopExecution as never),
    onSubscribe: ({ args, setResultAndStopExecution }) => check(args, setResultAndStopExecution as never),
  };
}
