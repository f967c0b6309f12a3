// Prisma client factory (Prisma 7: driver adapter over node-postgres). Pool and
// connection errors (the database restarting) are reported, not thrown at the process.
// Every query's arguments are checked for NUL first (refuseNul).
import { PrismaPg } from "@prisma/adapter-pg";
import { errors } from "../errors.ts";
import { PrismaClient } from "../generated/prisma/client.ts";
import { holdsNul } from "../validation/text.ts";

export type { PrismaClient };
export type Db = PrismaClient;
/** What a service receives inside `prisma.$transaction(async (tx) => …)`. */
export type Tx = Parameters<Parameters<PrismaClient["$transaction"]>[0]>[0];

export type PrismaOptions = {
  /** Called with every SQL statement (tests count them to catch N+1s). */
  onQuery?: (sql: string) => void;
  onPoolError?: (error: Error) => void;
  maxConnections?: number;
};

export function createPrisma(databaseUrl: string, options: PrismaOptions = {}): PrismaClient {
  const onError = (e: Error) => options.onPoolError?.(e);
  const adapter = new PrismaPg({ connectionString: databaseUrl, max: options.maxConnections ?? 10 }, { onPoolError: onError, onConnectionError: onError });
  if (!options.onQuery) return refuseNul(new PrismaClient({ adapter }));
  const client = new PrismaClient({ adapter, log: [{ emit: "event", level: "query" }] });
  client.$on("query", (e) => options.onQuery!(e.query));
  return refuseNul(client);
}

/**
 * Postgres text and jsonb cannot hold U+0000, so a query carrying one fails in
 * the database with an error that says nothing to the client. Whatever the
 * route (an id, a name, JSON meta, a cursor, a raw query's parameter), it is
 * refused here as BAD_USER_INPUT before it is sent. The extended client keeps
 * PrismaClient's API; only query hooks are added.
 */
function refuseNul(client: PrismaClient): PrismaClient {
  return client.$extends({
    query: {
      $allOperations({ args, query }) {
        if (holdsNul(args)) throw errors.badInput("Text cannot contain NUL (U+0000) characters");
        return query(args);
      },
    },
  }) as unknown as PrismaClient;
}
