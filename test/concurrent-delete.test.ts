// A request that reads a row again after its change (a mutation's answer, the
// file of an upload or completion) may find it deleted by a concurrent request
// in between. The client then gets NOT_FOUND, as if the delete had come first,
// never a 500 (the REST fuzz test found a completion racing a delete answering
// 500 now and then).
import { Writable } from "node:stream";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DiskBlobStore } from "../src/storage/disk/disk-blob-store.ts";
import { AssetAtPathDocument } from "./generated/graphql.ts";
import { buildTestApp, type TestApp } from "./harness.ts";

const errorLines: Record<string, unknown>[] = [];
const logger = pino(
  { level: "error" },
  new Writable({
    write: (chunk, _enc, done) => {
      errorLines.push(JSON.parse(String(chunk)));
      done();
    },
  }),
);

let t: TestApp;
let w: Awaited<ReturnType<TestApp["factories"]["world"]>>;
const b64 = (s: string) => Buffer.from(s).toString("base64url");

/** A store whose presigning meets what a concurrent delete leaves: Prisma's own "record not found" (P2025). */
class RowGoneStore extends DiskBlobStore {
  override async presignGet(key: string, options: Parameters<DiskBlobStore["presignGet"]>[1]): Promise<string> {
    if (options.fileName?.startsWith("gone")) await t.deps.prisma.entry.findUniqueOrThrow({ where: { id: "ent_deleted_meanwhile" } });
    return super.presignGet(key, options);
  }
}

beforeAll(async () => {
  t = await buildTestApp({
    logger,
    blobStore: ({ publicUrl, signingSecret, dataDir }) => new RowGoneStore({ root: `${dataDir}/blobs`, publicUrl, signingSecret }),
  });
  w = await t.factories.world();
});
afterAll(() => t?.close());

const storage = (path: string, suffix = "") => `${t.url}/api/v1/space/${w.space.id}/storage/${b64(path)}${suffix}`;
const auth = () => ({ authorization: `Bearer ${w.adminToken}` });

async function put(path: string) {
  const res = await fetch(storage(path, "/upload"), { method: "POST", headers: { ...auth(), "content-type": "text/plain" }, body: "hello" });
  expect(res.status).toBe(200);
}

describe("a row deleted between a request's change and its answer", () => {
  it("P2025 at the boundary: NOT_FOUND in GraphQL and REST, and no error-level log line", async () => {
    await put("gone.txt");
    const res = await t.gql(AssetAtPathDocument, { spaceId: w.space.id, path: "gone.txt" }, w.adminToken);
    expect(res.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    const rest = await fetch(storage("gone.txt"), { headers: { ...auth(), accept: "application/json" } });
    expect(rest.status).toBe(404);
    expect(((await rest.json()) as { error: { code: string } }).error.code).toBe("NOT_FOUND");
    expect(errorLines).toEqual([]);
  });

  it("a completion racing a delete of the same file answers 200 or 404, never a 500", async () => {
    const statuses = new Set<number>();
    for (let i = 0; i < 40; i++) {
      const path = `race/${i}.txt`;
      await put(path);
      const [completed, deleted] = await Promise.all([
        fetch(storage(path, "/complete"), { method: "POST", headers: auth() }),
        fetch(storage(path), { method: "DELETE", headers: auth() }),
      ]);
      expect([200, 404]).toContain(completed.status);
      expect(deleted.status).toBe(200);
      statuses.add(completed.status);
    }
    expect(errorLines).toEqual([]);
  });
});
