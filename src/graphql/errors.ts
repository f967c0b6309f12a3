// Yoga's maskError: AppErrors keep their message and become extensions.code;
// GraphQL's own errors (syntax, validation) pass through untouched; anything
// else is logged with the request id and masked.
import { GraphQLError } from "graphql";
import { clientView, isAppError, isOperatorError, type AppError } from "../errors.ts";
import { currentRequestId } from "../request-context.ts";

export type ErrorLogger = (message: string, fields: Record<string, unknown>) => void;

// graphql ships CJS and ESM builds; libraries may hold the other one, so
// GraphQLErrors are recognised by shape, not with instanceof.
type GraphQLErrorLike = GraphQLError & { originalError?: unknown };
const isGraphQLError = (e: unknown): e is GraphQLErrorLike => e instanceof Error && e.name === "GraphQLError" && "extensions" in e;

function unwrap(error: unknown): unknown {
  let current = error;
  // Yoga and graphql-js wrap resolver errors; the AppError may sit several levels down.
  for (let i = 0; i < 5 && isGraphQLError(current) && current.originalError; i++) current = current.originalError;
  return current;
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
    extensions: { code, ...(details ? { details } : {}) },
  });
}

/**
 * Yoga's maskError, plus a filter for yoga's own error log. Yoga logs every
 * error its maskError replaced: that would put each client error (NOT_FOUND…)
 * in the error log, and log unexpected ones twice, the second time without the
 * request id. `isNewsToTheLog` lets only what neither covers through.
 */
export function createErrorHandling(log: ErrorLogger) {
  const alreadyLogged = new WeakSet<object>();
  const maskError = (error: unknown, message: string): Error => {
    const original = unwrap(error);
    const graphQLError = isGraphQLError(error) ? error : undefined;
    if (isAppError(original)) {
      if (isOperatorError(original)) log("storage error in GraphQL operation", { err: original, requestId: currentRequestId() });
      return appErrorToGraphQL(original, graphQLError);
    }
    // GraphQL's own errors (syntax, validation, variable coercion) are meant for the client.
    if (isGraphQLError(original)) return original;
    const requestId = currentRequestId();
    log("unexpected error in GraphQL operation", { err: original, path: graphQLError?.path, requestId });
    if (typeof error === "object" && error) alreadyLogged.add(error);
    return new GraphQLError(message, {
      nodes: graphQLError?.nodes,
      path: graphQLError?.path,
      extensions: { code: "INTERNAL_SERVER_ERROR", ...(requestId ? { requestId } : {}) },
    });
  };
  const isNewsToTheLog = (error: unknown) => !isAppError(unwrap(error)) && !(typeof error === "object" && error && alreadyLogged.has(error));
  return { maskError, isNewsToTheLog };
}
