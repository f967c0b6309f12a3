// Yoga's maskError: AppErrors keep their message and become extensions.code;
// GraphQL's own errors (syntax, validation) pass through as BAD_USER_INPUT-ish
// GraphQLErrors; anything else is logged with the request id and masked.
import { GraphQLError } from "graphql";
import { isAppError, type AppError } from "../errors.ts";
import { currentRequestId } from "../request-context.ts";

export type ErrorLogger = (message: string, fields: Record<string, unknown>) => void;

function unwrap(error: unknown): unknown {
  let current = error;
  // Yoga and graphql-js wrap resolver errors; the AppError may sit several levels down.
  for (let i = 0; i < 5 && current instanceof GraphQLError && current.originalError; i++) current = current.originalError;
  return current;
}

export function appErrorToGraphQL(e: AppError, source?: GraphQLError): GraphQLError {
  return new GraphQLError(e.message, {
    nodes: source?.nodes,
    source: source?.source,
    positions: source?.positions,
    path: source?.path,
    originalError: e,
    extensions: { code: e.code, ...(e.details ? { details: e.details } : {}) },
  });
}

export function createMaskError(log: ErrorLogger) {
  return (error: unknown, message: string): Error => {
    const original = unwrap(error);
    const graphQLError = error instanceof GraphQLError ? error : undefined;
    if (isAppError(original)) return appErrorToGraphQL(original, graphQLError);
    if (original instanceof GraphQLError && !original.originalError) return original;
    if (graphQLError && !graphQLError.originalError) return graphQLError;
    const requestId = currentRequestId();
    log("unexpected error in GraphQL operation", { err: original, path: graphQLError?.path, requestId });
    return new GraphQLError(message, {
      nodes: graphQLError?.nodes,
      path: graphQLError?.path,
      extensions: { code: "INTERNAL_SERVER_ERROR", ...(requestId ? { requestId } : {}) },
    });
  };
}
