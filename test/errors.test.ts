// One error model at every edge: AppError codes in GraphQL extensions and in
// REST bodies with matching statuses; unexpected errors masked and logged with
// the request id.
import { Writable } from "node:stream";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError, ERROR_STATUS, type ErrorCode, toRestError } from "../src/errors.ts";
import { DiskBlobStore } from "../src/storage/disk/disk-blob-store.ts";
import { AssetAtPathDocument } from "./generated/graphql.ts";
import { buildTestApp, type TestApp } from "./harness.ts";
import { uploadAsset } from "./support/upload.ts";

const logLines: Record<string, unknown>[] = [];
const logger = pino(
  { level: "error" },
  new Writable({
    write: (chunk, _enc, done) => {
      logLines.push(JSON.parse(String(chunk)));
      done();
    },
  }),
);

/** A disk store whose presigning fails like a bug would: with a plain Error. */
class BrokenPresignStore extends DiskBlobStore {
  override async presignGet(): Promise<string> {
    throw new Error("boom: internal detail that must not reach clients");
  }
}

let t: TestApp;
let w: Awaited<ReturnType<TestApp["factories"]["world"]>>;
beforeAll(async () => {
  t = await buildTestApp({
    logger,
    blobStore: ({ publicUrl, signingSecret, dataDir }) => new BrokenPresignStore({ root: `${dataDir}/blobs`, publicUrl, signingSecret }),
  });
  w = await t.factories.world();
  const up = await uploadAsset(t.graphqlUrl, { token: w.adminToken, spaceId: w.space.id, path: "a.txt", body: "a" });
  expect(up.errors).toBeUndefined();
});
afterAll(() => t?.close());

describe("GraphQL", () => {
  it("masks unexpected errors and logs them with the request id", async () => {
    const res = await t.gql(AssetAtPathDocument, { spaceId: w.space.id, path: "a.txt" }, w.adminToken);
    const error = res.errors![0]!;
    expect(error.message).toBe("Unexpected error.");
    expect(JSON.stringify(res)).not.toContain("boom");
    expect(error.extensions!.code).toBe("INTERNAL_SERVER_ERROR");
    const requestId = error.extensions!.requestId as string;
    expect(requestId).toMatch(/^req_/);
    const logged = logLines.find((l) => l.requestId === requestId);
    expect(logged).toBeDefined();
    expect(JSON.stringify(logged)).toContain("boom: internal detail");
  });

  it("passes syntax and validation errors through to the client", async () => {
    const res = await t.gql("{ viewer { noSuchField } }", {}, w.adminToken);
    expect(res.errors![0]!.message).toContain("noSuchField");
  });
});

describe("REST", () => {
  it("renders every AppError code with its status and the same code", () => {
    for (const [code, status] of Object.entries(ERROR_STATUS) as [ErrorCode, number][]) {
      const rendered = toRestError(new AppError(code, `msg ${code}`, { some: "detail" }));
      expect(rendered.status).toBe(status);
      expect(rendered.body.error.code).toBe(code);
      if (code.startsWith("STORAGE_")) {
        // The operator's message and details stay out of client answers.
        expect(rendered.body.error).toEqual({ code, message: expect.stringMatching(/^File storage is not/) });
      } else {
        expect(rendered.body.error).toEqual({ code, message: `msg ${code}`, details: { some: "detail" } });
      }
    }
  });

  it("answers unknown routes with a JSON NOT_FOUND", async () => {
    const res = await fetch(`${t.url}/api/v1/nope`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: "NOT_FOUND", message: "No such route" } });
  });

  it("answers a badly signed blob URL with 403 FORBIDDEN", async () => {
    const res = await fetch(`${t.url}/blobs/abcdefghijklmnopqrst?X-Cabinet-Method=GET&X-Cabinet-Expires=9999999999&X-Cabinet-Signature=nope`);
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("FORBIDDEN");
  });

  it("serves liveness and readiness", async () => {
    expect(await (await fetch(`${t.url}/healthz`)).json()).toEqual({ status: "ok" });
    const ready = await fetch(`${t.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: "ready", checks: { database: { ok: true }, storage: { ok: true } } });
  });
});
