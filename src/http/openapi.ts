// The OpenAPI 3 document of every HTTP route that is not GraphQL: the REST
// scope, the health checks and the disk store's blob routes. @fastify/swagger
// builds it from the route schemas, so it is registered on the root instance
// before any route. Route schemas describe what they really answer: their own
// 2xx/3xx responses and only the error codes they can produce
// (errorResponses). The documentation-only key `documentation` carries what
// must not reach Fastify's validation or serialization: request bodies a
// handler parses itself (the five upload forms), parameters a handler checks
// itself (a signed URL's query answers 403, not a validation 400) and binary,
// empty or streamed responses. It is merged into the schema for the document only.
import swagger from "@fastify/swagger";
import type { FastifyInstance, FastifyRequest, FastifySchema } from "fastify";
import { ERROR_STATUS, type ErrorCode } from "../errors.ts";

type OpenApiObject = object;
type MediaTypes = Record<string, { schema: OpenApiObject; example?: unknown; examples?: OpenApiObject }>;

/** A response only the document shows (Fastify does not serialize with it). */
export type DocumentedResponse = { description: string; headers?: Record<string, OpenApiObject>; content?: MediaTypes };

declare module "fastify" {
  interface FastifySchema {
    /** Shown in the OpenAPI document, never used to validate or serialize. */
    documentation?: {
      /** The request body (`{ description?, content: { <media type>: { schema } } }`). */
      body?: { description?: string; content: MediaTypes };
      /** JSON schemas of parameters, like Fastify's own `querystring`/`params`/`headers`. */
      querystring?: OpenApiObject;
      params?: OpenApiObject;
      headers?: OpenApiObject;
      /** Responses in addition to `response`, by status. */
      response?: Record<number, DocumentedResponse>;
    };
  }
}

// ---------------------------------------------------------------------------
// Errors: `{ error: { code, message, details? } }` with the code's status

export const ERROR_SCHEMA = {
  type: "object",
  properties: {
    error: {
      type: "object",
      properties: { code: { type: "string" }, message: { type: "string" }, details: { type: "object", additionalProperties: true } },
      required: ["code", "message"],
    },
  },
  required: ["error"],
} as const;

/** What each code means to a client, for the response descriptions. */
const MEANING: Record<ErrorCode, string> = {
  BAD_USER_INPUT: "a parameter or the body is malformed",
  INVALID_PATH: "the pathId is not the base64 of a valid path",
  INVALID_DATA_URL: "the data: URL cannot be decoded",
  UNAUTHENTICATED: "no valid bearer token",
  FORBIDDEN: "the token lacks the permission, or the signed URL is expired or altered",
  URL_FORBIDDEN: "the import URL is not http(s) or leads to a private, loopback or link-local address",
  NOT_FOUND: "the space or the path does not exist, or is not visible to this token",
  ALREADY_EXISTS: "an entry with that name already exists",
  PATH_IS_DIRECTORY: "the path is a folder",
  PATH_IS_FILE: "the path, or a folder on the way to it, is a file",
  UPLOAD_INCOMPLETE: "the two-stage upload's bytes have not arrived, or differ from the declared ones",
  BAD_REQUEST: "the request is not a GraphQL request this server can read",
  GRAPHQL_PARSE_FAILED: "the GraphQL document does not parse",
  GRAPHQL_VALIDATION_FAILED: "the GraphQL document is not valid against the schema",
  QUERY_TOO_COMPLEX: "the query is deeper, has more aliases, directives or tokens than allowed",
  UPLOAD_INTERRUPTED: "the client stopped sending the upload before it ended",
  CSRF_HEADER_MISSING: "a request a browser could forge lacks a CSRF header",
  UPLOAD_CLOSED: "the upload URL's upload already received its bytes (or is gone); nothing was changed",
  CURSOR_EXPIRED: "the subscription cursor is older than the retained event log",
  QUOTA_BELOW_USAGE: "the new quota is below the bytes already used and reserved",
  LAST_ADMIN: "the organization's last enabled admin cannot be disabled or deleted",
  LIMITS_REACHED: "the file is larger than the file-size limit or what is left of the quota",
  UNSUPPORTED_MEDIA_TYPE: "the bytes contradict the declared Content-Type",
  URL_FETCH_FAILED: "the import URL answered with an error or timed out",
  STORAGE_NOT_CONFIGURED: "the blob store refuses this server's configuration",
  STORAGE_UNAVAILABLE: "the blob store is not reachable; retry later",
  INTERNAL_SERVER_ERROR: "unexpected error (logged with the request id)",
  ROOM_IS_DIRECT: "a DM room's participants are fixed",
  MESSAGE_NOT_STREAMING: "the message is not streaming (any more)",
  MESSAGE_DELETED: "the message was deleted",
  RATE_LIMITED: "too many posts by this account in the current window; retry after details.retryAfterSeconds",
};

/**
 * The error responses of a route: one entry per status its codes map to, each
 * with the error schema (its `code` enumerated) and a description naming the
 * codes, e.g. `409: "PATH_IS_DIRECTORY: the path is a folder. PATH_IS_FILE: …"`.
 */
export function errorResponses(...codes: ErrorCode[]) {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) byStatus.set(ERROR_STATUS[code], [...(byStatus.get(ERROR_STATUS[code]) ?? []), code]);
  return Object.fromEntries(
    [...byStatus].map(([status, list]) => [
      status,
      {
        ...ERROR_SCHEMA,
        description: list.map((c) => `${c}: ${MEANING[c]}.`).join(" "),
        properties: {
          error: { ...ERROR_SCHEMA.properties.error, properties: { ...ERROR_SCHEMA.properties.error.properties, code: { type: "string", enum: list } } },
        },
      },
    ]),
  );
}

/** Every route of the authenticated REST scope can answer these. */
export const AUTHENTICATED_ERRORS: ErrorCode[] = ["UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND"];

// ---------------------------------------------------------------------------
// The document

const TAGS = [
  { name: "storage", description: "Space storage: files and folders addressed by the base64 of their path (the Space Storage document)." },
  { name: "search", description: "Full-text search over a space's names and extracted text." },
  { name: "blobs", description: "The local-disk store's presigned URLs (only when no S3 store is configured). Signed by the server; no bearer token." },
  { name: "health", description: "Liveness and readiness probes." },
];

/** Merges the `documentation` key into the schema @fastify/swagger reads. */
function documentedSchema(schema: FastifySchema | undefined): FastifySchema | undefined {
  if (!schema?.documentation) return schema;
  const { documentation, ...rest } = schema;
  const response = { ...(rest.response as object | undefined), ...documentation.response };
  return { ...rest, ...documentation, response };
}

/**
 * A HEAD route a document lists (route config `swagger: { exposeHeadRoute: true }`)
 * gets "-head" appended to its operationId by @fastify/swagger, because it
 * expects Fastify's implicit HEAD twin of a GET; an explicit HEAD route keeps its own.
 */
function headOperation(method: string | string[], schema: FastifySchema | undefined) {
  const operationId = (schema as { operationId?: string } | undefined)?.operationId;
  if (method !== "HEAD" || !operationId) return schema;
  return { ...schema, operationId: operationId.replace(/-head$/, "") };
}

/**
 * The server URL clients should use: PUBLIC_URL when set, else the origin the
 * request reached, else "/" (relative to wherever the document was fetched).
 */
function serverUrl(publicUrl: string | undefined, req: FastifyRequest): string {
  if (publicUrl) return publicUrl;
  const host = req.headers.host;
  return host ? `${req.protocol}://${host}` : "/";
}

export const OPENAPI_PATH = "/api/v1/openapi.json";

/** Registers the document generator (before any route) and serves the document, public, at OPENAPI_PATH. */
export async function registerOpenApi(app: FastifyInstance, options: { publicUrl?: string }): Promise<void> {
  await app.register(swagger, {
    openapi: {
      info: {
        title: "Cabinet REST API",
        version: "1",
        description: "Space storage compatibility routes, the local-disk store's blob URLs and health checks. GraphQL at /graphql is the full API.",
      },
      tags: TAGS,
      components: { securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "An API token: `Authorization: Bearer cab_…`" } } },
      security: [{ bearer: [] }],
    },
    hideUntagged: true,
    transform: ({ schema, url, route }) => ({ schema: headOperation(route.method, documentedSchema(schema)) as never, url }),
  });
  app.get(OPENAPI_PATH, { schema: { hide: true } }, async (req) => ({
    ...app.swagger(),
    servers: [{ url: serverUrl(options.publicUrl, req) }],
  }));
}
