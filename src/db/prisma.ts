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

export const DEFAULT_POOL_SIZE = 10;

/**
 * Requests beyond the pool queue for a connection; they must not fail.
 * Prisma's defaults (wait 2 s for a connection, then P2028 "Unable to start a
 * transaction in the given time"; run 5 s at most) turned a burst of small
 * uploads into HTTP 500s. Plain queries already wait in node-postgres's queue
 * without a limit; a transaction now waits as long, up to `maxWait`, and may
 * run for `timeout` (a large folder delete takes seconds). Both stay finite,
 * so a wedged database still ends in an error, not a request that hangs
 * (decision 32).
 */
export const TRANSACTION_OPTIONS = { maxWait: 30_000, timeout: 30_000 } as const;

export function createPrisma(databaseUrl: string, options: PrismaOptions = {}): PrismaClient {
  const onError = (e: Error) => options.onPoolError?.(e);
  const adapter = new PrismaPg(
    { connectionString: databaseUrl, max: options.maxConnections ?? DEFAULT_POOL_SIZE },
    { onPoolError: onError, onConnectionError: onError },
  );
  const transactionOptions = { ...TRANSACTION_OPTIONS };
  if (!options.onQuery) return refuseNul(new PrismaClient({ adapter, transactionOptions }));
  const client = new PrismaClient({ adapter, transactionOptions, log: [{ emit: "event", level: "query" }] });
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
