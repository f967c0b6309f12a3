// Liveness (/healthz: the process answers) and readiness (/readyz: the database
// and the blob store answer; 503 with the failing checks otherwise). /readyz is
// anonymous: a failing check says its code and a plain message, and what the
// driver said (connection strings, endpoints, buckets) goes to the log only.
import type { FastifyInstance } from "fastify";
import type { PrismaClient } from "../db/prisma.ts";
import type { Logger } from "../deps.ts";
import { clientView, errors, isAppError } from "../errors.ts";
import type { BlobStore } from "../storage/blob-store.ts";

type Check = { ok: boolean; code?: string; message?: string };

const DATABASE_DOWN: Check = { ok: false, code: "DATABASE_UNAVAILABLE", message: "The database is not reachable right now; try again later" };

export function registerHealthRoutes(app: FastifyInstance, deps: { prisma: PrismaClient; blobStore: BlobStore; logger: Logger }): void {
  const { logger } = deps;
  const notReady = (check: string, err: unknown) => logger.warn({ err, check }, `not ready: ${check} check failed`);
  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (_req, reply) => {
    const checks: Record<string, Check> = {};
    try {
      await deps.prisma.$queryRaw`SELECT 1`;
      checks.database = { ok: true };
    } catch (e) {
      notReady("database", e);
      checks.database = DATABASE_DOWN;
    }
    try {
      await deps.blobStore.checkReady();
      checks.storage = { ok: true };
    } catch (e) {
      notReady("storage", e);
      // Storage errors carry operator messages; clientView swaps them for plain ones.
      const { code, message } = clientView(isAppError(e) ? e : errors.storageUnavailable(e));
      checks.storage = { ok: false, code, message };
    }
    const ready = Object.values(checks).every((c) => c.ok);
    return reply.code(ready ? 200 : 503).send({ status: ready ? "ready" : "not ready", checks });
  });
}
