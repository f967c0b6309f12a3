// Prisma client factory (Prisma 7: driver adapter over node-postgres). Pool and
// connection errors (the database restarting) are reported, not thrown at the process.
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "../generated/prisma/client.ts";

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
  if (!options.onQuery) return new PrismaClient({ adapter });
  const client = new PrismaClient({ adapter, log: [{ emit: "event", level: "query" }] });
  client.$on("query", (e) => options.onQuery!(e.query));
  return client;
}
