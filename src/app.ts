// buildApp(deps): one Fastify server composed of the http/ parts, in order:
// JSON error rendering, CORS, the OpenAPI document, health checks, the disk store's
// signed blob routes, the REST scope (/api/v1) with each module's routes,
// GraphQL over HTTP (/graphql, SSE subscriptions included) and graphql-ws on
// the same port and path.
import { randomUUID } from "node:crypto";
import Fastify, { type FastifyInstance } from "fastify";
import { createLiveAccess, watchRevocations } from "./access/live-access.ts";
import type { Deps } from "./deps.ts";
import { createYogaServer, registerGraphqlRoute } from "./http/graphql-http.ts";
import { registerCors } from "./http/cors.ts";
import { attachGraphqlWs } from "./http/graphql-ws.ts";
import { registerHealthRoutes } from "./http/health.ts";
import { registerOpenApi } from "./http/openapi.ts";
import { registerRestApi, renderErrors } from "./http/rest.ts";
import { registerAssetRoutes } from "./modules/asset/asset.routes.ts";
import { registerAttachmentRoutes } from "./modules/attachment/attachment.routes.ts";
import { registerSearchRoutes } from "./modules/search/search.routes.ts";
import { registerDiskBlobRoutes } from "./storage/disk/disk-blob.routes.ts";
import { DiskBlobStore } from "./storage/disk/disk-blob-store.ts";

export { CSRF_HEADERS } from "./http/graphql-http.ts";

export type App = {
  fastify: FastifyInstance;
  /** Listens and returns the bound port. */
  start(port?: number, host?: string): Promise<number>;
  stop(): Promise<void>;
};

/** How long stop() lets in-flight requests finish before cutting connections. */
const SHUTDOWN_GRACE_MS = 10_000;

export async function buildApp(deps: Deps): Promise<App> {
  const { config, prisma, blobStore, services } = deps;
  const fastify = Fastify({
    logger: config.log.level === "silent" ? false : { level: config.log.level },
    genReqId: () => `req_${randomUUID()}`,
    requestIdHeader: false,
    bodyLimit: 1024 * 1024,
    // Presigned URLs carry long query strings; a pathId is the base64 of a path of up to 4096 bytes.
    routerOptions: { maxParamLength: 8192 },
  });

  // Open WebSocket connections and SSE streams end when their token is revoked
  // or expires, whichever process made the change.
  const liveAccess = createLiveAccess();
  const revocations = watchRevocations(deps.events, liveAccess, { prisma });

  renderErrors(fastify);
  // Before routing: preflights of /graphql, /api/v1 and /blobs are answered by the hook itself.
  registerCors(fastify, { origins: config.http.corsOrigins });
  // Before any route: the OpenAPI document is collected from the routes as they are added.
  await registerOpenApi(fastify, { publicUrl: config.http.publicUrl });
  registerHealthRoutes(fastify, { prisma, blobStore, logger: deps.logger, events: deps.events });
  if (blobStore instanceof DiskBlobStore) {
    await registerDiskBlobRoutes(
      fastify,
      blobStore,
      { isAwaitingBytes: services.blobs.isAwaitingBytes, placeIfAwaiting: services.blobs.placeIfAwaitingBytes, completed: services.blobs.completeByKey },
      { readySha256: services.blobs.readySha256 },
    );
  }
  await registerRestApi(fastify, { prisma }, [
    (api) => registerAssetRoutes(api, { assets: services.assets, uploads: services.uploads, entries: services.entries, prisma }),
    (api) => registerAttachmentRoutes(api, { attachments: services.attachments, attachmentAdmin: services.attachmentAdmin }),
    (api) => registerSearchRoutes(api, { search: services.search, prisma }),
  ]);
  const yoga = createYogaServer(deps, liveAccess);
  await registerGraphqlRoute(fastify, yoga);
  const graphqlWs = attachGraphqlWs(fastify.server, yoga, { prisma, liveAccess });

  return {
    fastify,
    async start(port = config.http.port, host = config.http.host) {
      await fastify.listen({ port, host });
      const address = fastify.server.address();
      return typeof address === "object" && address ? address.port : port;
    },
    async stop() {
      await graphqlWs.dispose();
      await revocations.stop();
      liveAccess.close();
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
