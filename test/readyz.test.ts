// /readyz tells anonymous callers a code and a plain message per failing check;
// what the drivers said (Prisma's connection text, the S3 endpoint) goes to the
// log only. Real parts: a Prisma client and an S3 store aimed at ports nobody
// listens on, the health routes on a real Fastify instance, pino writing JSON lines.
import Fastify, { type FastifyInstance } from "fastify";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPrisma, type PrismaClient } from "../src/db/prisma.ts";
import { freePort } from "../src/free-port.ts";
import { registerHealthRoutes } from "../src/http/health.ts";
import { S3BlobStore } from "../src/storage/s3/s3-blob-store.ts";

describe("/readyz with the database and the blob store down", () => {
  let app: FastifyInstance;
  let prisma: PrismaClient;
  let store: S3BlobStore;
  let dbPort: number;
  let s3Port: number;
  const logLines: string[] = [];
  beforeAll(async () => {
    dbPort = await freePort();
    s3Port = await freePort();
    prisma = createPrisma(`postgresql://cabinet:secret@127.0.0.1:${dbPort}/cabinet`);
    store = new S3BlobStore({
      bucket: "files",
      endpoint: `http://127.0.0.1:${s3Port}`,
      region: "us-east-1",
      accessKeyId: "k",
      secretAccessKey: "s",
      forcePathStyle: true,
    });
    const logger = pino({ level: "info" }, { write: (line: string) => void logLines.push(line) });
    app = Fastify();
    registerHealthRoutes(app, {
      prisma,
      blobStore: store,
      logger, // The event tail is not under test here (test/events-restart.test.ts covers it): a connected one.
      events: { health: () => ({ ok: true }) },
    });
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    store?.client.destroy();
    await prisma?.$disconnect();
  });

  it("answers 503 with a code and a plain message per check, and no driver text", async () => {
    const res = await app.inject({ method: "GET", url: "/readyz" });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({
      status: "not ready",
      checks: {
        database: { ok: false, code: "DATABASE_UNAVAILABLE", message: "The database is not reachable right now; try again later" },
        storage: { ok: false, code: "STORAGE_UNAVAILABLE", message: "File storage is not reachable right now; try again later" },
        events: { ok: true },
      },
    });
    expect(res.body).not.toMatch(new RegExp(`127\\.0\\.0\\.1|${dbPort}|${s3Port}|ECONNREFUSED|cabinet:`));
  });

  it("logs what the drivers said, for the operator", async () => {
    logLines.length = 0;
    await app.inject({ method: "GET", url: "/readyz" });
    const records = logLines.map((l) => JSON.parse(l) as { msg: string; check?: string; err?: { message: string } });
    const database = records.find((r) => r.check === "database");
    const storage = records.find((r) => r.check === "storage");
    expect(database?.msg).toMatch(/not ready/);
    expect(database?.err?.message).toMatch(/ECONNREFUSED|127\.0\.0\.1|connect/i);
    expect(storage?.err?.message).toMatch(new RegExp(`S3 at http://127\\.0\\.0\\.1:${s3Port} is not reachable \\(ECONNREFUSED\\)`));
  });
});
