// The README's first command on a fresh machine: no configuration at all. The
// server starts an embedded PostgreSQL under DATA_DIR, prints the first admin
// token once, serves GraphQL, and keeps everything across a restart. Also the
// CLI and CABINET_BOOTSTRAP_TOKEN, as operators use them.
import { mkdtemp, readdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../src/free-port.ts";
import { createTestDatabase } from "./harness.ts";
import { runCli, startServer, type Server } from "./support/processes.ts";

const graphql = async (url: string, token: string, query: string) => {
  const res = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query }),
  });
  return (await res.json()) as { data?: Record<string, any>; errors?: { extensions?: { code?: string } }[] };
};

describe("zero-configuration start (embedded PostgreSQL + local disk)", () => {
  let dataDir: string;
  let server: Server | undefined;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), "cabinet-start-"));
  });
  afterAll(async () => {
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("starts, prints the admin token once, serves GraphQL, and keeps data across restarts", async () => {
    const port = await freePort();
    server = await startServer({ DATA_DIR: dataDir }, port);
    const token = /\n {2}(cab_[0-9a-z]+)\n/.exec(server.stdout())?.[1];
    expect(token).toBeDefined();
    expect(server.stdout()).toContain(`http://localhost:${port}/graphql`);

    const created = await graphql(server.url, token!, `mutation { createSpace(input: { name: "Persisted" }) { id } }`);
    const spaceId = created.data?.createSpace.id as string;
    expect(spaceId).toMatch(/^spc_/);
    expect(await server.stop()).toBe(0);

    // CLI against the same data dir while the server is down: it starts (and stops) the cluster itself.
    const cli = await runCli(["create-token", "--admin"], { DATA_DIR: dataDir });
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(/^cab_[0-9a-z]+\n$/);

    server = await startServer({ DATA_DIR: dataDir }, port);
    expect(server.stdout()).not.toContain("Created the first organization-admin token");
    for (const t of [token!, cli.stdout.trim()]) {
      const again = await graphql(server.url, t, `{ space(id: "${spaceId}") { name } }`);
      expect(again.data?.space).toEqual({ name: "Persisted" });
    }

    // CLI while the server runs joins its cluster.
    const concurrent = await runCli(["create-token", "--admin"], { DATA_DIR: dataDir });
    expect(concurrent.stdout).toMatch(/^cab_[0-9a-z]+\n$/);
    expect((await graphql(server.url, concurrent.stdout.trim(), "{ viewer { isOrgAdmin } }")).data?.viewer).toEqual({ isOrgAdmin: true });
    expect(await server.stop()).toBe(0);
    server = undefined;
  });
});

describe("with DATABASE_URL and CABINET_BOOTSTRAP_TOKEN", () => {
  it("uses the given database (no embedded cluster) and makes the bootstrap token the first admin token", async () => {
    const db = await createTestDatabase({ empty: true });
    const dataDir = await mkdtemp(path.join(os.tmpdir(), "cabinet-start-"));
    const bootstrap = "my-chosen-bootstrap-token-123";
    const server = await startServer({ DATA_DIR: dataDir, DATABASE_URL: db.url, CABINET_BOOTSTRAP_TOKEN: bootstrap }, await freePort());
    try {
      expect(server.stdout()).not.toContain("embedded PostgreSQL");
      expect(server.stdout()).not.toContain("Created the first organization-admin token");
      const me = await graphql(server.url, bootstrap, "{ viewer { isOrgAdmin } }");
      expect(me.data?.viewer).toEqual({ isOrgAdmin: true });
      expect(await readdir(dataDir)).not.toContain("postgres");
    } finally {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
      await db.drop();
    }
  });

  it("refuses invalid configuration with a clear message", async () => {
    const res = await runCli(["usage"], { PORT: "not-a-port" });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain("PORT");
  });
});
