// buildApp(deps): Fastify hosting GraphQL (yoga, /graphql, GraphiQL on),
// graphql-ws on the same port and path, SSE subscriptions (yoga's own), the
// disk store's signed blob routes, health checks and REST error rendering.
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { EnvelopArmorPlugin } from "@escape.tech/graphql-armor";
import { useCSRFPrevention } from "@graphql-yoga/plugin-csrf-prevention";
import { renderGraphiQL } from "@graphql-yoga/render-graphiql";
import swagger from "@fastify/swagger";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { ExecutionArgs } from "graphql";
import { processRequest } from "graphql-upload-minimal";
import { useServer } from "graphql-ws/use/ws";
import { createYoga } from "graphql-yoga";
import { WebSocketServer } from "ws";
import { createLiveAccess, SOCKET_MANAGED, useEndStreamsOnRevocation, watchRevocations } from "./access/live-access.ts";
import { authenticate, bearerToken } from "./access/viewer.ts";
import { type ErrorCode, isAppError, isOperatorError, toRestError } from "./errors.ts";
import type { Deps } from "./deps.ts";
import { createContext } from "./graphql/context.ts";
import { createErrorHandling } from "./graphql/errors.ts";
import { registerAssetRoutes } from "./modules/asset/asset.routes.ts";
import { schema } from "./graphql/schema.ts";
import { runWithRequestId } from "./request-context.ts";
import { registerDiskBlobRoutes } from "./storage/disk/disk-blob.routes.ts";
import { DiskBlobStore } from "./storage/disk/disk-blob-store.ts";

/** Headers that prove a request is not a browser "simple request" (CSRF). */
export const CSRF_HEADERS = ["x-graphql-yoga-csrf", "apollo-require-preflight", "graphql-preflight"];

export type App = {
  fastify: FastifyInstance;
  /** Listens and returns the bound port. */
  start(port?: number, host?: string): Promise<number>;
  stop(): Promise<void>;
};

type ServerContext = { req: FastifyRequest | IncomingMessage; reply?: FastifyReply; connectionParams?: Record<string, unknown> };

/** Bearer credentials from connectionParams (graphql-ws) or the HTTP Authorization header. */
function authorizationOf(ctx: ServerContext): string | undefined {
  const params = ctx.connectionParams;
  if (params) {
    const value = params.authorization ?? params.Authorization;
    if (typeof value === "string") return value;
    if (typeof params.token === "string") return `Bearer ${params.token}`;
  }
  const header = ctx.req.headers.authorization;
  return typeof header === "string" ? header : undefined;
}

function errorBody(code: ErrorCode, message: string, requestId?: string) {
  return { error: { code, message, ...(requestId ? { requestId } : {}) } };
}

/** How long stop() lets in-flight requests finish before cutting connections. */
const SHUTDOWN_GRACE_MS = 10_000;
export async function buildApp(deps: Deps): Promise<App> {
  const { config, logger } = deps;
  const fastify = Fastify({
    logger: config.log.level === "silent" ? false : { level: config.log.level },
    genReqId: () => `req_${randomUUID()}`,
    requestIdHeader: false,
    bodyLimit: 1024 * 1024,
    // Presigned URLs carry long query strings.
    // Presigned URLs carry long query strings; a pathId is the base64 of a path of up to 4096 bytes.
    routerOptions: { maxParamLength: 8192 },
  });

  // Open WebSocket connections and SSE streams end when their token is revoked
  // or expires, or their grants shrink, whichever process made the change.
  const liveAccess = createLiveAccess();
  const revocations = watchRevocations(deps.pubsub, liveAccess, (msg, err) => logger.error({ err }, msg));

  const errorHandling = createErrorHandling((msg, fields) => logger.error(fields, msg));
  const yoga = createYoga<ServerContext>({
    schema,
    graphqlEndpoint: "/graphql",
    graphiql: { title: "Cabinet", subscriptionsProtocol: "WS" },
    // GraphiQL bundled from npm rather than loaded from a CDN: self-hosted installs may be offline.
    renderGraphiQL,
    landingPage: false,
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
      EnvelopArmorPlugin({
        maxDepth: { n: 16 },
        maxAliases: { n: 15, allowList: [] },
        maxDirectives: { n: 5 },
        costLimit: { maxCost: 10_000 },
        maxTokens: { n: 5_000 },
      }),
      useCSRFPrevention({ requestHeaders: CSRF_HEADERS }),
      useEndStreamsOnRevocation(liveAccess),
    ],
  });

  fastify.setErrorHandler((error, req, reply) => {
    if (isAppError(error)) {
      if (isOperatorError(error)) req.log.error({ err: error }, "storage error");
      const { status, body } = toRestError(error);
      return reply.code(status).send(body);
    }
    const e = error as { statusCode?: number; validation?: unknown; message: string; code?: string };
    if (e.validation) return reply.code(400).send(errorBody("BAD_USER_INPUT", e.message));
    const status = e.statusCode ?? 500;
    if (status === 413) return reply.code(413).send(errorBody("LIMITS_REACHED", e.message));
    if (status === 415) return reply.code(415).send(errorBody("UNSUPPORTED_MEDIA_TYPE", e.message));
    if (status >= 400 && status < 500) return reply.code(status).send(errorBody("BAD_USER_INPUT", e.message));
    req.log.error({ err: error }, "unexpected error");
    return reply.code(500).send(errorBody("INTERNAL_SERVER_ERROR", "Unexpected error.", req.id));
  });
  fastify.setNotFoundHandler((_req, reply) => reply.code(404).send(errorBody("NOT_FOUND", "No such route")));

  // The OpenAPI document is generated from the REST routes' schemas (registered below).
  await fastify.register(swagger, {
    openapi: {
      info: { title: "Cabinet REST API", version: "1", description: "Space storage compatibility routes. GraphQL at /graphql is the full API." },
      components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
      security: [{ bearer: [] }],
    },
    hideUntagged: true,
  });
  fastify.get("/api/v1/openapi.json", { schema: { hide: true } }, async () => fastify.swagger());

  fastify.get("/healthz", async () => ({ status: "ok" }));
  fastify.get("/readyz", async (_req, reply) => {
    const checks: Record<string, { ok: boolean; code?: string; message?: string }> = {};
    try {
      await deps.prisma.$queryRaw`SELECT 1`;
      checks.database = { ok: true };
    } catch (e) {
      checks.database = { ok: false, code: "DATABASE_UNAVAILABLE", message: (e as Error).message };
    }
    try {
      await deps.blobStore.checkReady();
      checks.storage = { ok: true };
    } catch (e) {
      checks.storage = isAppError(e)
        ? { ok: false, code: e.code, message: e.message }
        : { ok: false, code: "STORAGE_UNAVAILABLE", message: (e as Error).message };
    }
    const ready = Object.values(checks).every((c) => c.ok);
    return reply.code(ready ? 200 : 503).send({ status: ready ? "ready" : "not ready", checks });
  });

  if (deps.blobStore instanceof DiskBlobStore) {
    const uploads = deps.services.uploads;
    await registerDiskBlobRoutes(fastify, deps.blobStore, { isAwaitingBytes: uploads.isAwaitingBytes, completed: uploads.completeByKey });
  }

  await registerAssetRoutes(fastify, deps);

  // GraphQL over HTTP. Multipart bodies are parsed by graphql-upload-minimal,
  // which hands yoga the operations with streaming Upload promises.
  await fastify.register(async (scope) => {
    scope.addContentTypeParser("multipart/form-data", (_req, _payload, done) => done(null));
    scope.route({
      url: "/graphql",
      method: ["GET", "POST", "OPTIONS"],
      handler: async (req, reply) =>
        runWithRequestId(req.id, async () => {
          if (req.headers["content-type"]?.startsWith("multipart/form-data")) {
            // CSRF check first: a multipart form is a "simple request" a browser can forge.
            if (!CSRF_HEADERS.some((h) => req.headers[h])) {
              return reply.code(400).send({ errors: [{ message: "Multipart requests need a CSRF header (e.g. x-graphql-yoga-csrf)", extensions: { code: "BAD_USER_INPUT" } }] });
            }
            try {
              req.body = await processRequest(req.raw, reply.raw, { maxFiles: 10 });
            } catch (e) {
              const status = (e as { status?: number }).status ?? 400;
              return reply.code(status).send({ errors: [{ message: (e as Error).message, extensions: { code: status === 413 ? "LIMITS_REACHED" : "BAD_USER_INPUT" } }] });
            }
          }
          const response = await yoga.handleNodeRequestAndResponse(req, reply, { req, reply });
          response.headers.forEach((value, key) => void reply.header(key, value));
          reply.status(response.status);
          return reply.send(response.body);
        }),
    });
  });

  // graphql-ws on the same port and path, sharing yoga's schema, plugins and context.
  const wsServer = new WebSocketServer({ noServer: true });
  fastify.server.on("upgrade", (req, socket, head) => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    if (path !== "/graphql") return socket.destroy();
    wsServer.handleUpgrade(req, socket, head, (ws) => wsServer.emit("connection", ws, req));
  });
  type EnvelopedArgs = ExecutionArgs & { rootValue: { execute: (a: ExecutionArgs) => unknown; subscribe: (a: ExecutionArgs) => unknown } };
  type ConnectionState = { untrack: () => void };
  const wsDisposable = useServer<Record<string, unknown>, ConnectionState>(
    {
      // A token is checked once per connection here, so the connection can be
      // closed when it is revoked or expires (4403 / 4401). Without a token the
      // connection is accepted and each subscription answers UNAUTHENTICATED, as
      // over HTTP. An invalid token is refused (graphql-ws closes with 4403).
      // Each subscription still authenticates again with current grants (context.ts).
      onConnect: async (ctx) => {
        const authorization = authorizationOf({ req: ctx.extra.request, connectionParams: ctx.connectionParams });
        if (!authorization) return true;
        const since = liveAccess.checkpoint();
        let viewer;
        try {
          viewer = await authenticate(deps.prisma, bearerToken(authorization));
        } catch (e) {
          if (isAppError(e)) return false; // malformed, unknown, revoked or expired
          throw e;
        }
        if (!viewer) return false;
        ctx.extra.untrack = liveAccess.track(viewer, since, ({ code, reason }) => ctx.extra.socket.close(code, reason));
        return true;
      },
      onClose: (ctx) => ctx.extra.untrack?.(),
      execute: (args) => (args as EnvelopedArgs).rootValue.execute(args) as never,
      subscribe: (args) => (args as EnvelopedArgs).rootValue.subscribe(args) as never,
      onSubscribe: async (ctx, _id, params) => {
        const { schema: s, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params,
          connectionParams: ctx.connectionParams,
          // Revocation closes the whole socket (onConnect), not each operation's stream.
          [SOCKET_MANAGED]: true,
        });
        const args = {
          schema: s,
          operationName: params.operationName,
          document: parse(params.query),
          variableValues: params.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe },
        };
        const validationErrors = validate(args.schema, args.document);
        return validationErrors.length ? validationErrors : (args as ExecutionArgs);
      },
    },
    wsServer,
  );

  return {
    fastify,
    async start(port = config.http.port, host = config.http.host) {
      await fastify.listen({ port, host });
      const address = fastify.server.address();
      return typeof address === "object" && address ? address.port : port;
    },
    async stop() {
      await wsDisposable.dispose();
      await revocations.stop();
      liveAccess.close();
      wsServer.close();
      // close() ends the connections idle at that moment; a response still being
      // sent leaves a keep-alive socket that turns idle afterwards and would be
      // kept for the keep-alive timeout (72 s). Sweep those while in-flight
      // requests finish, and cut whatever is left after the grace period.
      const sweep = setInterval(() => fastify.server.closeIdleConnections(), 50);
      const force = setTimeout(() => fastify.server.closeAllConnections(), SHUTDOWN_GRACE_MS);
      try {
        await fastify.close();
      } finally {
        clearInterval(sweep);
        clearTimeout(force);
      }
    },
  };
}

