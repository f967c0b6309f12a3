// CORS for the three route families a web app on another origin uses: /graphql,
// the REST routes under /api/v1 and the disk store's signed /blobs routes.
// Only the exact origins of CORS_ORIGINS are allowed (none by default): their
// preflights are answered here, before routing, and their requests get
// Access-Control-Allow-Origin with that origin. Any other origin gets no CORS
// header at all, and its preflight a 403. No Access-Control-Allow-Credentials:
// cross-origin callers authenticate with an Authorization header (a signed URL
// for /blobs), never with cookies, so a page elsewhere can never ride on a
// session the browser holds. Decision 46.
import type { FastifyInstance, FastifyRequest } from "fastify";

type Family = { methods: string };

/** The route family of a path, or null for routes CORS does not apply to (health checks, GraphiQL's page is /graphql too). */
function familyOf(url: string): Family | null {
  const path = url.split("?", 1)[0]!;
  if (path === "/graphql" || path === "/graphql/") return { methods: "GET, POST" };
  if (path.startsWith("/api/v1/")) return { methods: "GET, POST, DELETE" };
  if (path.startsWith("/blobs/")) return { methods: "GET, HEAD, PUT" };
  return null;
}

/** Response headers a cross-origin caller may read beyond the CORS-safelisted ones. */
export const EXPOSED_HEADERS = "ETag, Content-Length, Content-Disposition, Content-Range, Accept-Ranges, Last-Modified, Location";

/** How long a browser may cache a preflight answer (seconds). */
export const PREFLIGHT_MAX_AGE = 600;

// Header names as RFC 9110 tokens, comma-separated: what a browser puts in Access-Control-Request-Headers.
const HEADER_LIST = /^\s*[!#$%&'*+.^_`|~0-9A-Za-z-]+(\s*,\s*[!#$%&'*+.^_`|~0-9A-Za-z-]+)*\s*$/;

const isPreflight = (req: FastifyRequest) => req.method === "OPTIONS" && typeof req.headers["access-control-request-method"] === "string";

export function registerCors(app: FastifyInstance, options: { origins: readonly string[] }): void {
  const allowed = new Set(options.origins);
  app.addHook("onRequest", async (req, reply) => {
    const family = familyOf(req.url);
    if (!family) return;
    const origin = req.headers.origin;
    const ok = typeof origin === "string" && allowed.has(origin);
    if (isPreflight(req)) {
      reply.header("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
      if (!ok) {
        return reply.code(403).send({ error: { code: "FORBIDDEN", message: `Origin ${origin ?? "(none)"} is not allowed (CORS_ORIGINS)` } });
      }
      const requested = req.headers["access-control-request-headers"];
      reply.code(204).header("Access-Control-Allow-Origin", origin).header("Access-Control-Allow-Methods", family.methods);
      // Any header the page asks for: the origin is trusted, and headers grant nothing by themselves.
      if (typeof requested === "string" && HEADER_LIST.test(requested)) reply.header("Access-Control-Allow-Headers", requested.trim());
      reply.header("Access-Control-Max-Age", String(PREFLIGHT_MAX_AGE));
      return reply.send();
    }
    if (!allowed.size) return;
    reply.header("Vary", "Origin");
    if (ok) reply.header("Access-Control-Allow-Origin", origin).header("Access-Control-Expose-Headers", EXPOSED_HEADERS);
  });
}
