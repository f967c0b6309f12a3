// Liveness (/healthz: the process answers) and readiness (/readyz: the database
// and the blob store answer, and the event log's tail is connected; 503 with
// the failing checks otherwise).
import type { FastifyInstance } from "fastify";
import type { PrismaClient } from "../db/prisma.ts";
import { isAppError } from "../errors.ts";
import type { EventTail } from "../events/event-tail.ts";
import type { BlobStore } from "../storage/blob-store.ts";

type Check = { ok: boolean; code?: string; message?: string };

export function registerHealthRoutes(app: FastifyInstance, deps: { prisma: PrismaClient; blobStore: BlobStore; events: Pick<EventTail, "health"> }): void {
  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (_req, reply) => {
    const checks: Record<string, Check> = {};
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
    // Live subscriptions pause while the tail reconnects; they catch up from the log afterwards.
    checks.events = deps.events.health();
    const ready = Object.values(checks).every((c) => c.ok);
    return reply.code(ready ? 200 : 503).send({ status: ready ? "ready" : "not ready", checks });
  });
}
