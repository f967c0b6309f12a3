// Liveness (/healthz: the process answers) and readiness (/readyz: the database
// and the blob store answer, and the event log's tail is connected; 503 with the
// failing checks otherwise). /readyz is
// anonymous: a failing check says its code and a plain message, and what the
// driver said (connection strings, endpoints, buckets) goes to the log only.
import type { FastifyInstance } from "fastify";
import type { PrismaClient } from "../db/prisma.ts";
import type { Logger } from "../deps.ts";
import { clientView, errors, isAppError } from "../errors.ts";
import type { EventTail } from "../events/event-tail.ts";
import type { BlobStore } from "../storage/blob-store.ts";

type Check = { ok: boolean; code?: string; message?: string };

// OpenAPI shapes (http/openapi.ts); both probes are public.
const CHECK_SCHEMA = {
  type: "object",
  properties: { ok: { type: "boolean" }, code: { type: "string" }, message: { type: "string" } },
  required: ["ok"],
} as const;
const READINESS_SCHEMA = {
  type: "object",
  properties: {
    status: { type: "string", enum: ["ready", "not ready"] },
    checks: {
      type: "object",
      properties: { database: CHECK_SCHEMA, storage: CHECK_SCHEMA, events: CHECK_SCHEMA },
      required: ["database", "storage", "events"],
    },
  },
  required: ["status", "checks"],
} as const;
const probe = { tags: ["health"], security: [] };

const DATABASE_DOWN: Check = { ok: false, code: "DATABASE_UNAVAILABLE", message: "The database is not reachable right now; try again later" };

export function registerHealthRoutes(
  app: FastifyInstance,
  deps: { prisma: PrismaClient; blobStore: BlobStore; logger: Logger; events: Pick<EventTail, "health"> },
): void {
  const { logger } = deps;
  const notReady = (check: string, err: unknown) => logger.warn({ err, check }, `not ready: ${check} check failed`);
  app.get(
    "/healthz",
    {
      schema: {
        ...probe,
        operationId: "getHealth",
        summary: "Liveness: the process answers",
        response: { 200: { description: "Alive", type: "object", properties: { status: { type: "string", enum: ["ok"] } }, required: ["status"] } },
      },
    },
    async () => ({ status: "ok" }),
  );
  app.get(
    "/readyz",
    {
      schema: {
        ...probe,
        operationId: "getReadiness",
        summary: "Readiness: the database and the blob store answer",
        response: {
          200: { ...READINESS_SCHEMA, description: "Ready: every check passed" },
          503: {
            ...READINESS_SCHEMA,
            description:
              "Not ready: `checks` names the failing part (code DATABASE_UNAVAILABLE, STORAGE_UNAVAILABLE, STORAGE_NOT_CONFIGURED or EVENTS_UNAVAILABLE) and why",
          },
        },
      },
    },
    async (_req, reply) => {
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
      // Live subscriptions pause while the event tail reconnects; they catch up from the log afterwards.
      checks.events = deps.events.health();
      const ready = Object.values(checks).every((c) => c.ok);
      return reply.code(ready ? 200 : 503).send({ status: ready ? "ready" : "not ready", checks });
    },
  );
}
