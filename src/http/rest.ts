// The shared REST scope under /api/v1 and the JSON error rendering.
// Each module's *.routes.ts only adds its routes to the scope; what every REST
// route shares lives here: authentication (the request's viewer), the body
// parsers and the error rendering. The OpenAPI document (and the error schema
// routes declare their answers with) is http/openapi.ts's.
import multipart from "@fastify/multipart";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { authenticate, bearerToken, requireViewer, type Viewer } from "../access/viewer.ts";
import type { PrismaClient } from "../db/prisma.ts";
import { type ErrorCode, goneInRace, isAppError, isOperatorError, toRestError } from "../errors.ts";
import { assertJsonDepth } from "../validation/json.ts";

declare module "fastify" {
  interface FastifyRequest {
    viewer: Viewer | null;
  }
}

/** The authenticated viewer of a request on the REST scope (its preHandler guarantees one). */
export const viewerOf = (req: FastifyRequest): Viewer => requireViewer(req.viewer);

// ---------------------------------------------------------------------------
// Errors: `{ error: { code, message } }` with the code's status

export { ERROR_SCHEMA, errorResponses } from "./openapi.ts";

function errorBody(code: ErrorCode, message: string, requestId?: string) {
  return { error: { code, message, ...(requestId ? { requestId } : {}) } };
}

/**
 * Renders every error as JSON with a code. Installed on the root instance, not
 * only on the REST scope: the disk store's blob routes, the health checks and
 * Fastify's own refusals on /graphql (body too large, malformed JSON) answer
 * through it too. Unexpected errors are logged and masked, with the request id.
 */
export function renderErrors(app: FastifyInstance): void {
  app.setErrorHandler((raised, req, reply) => {
    const error = goneInRace(raised) as typeof raised;
    if (isAppError(error)) {
      if (isOperatorError(error)) req.log.error({ err: error }, "storage error");
      // The client hung up: nothing for the operator to do, but worth a line.
      else if (error.code === "UPLOAD_INTERRUPTED")
        req.log.info({ cause: String((error.cause as Error | undefined)?.message ?? error.cause) }, "upload interrupted by the client");
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
  app.setNotFoundHandler((_req, reply) => reply.code(404).send(errorBody("NOT_FOUND", "No such route")));
}

// ---------------------------------------------------------------------------
// The scope

/** A module's REST routes, added to the authenticated /api/v1 scope. */
export type RestRoutes = (api: FastifyInstance) => Promise<void>;

export async function registerRestApi(app: FastifyInstance, deps: { prisma: PrismaClient }, modules: RestRoutes[]): Promise<void> {
  await app.register(
    async (api) => {
      await api.register(async (authed) => {
        // Uploads stream: multipart parts and raw bodies go to the blob store as they
        // arrive. Only JSON is parsed; Fastify's other built-in parsers (text/plain…)
        // would swallow a raw upload's body.
        authed.removeAllContentTypeParsers();
        const parseJson = authed.getDefaultJsonParser("error", "error");
        authed.addContentTypeParser("application/json", { parseAs: "string" }, (req, body, done) =>
          parseJson(req, body as string, (err, value) => {
            if (err) return done(err);
            try {
              assertJsonDepth(value, "The JSON body");
            } catch (e) {
              return done(e as Error);
            }
            done(null, value);
          }),
        );
        authed.addContentTypeParser("*", (_req, _payload, done) => done(null));
        await authed.register(multipart, { limits: { files: 1, fields: 20, fileSize: Number.MAX_SAFE_INTEGER } });
        authed.decorateRequest("viewer", null);
        authed.addHook("preHandler", async (req) => {
          req.viewer = requireViewer(await authenticate(deps.prisma, bearerToken(req.headers.authorization)));
        });
        for (const routes of modules) await authed.register(routes);
      });
    },
    { prefix: "/api/v1" },
  );
}
