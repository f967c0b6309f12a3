// GraphQL over HTTP: the yoga server (schema, armor limits, our cost limit, CSRF prevention,
// error masking, bundled GraphiQL, per-request context) and the /graphql route.
// SSE subscriptions are yoga's own; graphql-ws (graphql-ws.ts) shares this yoga.
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { EnvelopArmorPlugin } from "@escape.tech/graphql-armor";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { GraphQLError } from "graphql";
import { processRequest } from "graphql-upload-minimal";
import { createYoga } from "graphql-yoga";
import { useEndStreamsOnRevocation, type LiveAccess } from "../access/live-access.ts";
import type { Deps } from "../deps.ts";
import { createContext } from "../graphql/context.ts";
import { createErrorHandling, withRequestErrorCode } from "../graphql/errors.ts";
import { useQueryCostLimit } from "../graphql/query-cost.ts";
import { schema } from "../graphql/schema.ts";
import { runWithRequestId } from "../request-context.ts";
import { lacksCsrfProof, useCsrfPrevention } from "./csrf.ts";
import { serveGraphiQL, wantsGraphiQL } from "./graphiql.ts";

export { CSRF_HEADERS } from "./csrf.ts";

/** What yoga is handed per request: the Fastify exchange over HTTP, the upgrade request over graphql-ws. */
export type ServerContext = {
  req: FastifyRequest | IncomingMessage;
  reply?: FastifyReply;
  connectionParams?: Record<string, unknown>;
  /** A graphql-ws operation's own credentials (its `extensions.headers`, as GraphiQL sends them); they win. */
  authorization?: string;
};

export type Yoga = ReturnType<typeof createYogaServer>;

/** Bearer credentials: a graphql-ws operation's own, connectionParams (graphql-ws) or the HTTP Authorization header. */
export function authorizationOf(ctx: ServerContext): string | undefined {
  if (ctx.authorization) return ctx.authorization;
  const params = ctx.connectionParams;
  if (params) {
    const value = params.authorization ?? params.Authorization;
    if (typeof value === "string") return value;
    if (typeof params.token === "string") return `Bearer ${params.token}`;
  }
  const header = ctx.req.headers.authorization;
  return typeof header === "string" ? header : undefined;
}

type ArmorConfig = NonNullable<Parameters<typeof EnvelopArmorPlugin>[0]>;
type ArmorLimit = "maxDepth" | "maxAliases" | "maxDirectives" | "costLimit" | "maxTokens";

/** `config` with `onReject` on every limit, so its rejections get the QUERY_TOO_COMPLEX code. */
function withArmorRejections(onReject: (ctx: unknown, error: GraphQLError) => void, config: ArmorConfig): ArmorConfig {
  const limits: ArmorLimit[] = ["maxDepth", "maxAliases", "maxDirectives", "costLimit", "maxTokens"];
  return { ...config, ...Object.fromEntries(limits.map((limit) => [limit, { ...config[limit], onReject: [...(config[limit]?.onReject ?? []), onReject] }])) };
}

export function createYogaServer(deps: Deps, liveAccess: LiveAccess) {
  const { logger } = deps;
  const errorHandling = createErrorHandling((msg, fields) => logger.error(fields, msg));
  return createYoga<ServerContext>({
    schema,
    graphqlEndpoint: "/graphql",
    // GraphiQL (bundled from npm rather than loaded from a CDN: self-hosted installs may be
    // offline) is served by the route below, compressed (graphiql.ts).
    graphiql: false,
    landingPage: false,
    // CORS is http/cors.ts's, for every route family alike: yoga's default reflects any Origin.
    cors: false,
    // Multipart is handled by graphql-upload-minimal below: yoga's own buffers whole files.
    multipart: false,
    // Yoga would compare the multipart request's Content-Length with 25 MB and refuse
    // large uploads. JSON bodies are capped by Fastify's bodyLimit; uploads are
    // metered against the organization's limits while they stream.
    maxRequestBodySize: false,
    logging: {
      debug: () => {},
      info: (...a) => logger.info({ args: a }, "yoga"),
      warn: (...a) => logger.warn({ args: a }, "yoga"),
      error: (...a) => (a.some(errorHandling.isNewsToTheLog) ? logger.error({ args: a }, "yoga") : undefined),
    },
    maskedErrors: { maskError: errorHandling.maskError },
    context: (ctx) =>
      createContext(deps, {
        authorization: authorizationOf(ctx),
        requestId: "id" in ctx.req && typeof ctx.req.id === "string" ? ctx.req.id : `ws_${randomUUID()}`,
      }),
    plugins: [
      EnvelopArmorPlugin(
        withArmorRejections(errorHandling.markArmorRejection, {
          maxDepth: { n: 16 },
          maxAliases: { n: 15, allowList: [] },
          maxDirectives: { n: 5 },
          // Armor's cost limit cannot multiply by arguments held in variables: ours replaces it.
          costLimit: { enabled: false },
          maxTokens: { n: 5_000 },
        }),
      ),
      errorHandling.useErrorCodes(),
      useQueryCostLimit(),
      withRequestErrorCode(useCsrfPrevention(), "CSRF_HEADER_MISSING"),
      useEndStreamsOnRevocation(liveAccess),
    ],
  });
}

/** The header of graphql-sse's single connection mode (its reserved stream's token). */
const SSE_STREAM_TOKEN_HEADER = "x-graphql-event-stream-token";

export const SINGLE_CONNECTION_REFUSAL =
  "graphql-sse single connection mode is not supported: use its distinct connections mode (singleConnection: false, the default) or graphql-ws";

/**
 * graphql-sse's single connection mode reserves a stream (PUT), opens it (GET
 * with the token) and sends operations to it (POST, DELETE): the stream lives in
 * one process's memory, so behind several API processes the requests of one
 * client would have to reach the same process, and reservations by anyone
 * would pile up. It is refused, with the reason in the status line too, since
 * the client reports only that (decision 46).
 */
function refuseSingleConnection(req: FastifyRequest, reply: FastifyReply) {
  const isMethod = req.method === "PUT" || req.method === "DELETE";
  reply.raw.statusMessage = "Single connection mode is not supported";
  if (isMethod) reply.header("Allow", "GET, POST, OPTIONS");
  return reply.code(isMethod ? 405 : 400).send({ errors: [{ message: SINGLE_CONNECTION_REFUSAL, extensions: { code: "BAD_REQUEST" } }] });
}

/**
 * /graphql over HTTP. Multipart bodies are parsed by graphql-upload-minimal,
 * which hands yoga the operations with streaming Upload promises.
 */
export async function registerGraphqlRoute(app: FastifyInstance, yoga: Yoga): Promise<void> {
  await app.register(async (scope) => {
    scope.addContentTypeParser("multipart/form-data", (_req, _payload, done) => done(null));
    scope.route({
      url: "/graphql",
      // PUT and DELETE only to refuse graphql-sse's single connection mode clearly.
      method: ["GET", "POST", "OPTIONS", "PUT", "DELETE"],
      handler: async (req, reply) =>
        runWithRequestId(req.id, async () => {
          if (req.method === "PUT" || req.method === "DELETE" || req.headers[SSE_STREAM_TOKEN_HEADER]) return refuseSingleConnection(req, reply);
          if (wantsGraphiQL(req)) return serveGraphiQL(req, reply);
          if (req.headers["content-type"]?.startsWith("multipart/form-data")) {
            // CSRF check first: a multipart form is a "simple request" a browser can forge.
            if (lacksCsrfProof((name) => req.headers[name] as string | undefined)) {
              // The same code as yoga's refusal of a GET without one.
              return reply.code(403).send({
                errors: [
                  {
                    message: "Multipart requests need an Authorization: Bearer header or a CSRF header (e.g. x-graphql-yoga-csrf)",
                    extensions: { code: "CSRF_HEADER_MISSING" },
                  },
                ],
              });
            }
            try {
              req.body = await processRequest(req.raw, reply.raw, { maxFiles: 10 });
            } catch (e) {
              const status = (e as { status?: number }).status ?? 400;
              return reply
                .code(status)
                .send({ errors: [{ message: (e as Error).message, extensions: { code: status === 413 ? "LIMITS_REACHED" : "BAD_USER_INPUT" } }] });
            }
          }
          const response = await yoga.handleNodeRequestAndResponse(req, reply, { req, reply });
          response.headers.forEach((value, key) => void reply.header(key, value));
          reply.status(response.status);
          return reply.send(response.body);
        }),
    });
  });
}
