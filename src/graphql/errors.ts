// Every GraphQL error a client sees carries extensions.code (src/errors.ts):
// - AppErrors keep their message and code (maskError);
// - GraphQL's own errors get one: GRAPHQL_PARSE_FAILED (onParse),
//   GRAPHQL_VALIDATION_FAILED (onValidate), QUERY_TOO_COMPLEX (graphql-armor's
//   limits, marked by their onReject callback), BAD_REQUEST (yoga's refusals of
//   malformed HTTP requests), BAD_USER_INPUT (variable and argument coercion,
//   Pothos' connection-argument and cursor checks);
// - anything else is logged with the request id and masked as INTERNAL_SERVER_ERROR.
// "Did you mean …?" suggestions are cut from every message: they would list
// the schema's fields and enum values to anyone probing it.
import { GraphQLError } from "graphql";
import type { Plugin } from "graphql-yoga";
import { clientView, goneInRace, isAppError, isOperatorError, type AppError, type ErrorCode } from "../errors.ts";
import { currentRequestId } from "../request-context.ts";

export type ErrorLogger = (message: string, fields: Record<string, unknown>) => void;

// graphql ships CJS and ESM builds; libraries may hold the other one, so
// GraphQLErrors are recognised by shape, not with instanceof.
type GraphQLErrorLike = GraphQLError & { originalError?: unknown };
const isGraphQLError = (e: unknown): e is GraphQLErrorLike => e instanceof Error && e.name === "GraphQLError" && "extensions" in e;
// Pothos' refusals of connection arguments and cursors (negative `first`,
// `before` with `after`, an unreadable cursor): the client's mistake.
const isPothosValidationError = (e: unknown): e is GraphQLErrorLike => e instanceof Error && e.name === "PothosValidationError";

function unwrap(error: unknown): unknown {
  let current = error;
  // Yoga and graphql-js wrap resolver errors; the AppError may sit several levels down.
  for (let i = 0; i < 5 && isGraphQLError(current) && current.originalError; i++) current = current.originalError;
  return current;
}

const SUGGESTION = /\s*Did you mean [^?]*\?/g;
/** The message without graphql-js' suggestions ("Did you mean "name"?", "Did you mean the enum value …?"). */
export const withoutSuggestions = (message: string) => message.replace(SUGGESTION, "");

const codeOf = (e: GraphQLErrorLike): string | undefined => {
  const code = e.extensions?.code;
  return typeof code === "string" ? code : undefined;
};

/** `error` with `code` in its extensions (other extensions, locations and path kept) and no suggestions. */
export function withCode(error: GraphQLErrorLike, code: ErrorCode): GraphQLError {
  const message = withoutSuggestions(error.message);
  if (codeOf(error) === code && message === error.message) return error;
  return new GraphQLError(message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    extensions: { ...error.extensions, code },
  });
}

export function appErrorToGraphQL(e: AppError, source?: GraphQLError): GraphQLError {
  const { message, code, details } = clientView(e);
  return new GraphQLError(message, {
    nodes: source?.nodes,
    source: source?.source,
    positions: source?.positions,
    path: source?.path,
    // No originalError: yoga logs errors that carry one, and an AppError is an
    // answer to the client, not a fault to page anyone about.
    extensions: { code, ...(details ? { details } : {}), ...httpOf(e) },
  });
}

/**
 * Yoga answers over HTTP with the status and headers of an error's `http`
 * extension (and leaves the extension out of the body): a rate-limited post
 * is a 429 with Retry-After, as a REST client would expect.
 */
function httpOf(e: AppError): { http?: { status: number; headers: Record<string, string> } } {
  if (e.code !== "RATE_LIMITED") return {};
  return { http: { status: 429, headers: { "retry-after": String(e.details?.retryAfterSeconds ?? 1) } } };
}

type ArmorRejection = (ctx: unknown, error: GraphQLError) => void;

/**
 * Yoga's maskError, a plugin giving GraphQL's own errors their codes, the
 * onReject callback for graphql-armor, and a filter for yoga's own error log.
 * Yoga logs every error its maskError replaced: that would put each client
 * error (NOT_FOUND, a typo in a query…) in the error log, and log unexpected
 * ones twice, the second time without the request id. `isNewsToTheLog` lets
 * only what neither covers through.
 */
export function createErrorHandling(log: ErrorLogger) {
  // Errors answered to the client, or already logged: yoga's log skips them.
  const handled = new WeakSet<object>();
  // graphql-armor's rejections (depth, aliases, directives, cost, tokens).
  const armorRejections = new WeakSet<object>();
  const markArmorRejection: ArmorRejection = (_ctx, error) => void armorRejections.add(error);

  /** The code of a GraphQL error that carries none yet. */
  function codeFor(error: GraphQLErrorLike, phase: "parse" | "validate" | "execute"): ErrorCode {
    if (armorRejections.has(error)) return "QUERY_TOO_COMPLEX";
    if (phase === "parse") return "GRAPHQL_PARSE_FAILED";
    if (phase === "validate") return "GRAPHQL_VALIDATION_FAILED";
    // Yoga's refusals of the HTTP request itself (unreadable body, no query, a
    // mutation over GET…) say which status to answer with and, unlike
    // coercion errors, point at nothing in the document.
    if (error.extensions?.http && !error.nodes?.length && !error.positions?.length) return "BAD_REQUEST";
    return "BAD_USER_INPUT";
  }

  const maskError = (error: unknown, message: string): Error => {
    const original = goneInRace(unwrap(error));
    const graphQLError = isGraphQLError(error) ? error : undefined;
    if (typeof error === "object" && error) handled.add(error);
    if (isAppError(original)) {
      if (isOperatorError(original)) log("storage error in GraphQL operation", { err: original, requestId: currentRequestId() });
      return appErrorToGraphQL(original, graphQLError);
    }
    // GraphQL's own errors (syntax, validation, variable coercion) and Pothos'
    // argument checks are meant for the client. The outer error has the
    // location and, for coercion, the fuller message ("Variable "$x" got invalid value …").
    if (isGraphQLError(original) || isPothosValidationError(original)) {
      const shown = graphQLError ?? original;
      const code = codeOf(shown) ?? codeOf(original);
      return withCode(shown, (code as ErrorCode | undefined) ?? codeFor(original, "execute"));
    }
    const requestId = currentRequestId();
    log("unexpected error in GraphQL operation", { err: original, path: graphQLError?.path, requestId });
    return new GraphQLError(message, {
      nodes: graphQLError?.nodes,
      path: graphQLError?.path,
      extensions: { code: "INTERNAL_SERVER_ERROR", ...(requestId ? { requestId } : {}) },
    });
  };

  /** Codes for parse and validation errors, which yoga answers without calling maskError. */
  const useErrorCodes = (): Plugin => ({
    onParse:
      () =>
      ({ result, replaceParseResult }) => {
        if (isGraphQLError(result) && !codeOf(result)) replaceParseResult(withCode(result, codeFor(result, "parse")));
      },
    onValidate:
      () =>
      ({ valid, result, setResult }) => {
        if (!valid) setResult(result.map((e) => withCode(e, (codeOf(e) as ErrorCode | undefined) ?? codeFor(e, "validate"))));
      },
  });

  const isNewsToTheLog = (error: unknown) => !isAppError(unwrap(error)) && !(typeof error === "object" && error && handled.has(error));
  return { maskError, useErrorCodes, markArmorRejection, isNewsToTheLog };
}

/**
 * `plugin` with the errors its onRequestParse hook throws recoded as `code`
 * (yoga's CSRF prevention throws a GraphQLError without one). Its other hooks
 * are kept as they are.
 */
export function withRequestErrorCode<T extends Plugin>(plugin: T, code: ErrorCode): T {
  const onRequestParse = plugin.onRequestParse;
  if (!onRequestParse) return plugin;
  return {
    ...plugin,
    onRequestParse(payload) {
      try {
        return onRequestParse.call(plugin, payload);
      } catch (e) {
        throw isGraphQLError(e) ? withCode(e, code) : e;
      }
    },
  } as T;
}
