// graphql-ws on the HTTP server's port and path (/graphql), sharing yoga's
// schema, plugins and context through its envelope. A connection with a token
// is tracked by live access, so it is closed when the token is revoked or
// expires. (A shrunk grant ends the affected subscriptions only: space-events.ts.)
import type { Server } from "node:http";
import { GraphQLError, type DocumentNode, type ExecutionArgs } from "graphql";
import { useServer } from "graphql-ws/use/ws";
import { WebSocketServer } from "ws";
import { SOCKET_MANAGED, type LiveAccess } from "../access/live-access.ts";
import { authenticate, bearerToken } from "../access/viewer.ts";
import type { PrismaClient } from "../db/prisma.ts";
import { isAppError } from "../errors.ts";
import { authorizationOf, type Yoga } from "./graphql-http.ts";

export type GraphqlWs = {
  /** Closes every connection (1001 "Going away") and the WebSocket server. */
  dispose(): Promise<void>;
};

type EnvelopedArgs = ExecutionArgs & { rootValue: { execute: (a: ExecutionArgs) => unknown; subscribe: (a: ExecutionArgs) => unknown } };
type ConnectionState = { untrack: () => void };

/**
 * A GraphQLError for graphql-ws's `error` message. Anything else is a fault, not
 * the client's: rethrown, it closes the socket (4500) as before. graphql-ws checks
 * with instanceof, so an error from another copy of graphql is rebuilt (decision 15).
 */
function asOperationError(e: unknown): GraphQLError {
  if (e instanceof GraphQLError) return e;
  if (!(e instanceof Error) || e.name !== "GraphQLError") throw e;
  const { nodes, source, positions, path, extensions } = e as GraphQLError;
  return new GraphQLError(e.message, { nodes, source, positions, path, extensions });
}

/**
 * The Authorization header an operation carries in `extensions.headers`. GraphiQL
 * (yoga's, through @graphql-tools/url-loader) sends no connectionParams: it puts
 * its headers panel there, in every subscribe message. The name is matched
 * case-insensitively; the value is checked like an HTTP Authorization header.
 */
export function operationAuthorization(extensions: Record<string, unknown> | null | undefined): string | undefined {
  const headers = extensions?.headers;
  if (!headers || typeof headers !== "object") return undefined;
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() === "authorization" && typeof value === "string" && value.trim()) return value;
  }
  return undefined;
}

export function attachGraphqlWs(server: Server, yoga: Yoga, deps: { prisma: PrismaClient; liveAccess: LiveAccess }): GraphqlWs {
  const { prisma, liveAccess } = deps;
  const wsServer = new WebSocketServer({ noServer: true });
  server.on("upgrade", (req, socket, head) => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    if (path !== "/graphql") return socket.destroy();
    wsServer.handleUpgrade(req, socket, head, (ws) => wsServer.emit("connection", ws, req));
  });
  const disposable = useServer<Record<string, unknown>, ConnectionState>(
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
        let viewer: Awaited<ReturnType<typeof authenticate>>;
        try {
          viewer = await authenticate(prisma, bearerToken(authorization));
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
        const authorization = operationAuthorization(params.extensions);
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params,
          connectionParams: ctx.connectionParams,
          authorization,
          // Revocation closes the whole socket (onConnect), not each operation's stream; an
          // operation with its own token is tracked on its own, like an SSE stream.
          [SOCKET_MANAGED]: !authorization,
        });
        // A bad document is this operation's error, not the connection's: graphql-ws
        // closes the socket (4500) when onSubscribe throws, ending sibling operations,
        // and parse and validate throw for syntax errors and armor's limits.
        let document: DocumentNode;
        try {
          document = parse(params.query);
          const validationErrors = validate(schema, document);
          if (validationErrors.length) return validationErrors.map(asOperationError);
        } catch (e) {
          return [asOperationError(e)];
        }
        const args = {
          schema,
          operationName: params.operationName,
          document,
          variableValues: params.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe },
        };
        return args as ExecutionArgs;
      },
    },
    wsServer,
  );
  return {
    async dispose() {
      await disposable.dispose();
      wsServer.close();
    },
  };
}
