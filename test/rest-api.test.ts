// The REST compatibility routes of the Space Storage document, over real HTTP:
// every documented example (with real ids for space_abc123), then a battery of
// bad input. Same services, rules and codes as GraphQL.
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CreateAssetUploadDocument } from "./generated/graphql.ts";
import { buildTestApp, errorCode, type TestApp } from "./harness.ts";
import { uploadAsset } from "./support/upload.ts";

// A minimal valid PNG (signature, IHDR, IDAT, IEND): file-type recognizes it.
const PNG = Buffer.from(
  "89504e470d0a1a0a0000000d4948445200000001000000010806000000" + "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082",
  "hex",
);
const execFileP = promisify(execFile);
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const b64 = (path: string) => Buffer.from(path).toString("base64");

let t: TestApp;
let w: Awaited<ReturnType<TestApp["factories"]["world"]>>;
let source: http.Server;
let sourceUrl: string;

beforeAll(async () => {
  // The import source: an allow-listed host (127.0.0.2) that tests may fetch from.
  source = http.createServer((req, res) => {
    if (req.url === "/images/profile.png") return res.writeHead(200, { "content-type": "image/png" }).end(PNG);
    if (req.url === "/to-loopback") return res.writeHead(302, { location: "http://127.0.0.1:1/secret" }).end();
    if (req.url === "/to-metadata") return res.writeHead(302, { location: "http://169.254.169.254/latest/meta-data/" }).end();
    res.writeHead(404).end("missing");
  });
  await new Promise<void>((r) => source.listen(0, "127.0.0.2", r));
  sourceUrl = `http://127.0.0.2:${(source.address() as AddressInfo).port}`;
  t = await buildTestApp({ env: { IMPORT_ALLOW_HOSTS: "127.0.0.2" } });
  w = await t.factories.world({ maxFileSizeBytes: 2_000_000n, quotaBytes: 50_000_000n });
});
afterAll(async () => {
  await t?.close();
  await new Promise((r) => source?.close(r));
});

const base = () => `${t.url}/api/v1/space/${w.space.id}/storage`;
const auth = (token = w.adminToken) => ({ authorization: `Bearer ${token}` });
type FileJson = {
  id: string;
  kind: string;
  name: string;
  path: string;
  mimeType: string | null;
  size: number;
  sha256: string | null;
  createdAt: string;
  updatedAt: string;
};
type ErrorJson = { error: { code: string; message: string } };
async function json<T>(res: Response): Promise<T> {
  return (await res.json()) as T;
}
const postJson = (pathId: string, body: unknown, token?: string) =>
  fetch(`${base()}/${pathId}/upload`, { method: "POST", headers: { ...auth(token), "content-type": "application/json" }, body: JSON.stringify(body) });

describe("the documented examples", () => {
  it("direct binary upload with its Content-Type", async () => {
    const res = await fetch(`${base()}/${b64("photos/profile.png")}/upload`, {
      method: "POST",
      headers: { ...auth(), "content-type": "image/png" },
      body: PNG,
    });
    expect(res.status).toBe(200);
    const file = await json<FileJson>(res);
    expect(file).toMatchObject({ kind: "FILE", name: "profile.png", path: "photos/profile.png", mimeType: "image/png", size: PNG.length, sha256: sha256(PNG) });
    expect(file.id).toMatch(/^ent_/);
    expect(Date.parse(file.createdAt)).not.toBeNaN();
    expect(Date.parse(file.updatedAt)).not.toBeNaN();
  });

  it("multipart form upload with a field named file (the seed's pathId cGhvdG9zL3Byb2ZpbGUucG5n)", async () => {
    expect(b64("photos/profile.png")).toBe("cGhvdG9zL3Byb2ZpbGUucG5n");
    const form = new FormData();
    form.set("file", new Blob([new Uint8Array(PNG)], { type: "image/png" }), "profile.png");
    const res = await fetch(`${base()}/cGhvdG9zL3Byb2ZpbGUucG5n/upload`, { method: "POST", headers: auth(), body: form });
    expect(res.status).toBe(200);
    expect(await json<FileJson>(res)).toMatchObject({ path: "photos/profile.png", mimeType: "image/png", size: PNG.length });
  });

  it("upload via an HTTP URL", async () => {
    const res = await postJson(b64("imported/profile.png"), { file: `${sourceUrl}/images/profile.png` });
    expect(res.status).toBe(200);
    expect(await json<FileJson>(res)).toMatchObject({ path: "imported/profile.png", mimeType: "image/png", size: PNG.length, sha256: sha256(PNG) });
  });

  it("upload via a data URL", async () => {
    const res = await postJson(b64("inline/dot.png"), { file: `data:image/png;base64,${PNG.toString("base64")}` });
    expect(res.status).toBe(200);
    expect(await json<FileJson>(res)).toMatchObject({ path: "inline/dot.png", mimeType: "image/png", sha256: sha256(PNG) });
  });

  it("two-stage upload for large files: uploadRequest, then the bytes to its URL", async () => {
    const pathId = b64("photos/large.bin");
    const res = await postJson(pathId, { file: { type: "application/octet-stream", size: 1_024_000, meta: { description: "User profile photo" } } });
    expect(res.status).toBe(200);
    const body = await json<{
      id: string;
      pathId: string;
      assetId: string;
      path: string;
      uploadRequest: { method: string; url: string; headers: Record<string, string> };
    }>(res);
    // `id` is the file's id like every other REST answer; the seed's pathId is its own field.
    expect(body).toMatchObject({
      pathId,
      path: "photos/large.bin",
      uploadRequest: { method: "PUT", headers: { "Content-Type": "application/octet-stream", "Content-Length": "1024000" } },
    });
    expect(body.id).toMatch(/^ent_/);
    expect(body.assetId).toBe(body.id);
    const bytes = randomBytes(1_024_000);
    const put = await fetch(body.uploadRequest.url, { method: "PUT", headers: { "Content-Type": "application/octet-stream" }, body: bytes });
    expect(put.status).toBe(200);
    const meta = await fetch(`${base()}/${pathId}`, { headers: { ...auth(), accept: "application/json" } });
    const { url } = await json<{ url: string }>(meta);
    expect(sha256(Buffer.from(await (await fetch(url)).arrayBuffer()))).toBe(sha256(bytes));
  });

  it("accepts the standard and the URL-safe alphabet, with or without padding", async () => {
    const path = "docs/ü?>~.txt"; // base64 of this has both + and / in the standard alphabet
    const standard = Buffer.from(path).toString("base64");
    expect(standard).toMatch(/[+/]/);
    const res = await fetch(`${base()}/${encodeURIComponent(standard)}/upload`, {
      method: "POST",
      headers: { ...auth(), "content-type": "text/plain" },
      body: "hello",
    });
    expect(await json<FileJson>(res)).toMatchObject({ path });
    const variants = [standard, standard.replace(/=+$/, ""), Buffer.from(path).toString("base64url"), `${Buffer.from(path).toString("base64url")}=`];
    for (const v of variants) {
      const got = await fetch(`${base()}/${encodeURIComponent(v)}`, { headers: { ...auth(), accept: "application/json" } });
      expect(got.status, v).toBe(200);
    }
    // Even a raw "/" of the standard alphabet in the URL path.
    const raw = await fetch(`${base()}/${standard}`, { headers: { ...auth(), accept: "application/json" } });
    expect(raw.status).toBe(200);
  });
});

describe("download, list, delete", () => {
  it("GET answers 302 to a presigned URL, or { url, expiresAt } for JSON clients", async () => {
    const pathId = b64("photos/profile.png");
    const redirect = await fetch(`${base()}/${pathId}`, { headers: auth(), redirect: "manual" });
    expect(redirect.status).toBe(302);
    const location = redirect.headers.get("location")!;
    expect(Buffer.from(await (await fetch(location)).arrayBuffer()).equals(PNG)).toBe(true);
    const asJson = await json<{ url: string; expiresAt: string }>(
      await fetch(`${base()}/${pathId}?expiresIn=60`, { headers: { ...auth(), accept: "application/json" } }),
    );
    expect(Math.abs(Date.parse(asJson.expiresAt) - (Date.now() + 60_000))).toBeLessThan(5_000);
  });

  it("lists the root and a folder, folders first, paged", async () => {
    const root = await json<{ path: string; items: FileJson[] }>(await fetch(base(), { headers: auth() }));
    expect(root.path).toBe("");
    expect(root.items.map((i) => i.name)).toEqual(expect.arrayContaining(["photos", "imported", "inline"]));
    expect(root.items.every((i) => i.kind === "FOLDER")).toBe(true);
    const photos = await json<{ path: string; items: FileJson[]; nextCursor: string | null }>(
      await fetch(`${base()}?path=photos&first=1`, { headers: auth() }),
    );
    expect(photos).toMatchObject({ path: "photos", items: [{ name: "large.bin", path: "photos/large.bin" }] });
    const next = await json<{ items: FileJson[]; nextCursor: string | null }>(
      await fetch(`${base()}?path=photos&first=1&after=${photos.nextCursor}`, { headers: auth() }),
    );
    expect(next.items.map((i) => i.name)).toEqual(["profile.png"]);
  });

  it("DELETE removes a file, and a folder with everything in it", async () => {
    const del = await fetch(`${base()}/${b64("inline/dot.png")}`, { method: "DELETE", headers: auth() });
    expect(await json<{ deletedFiles: number }>(del)).toMatchObject({ path: "inline/dot.png", deletedFiles: 1 });
    const folder = await fetch(`${base()}/${b64("imported")}`, { method: "DELETE", headers: auth() });
    expect(await json<{ deletedFiles: number }>(folder)).toMatchObject({ deletedFiles: 1 });
    expect((await fetch(`${base()}/${b64("imported/profile.png")}`, { headers: auth(), redirect: "manual" })).status).toBe(404);
  });

  it("keeps overwrite and directory rules: same id on overwrite, 409 PATH_IS_DIRECTORY onto a folder", async () => {
    const pathId = b64("rules/a.txt");
    const up = (body: string) => fetch(`${base()}/${pathId}/upload`, { method: "POST", headers: { ...auth(), "content-type": "text/plain" }, body });
    const first = await json<FileJson>(await up("one"));
    const second = await json<FileJson>(await up("two!"));
    expect(second).toMatchObject({ id: first.id, size: 4 });
    const onFolder = await fetch(`${base()}/${b64("rules")}/upload`, { method: "POST", headers: { ...auth(), "content-type": "text/plain" }, body: "x" });
    expect(onFolder.status).toBe(409);
    expect((await json<ErrorJson>(onFolder)).error.code).toBe("PATH_IS_DIRECTORY");
  });
});

describe("auth and errors like GraphQL's", () => {
  it("401 without a token, 404 for another space, 403 without the permission", async () => {
    const pathId = b64("photos/profile.png");
    const anon = await fetch(`${base()}/${pathId}`, { redirect: "manual" });
    expect(anon.status).toBe(401);
    expect(await json<ErrorJson>(anon)).toMatchObject({ error: { code: "UNAUTHENTICATED" } });
    const other = await t.factories.space(w.org.id);
    const outsider = await t.factories.member(w.org.id, other.id, ["assets:read", "assets:create", "assets:delete"]);
    const hidden = await fetch(`${base()}/${pathId}`, { headers: auth(outsider.token), redirect: "manual" });
    expect(hidden.status).toBe(404);
    expect((await json<ErrorJson>(hidden)).error.code).toBe("NOT_FOUND");
    const reader = await t.factories.member(w.org.id, w.space.id, ["assets:read"]);
    const forbidden = await fetch(`${base()}/${pathId}`, { method: "DELETE", headers: auth(reader.token) });
    expect(forbidden.status).toBe(403);
    expect((await json<ErrorJson>(forbidden)).error.code).toBe("FORBIDDEN");
  });

  it("413 LIMITS_REACHED over the file size limit, leaving nothing", async () => {
    const res = await fetch(`${base()}/${b64("big/too-big.bin")}/upload`, {
      method: "POST",
      headers: { ...auth(), "content-type": "application/octet-stream" },
      body: randomBytes(2_100_000),
    });
    expect(res.status).toBe(413);
    expect((await json<ErrorJson>(res)).error.code).toBe("LIMITS_REACHED");
    expect(await t.deps.prisma.entry.count({ where: { spaceId: w.space.id, name: "too-big.bin" } })).toBe(0);
  });

  it("serves an OpenAPI 3 document generated from the route schemas", async () => {
    const doc = await json<{ openapi: string; paths: Record<string, Record<string, unknown>> }>(await fetch(`${t.url}/api/v1/openapi.json`));
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths).sort()).toEqual([
      "/api/v1/agent/attachments",
      "/api/v1/agent/attachments/presigned",
      "/api/v1/agent/attachments/retention",
      "/api/v1/agent/attachments/{attachmentId}",
      "/api/v1/agent/attachments/{attachmentId}/complete",
      "/api/v1/space/{spaceId}/search",
      "/api/v1/space/{spaceId}/storage",
      "/api/v1/space/{spaceId}/storage/{pathId}",
      "/api/v1/space/{spaceId}/storage/{pathId}/complete",
      "/api/v1/space/{spaceId}/storage/{pathId}/upload",
      "/blobs/{key}",
      "/healthz",
      "/readyz",
    ]);
    expect(Object.keys(doc.paths["/api/v1/space/{spaceId}/storage/{pathId}"]!).sort()).toEqual(["delete", "get"]);
    expect(Object.keys(doc.paths["/blobs/{key}"]!).sort()).toEqual(["get", "head", "put"]);
  });
});

describe("bad input", () => {
  const expectError = async (res: Response, status: number, code: string) => {
    expect(res.status).toBe(status);
    expect((await json<ErrorJson>(res)).error.code).toBe(code);
  };
  const rawUpload = (pathId: string, body = "x", type = "text/plain") =>
    fetch(`${base()}/${pathId}/upload`, { method: "POST", headers: { ...auth(), "content-type": type }, body });

  it.each([
    ["bad base64", "not*base64!"],
    ["impossible length", "abcde"],
    ["bits after the end", "YR"],
    ["not UTF-8", Buffer.from([0xff, 0xfe, 0x41]).toString("base64url")],
    ["a .. segment", b64("a/../etc/passwd")],
    ["a NUL", b64("a/b\u0000c.txt")],
  ])("%s -> 400 INVALID_PATH", async (_what, pathId) => {
    await expectError(await rawUpload(encodeURIComponent(pathId)), 400, "INVALID_PATH");
  });

  it("an oversized data URL -> 413, checked before decoding", async () => {
    const huge = `data:application/octet-stream;base64,${"A".repeat(Math.ceil((10 * 1024 * 1024 * 4) / 3) + 8)}`;
    await expectError(await postJson(b64("x.bin"), { file: huge }), 413, "LIMITS_REACHED");
  });

  it.each([
    ["no comma", "data:text/plain;base64"],
    ["broken base64", "data:text/plain;base64,abc"],
    ["bad characters", "data:text/plain,hello world"],
    ["bad media type", "data:text;base64,aGk="],
  ])("a data URL with %s -> 400 INVALID_DATA_URL", async (_what, file) => {
    await expectError(await postJson(b64("bad.txt"), { file }), 400, "INVALID_DATA_URL");
  });

  it("a body whose bytes contradict its Content-Type -> 415 UNSUPPORTED_MEDIA_TYPE", async () => {
    await expectError(await rawUpload(b64("fake.png"), "<!doctype html><script>alert(1)</script>", "image/png"), 415, "UNSUPPORTED_MEDIA_TYPE");
    expect(await t.deps.prisma.entry.count({ where: { spaceId: w.space.id, name: "fake.png" } })).toBe(0);
  });

  it.each([
    "http://127.0.0.1/",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://0177.0.0.1/",
    "http://127.1/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://0.0.0.0/",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "file:///etc/passwd",
    "ftp://example.com/x",
  ])("import from %s -> 403 URL_FORBIDDEN", async (url) => {
    await expectError(await postJson(b64("ssrf.bin"), { file: url }), 403, "URL_FORBIDDEN");
  });

  it("a redirect into loopback or the metadata service -> 403 URL_FORBIDDEN", async () => {
    await expectError(await postJson(b64("ssrf.bin"), { file: `${sourceUrl}/to-loopback` }), 403, "URL_FORBIDDEN");
    await expectError(await postJson(b64("ssrf.bin"), { file: `${sourceUrl}/to-metadata` }), 403, "URL_FORBIDDEN");
  });

  it("a failed import -> 502 URL_FETCH_FAILED, leaving nothing", async () => {
    await expectError(await postJson(b64("missing.bin"), { file: `${sourceUrl}/nope` }), 502, "URL_FETCH_FAILED");
    expect(await t.deps.prisma.entry.count({ where: { spaceId: w.space.id, name: "missing.bin" } })).toBe(0);
  });

  it("a JSON body of the wrong shape -> 400 BAD_USER_INPUT", async () => {
    await expectError(await postJson(b64("x.bin"), { nope: 1 }), 400, "BAD_USER_INPUT");
    await expectError(await postJson(b64("x.bin"), { file: { type: "image/png" } }), 400, "BAD_USER_INPUT");
  });
});

describe("the OpenAPI document, with the clients people use", () => {
  let dir: string;
  let docFile: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "cabinet-openapi-"));
    docFile = path.join(dir, "openapi.json");
    await writeFile(docFile, await (await fetch(`${t.url}/api/v1/openapi.json`)).text());
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));
  type Doc = { servers: { url: string }[]; paths: Record<string, Record<string, Operation>> };
  type Operation = {
    operationId?: string;
    security?: unknown[];
    requestBody?: { content: Record<string, unknown> };
    responses: Record<string, { description: string }>;
  };
  const doc = async () => JSON.parse(await readFile(docFile, "utf8")) as Doc;

  it("documents every route: operationIds, servers, security, the upload bodies and only real answers", async () => {
    const d = await doc();
    expect(d.servers).toEqual([{ url: t.url }]);
    const ops = Object.entries(d.paths).flatMap(([p, methods]) => Object.entries(methods).map(([m, op]) => ({ route: `${m.toUpperCase()} ${p}`, ...op })));
    expect(ops.map((o) => o.operationId).sort()).toEqual([
      "completeAttachmentUpload",
      "completeUpload",
      "createAttachmentUpload",
      "deleteAttachment",
      "deleteFile",
      "downloadBlob",
      "downloadFile",
      "getAttachment",
      "getHealth",
      "getReadiness",
      "headBlob",
      "listAttachments",
      "listFolder",
      "search",
      "setAttachmentRetention",
      "uploadBlob",
      "uploadFile",
    ]);
    for (const op of ops) {
      expect(
        Object.values(op.responses).map((r) => r.description),
        op.route,
      ).not.toContain("Default Response");
      expect(op.security, op.route).toEqual(op.route.includes("/api/v1/") ? undefined : []); // undefined: the document's bearer default
    }
    const upload = d.paths["/api/v1/space/{spaceId}/storage/{pathId}/upload"]!.post!;
    expect(Object.keys(upload.requestBody!.content).sort()).toEqual(["*/*", "application/json", "application/octet-stream", "multipart/form-data"]);
    expect(Object.keys(upload.responses).sort()).toEqual(["200", "400", "401", "403", "404", "409", "413", "415", "502", "503"]);
    expect(upload.responses["409"]!.description).toMatch(/PATH_IS_DIRECTORY.*PATH_IS_FILE/);
    const list = d.paths["/api/v1/space/{spaceId}/storage"]!.get!;
    expect(Object.keys(list.responses).sort()).toEqual(["200", "400", "401", "403", "404", "409"]);
    expect(Object.keys(d.paths["/blobs/{key}"]!.get!.responses).sort()).toEqual(["200", "206", "304", "403", "404", "416"]);
    expect(Object.keys(d.paths["/readyz"]!.get!.responses).sort()).toEqual(["200", "503"]);
  });

  it("passes redocly lint with the recommended rules", async () => {
    // Two recommended warnings do not apply: the project names no license, and the
    // health probes have no client errors to document (operation-4xx-response).
    const config = ["extends:", "  - recommended", "rules:", "  info-license: off"].join("\n");
    await writeFile(path.join(dir, "redocly.yaml"), `${config}\n`);
    const cli = path.resolve("node_modules/@redocly/cli/bin/cli.js");
    const run = await execFileP(process.execPath, [cli, "lint", docFile, "--config", path.join(dir, "redocly.yaml"), "--format", "json"], {
      cwd: dir,
      env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true", NO_UPDATE_NOTIFIER: "1" },
    }).catch((e: { stdout: string; stderr: string }) => e);
    type Problem = { ruleId: string; message: string; location: { pointer: string }[] };
    const report = JSON.parse(run.stdout) as { totals: { errors: number }; problems: Problem[] };
    const where = (p: Problem) => `${p.ruleId} at ${p.location[0]?.pointer}: ${p.message}`;
    expect(report.problems.filter((p) => p.ruleId !== "operation-4xx-response").map(where)).toEqual([]);
    expect(report.problems.map((p) => p.location[0]?.pointer).sort()).toEqual(["#/paths/~1healthz/get/responses", "#/paths/~1readyz/get/responses"]);
    expect(report.totals.errors).toBe(0);
  }, 60_000);

  it("gives openapi-typescript 7 types that a typed call to every route typechecks against", async () => {
    const { default: openapiTS, astToString } = await import("openapi-typescript");
    const { default: ts } = await import("typescript");
    // openapi-typescript's documented recipe for uploads: `format: binary` becomes Blob.
    const blob = ts.factory.createTypeReferenceNode(ts.factory.createIdentifier("Blob"));
    const ast = await openapiTS(new URL(`file://${docFile}`), { transform: (schema) => (schema.format === "binary" ? blob : undefined) });
    await writeFile(path.join(dir, "rest-api.d.ts"), astToString(ast));
    await writeFile(path.join(dir, "client.ts"), TYPED_CLIENT);
    const compilerOptions = {
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      target: "es2022",
      module: "nodenext",
      moduleResolution: "nodenext",
      lib: ["es2022"],
      types: [],
    };
    await writeFile(path.join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions, files: ["client.ts"] }));
    const tsc = path.resolve("node_modules/typescript/bin/tsc");
    const run = await execFileP(process.execPath, [tsc, "-p", dir], { cwd: dir }).catch((e: { stdout: string }) => e);
    expect(run.stdout).toBe("");
  }, 60_000);
});

/**
 * A small typed client over the generated `paths` (openapi-fetch's shape:
 * method, path, { params, body }), calling every operation. The
 * @ts-expect-error lines prove the types are real: each fails to compile.
 */
const TYPED_CLIENT = `
import type { paths } from "./rest-api.js";

// Without the DOM library (it triples tsc's time), Blob is all the generated types need.
declare global {
  interface Blob { readonly size: number }
}

type Method = "get" | "head" | "post" | "put" | "delete";
type Op<P extends keyof paths, M extends Method> = NonNullable<paths[P][M]>;
type Params<O> = O extends { parameters: infer P } ? P : never;
type Body<O> = O extends { requestBody: { content: infer C } } ? C[keyof C] : never;
type Ok<O> = O extends { responses: { 200: { content: { "application/json": infer T } } } } ? T : unknown;
type Init<O> = { params: Params<O> } & ([Body<O>] extends [never] ? {} : { body: Body<O> });

declare function request<P extends keyof paths, M extends Method & keyof paths[P]>(method: M, path: P, init: Init<Op<P, M>>): Promise<Ok<Op<P, M>>>;

const file = { path: { spaceId: "spc_1", pathId: "cGhvdG9zL3Byb2ZpbGUucG5n" } };

export async function everyRoute(bytes: Blob) {
  const viaUrl = await request("post", "/api/v1/space/{spaceId}/storage/{pathId}/upload", { params: file, body: { file: "https://example.com/a.png" } });
  const id: string = viaUrl.id;
  await request("post", "/api/v1/space/{spaceId}/storage/{pathId}/upload", { params: file, body: { file: "data:text/plain;base64,aGk=" } });
  await request("post", "/api/v1/space/{spaceId}/storage/{pathId}/upload", { params: file, body: { file: bytes } });
  await request("post", "/api/v1/space/{spaceId}/storage/{pathId}/upload", { params: file, body: bytes });
  const twoStage = await request("post", "/api/v1/space/{spaceId}/storage/{pathId}/upload", {
    params: file,
    body: { file: { type: "image/png", size: 1024, meta: { description: "x" }, sha256: "ab" } },
  });
  if ("uploadRequest" in twoStage) {
    const put: string = twoStage.uploadRequest.url;
    const pathId: string = twoStage.pathId;
    void [put, pathId];
  } else {
    const size: number = twoStage.size;
    void size;
  }
  const done = await request("post", "/api/v1/space/{spaceId}/storage/{pathId}/complete", { params: file });
  const status: string | null = done.status;
  const link = await request("get", "/api/v1/space/{spaceId}/storage/{pathId}", { params: { ...file, query: { expiresIn: 60, disposition: "inline" } } });
  const url: string = link.url;
  const removed = await request("delete", "/api/v1/space/{spaceId}/storage/{pathId}", { params: file });
  const count: number = removed.deletedFiles;
  const page = await request("get", "/api/v1/space/{spaceId}/storage", {
    params: { path: { spaceId: "spc_1" }, query: { path: "photos", first: 10, orderBy: "SIZE", direction: "DESC" } },
  });
  const next: string | null = page.nextCursor;
  const names: string[] = page.items.map((i) => i.name);
  const signed = { "X-Cabinet-Method": "GET" as const, "X-Cabinet-Expires": 1, "X-Cabinet-Signature": "sig" };
  await request("get", "/blobs/{key}", { params: { path: { key: "k" }, query: signed, header: { "if-none-match": '"etag"' } } });
  await request("head", "/blobs/{key}", { params: { path: { key: "k" }, query: signed } });
  await request("put", "/blobs/{key}", {
    params: { path: { key: "k" }, query: { "X-Cabinet-Method": "PUT", "X-Cabinet-Expires": 1, "X-Cabinet-Content-Type": "image/png", "X-Cabinet-Content-Length": 3, "X-Cabinet-Signature": "sig" } },
    body: bytes,
  });
  const health = await request("get", "/healthz", { params: {} });
  const alive: "ok" = health.status;
  const ready = await request("get", "/readyz", { params: {} });
  const db: boolean = ready.checks.database.ok;

  // @ts-expect-error orderBy is an enum
  await request("get", "/api/v1/space/{spaceId}/storage", { params: { path: { spaceId: "s" }, query: { orderBy: "COLOR" } } });
  // @ts-expect-error pathId is required
  await request("delete", "/api/v1/space/{spaceId}/storage/{pathId}", { params: { path: { spaceId: "s" } } });
  // @ts-expect-error a two-stage spec needs its size
  await request("post", "/api/v1/space/{spaceId}/storage/{pathId}/upload", { params: file, body: { file: { type: "image/png" } } });
  // @ts-expect-error no such route
  await request("get", "/api/v1/nope", { params: {} });
  return [id, status, url, count, next, names, alive, db];
}
`;

describe("disk downloads: validators and conditional requests", () => {
  const upload = async (p: string, body: Buffer, type = "application/octet-stream") => {
    const res = await fetch(`${base()}/${b64(p)}/upload`, { method: "POST", headers: { ...auth(), "content-type": type }, body: new Uint8Array(body) });
    expect(res.status).toBe(200);
  };
  const urlOf = async (p: string, query = "") =>
    (await json<{ url: string }>(await fetch(`${base()}/${b64(p)}${query}`, { headers: { ...auth(), accept: "application/json" } }))).url;

  it("ETag is the blob's sha256, Last-Modified is set, and both answer 304", async () => {
    const bytes = randomBytes(5000);
    await upload("cache/a.bin", bytes);
    const url = await urlOf("cache/a.bin");
    const full = await fetch(url);
    expect(full.status).toBe(200);
    const etag = full.headers.get("etag")!;
    const lastModified = full.headers.get("last-modified")!;
    expect(etag).toBe(`"${sha256(bytes)}"`);
    expect(Date.parse(lastModified)).not.toBeNaN();
    expect(Buffer.from(await full.arrayBuffer()).equals(bytes)).toBe(true);

    const same = await fetch(url, { headers: { "if-none-match": etag } });
    expect(same.status).toBe(304);
    expect(same.headers.get("etag")).toBe(etag);
    expect((await same.arrayBuffer()).byteLength).toBe(0);
    expect((await fetch(url, { headers: { "if-none-match": `"other", W/${etag}` } })).status).toBe(304);
    expect((await fetch(url, { method: "HEAD", headers: { "if-none-match": etag } })).status).toBe(304);
    const other = await fetch(url, { headers: { "if-none-match": '"something-else"' } });
    expect(other.status).toBe(200);
    await other.arrayBuffer();

    expect((await fetch(url, { headers: { "if-modified-since": lastModified } })).status).toBe(304);
    const earlier = new Date(Date.parse(lastModified) - 60_000).toUTCString();
    const changed = await fetch(url, { headers: { "if-modified-since": earlier } });
    expect(changed.status).toBe(200);
    await changed.arrayBuffer();
    // If-None-Match wins over If-Modified-Since.
    const both = await fetch(url, { headers: { "if-none-match": '"something-else"', "if-modified-since": lastModified } });
    expect(both.status).toBe(200);
    await both.arrayBuffer();

    // Another URL for the same bytes (other signature, other disposition) has the same validator.
    expect((await fetch(await urlOf("cache/a.bin", "?disposition=inline"), { method: "HEAD" })).headers.get("etag")).toBe(etag);
  });

  it("keeps Range working, with If-Range deciding between the range and the whole file", async () => {
    const bytes = randomBytes(3000);
    await upload("cache/range.bin", bytes);
    const url = await urlOf("cache/range.bin");
    const etag = `"${sha256(bytes)}"`;
    const part = await fetch(url, { headers: { range: "bytes=10-19" } });
    expect(part.status).toBe(206);
    expect(part.headers.get("etag")).toBe(etag);
    expect(Buffer.from(await part.arrayBuffer()).equals(bytes.subarray(10, 20))).toBe(true);
    const stillCurrent = await fetch(url, { headers: { range: "bytes=10-19", "if-range": etag } });
    expect(stillCurrent.status).toBe(206);
    await stillCurrent.arrayBuffer();
    const stale = await fetch(url, { headers: { range: "bytes=10-19", "if-range": '"an-older-version"' } });
    expect(stale.status).toBe(200);
    expect(Buffer.from(await stale.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it("without a known sha256 (a two-stage upload that declared none) the ETag is stable, from key and size", async () => {
    const pathId = b64("cache/two-stage.bin");
    const started = await json<{ uploadRequest: { url: string; headers: Record<string, string> } }>(
      await postJson(pathId, { file: { type: "application/octet-stream", size: 100 } }),
    );
    const put = await fetch(started.uploadRequest.url, { method: "PUT", headers: started.uploadRequest.headers, body: randomBytes(100) });
    expect(put.status).toBe(200);
    const first = await fetch(await urlOf("cache/two-stage.bin"), { method: "HEAD" });
    const etag = first.headers.get("etag")!;
    expect(etag).toMatch(/^"[0-9a-z]{32}-64"$/);
    expect((await fetch(await urlOf("cache/two-stage.bin"), { headers: { "if-none-match": etag } })).status).toBe(304);
  });
});

describe("enum query parameters in any case", () => {
  it("lists with orderBy=name&direction=desc like NAME/DESC", async () => {
    for (const name of ["b.txt", "a.txt", "c.txt"]) {
      await fetch(`${base()}/${b64(`cased/${name}`)}/upload`, { method: "POST", headers: { ...auth(), "content-type": "text/plain" }, body: name });
    }
    const names = async (query: string) =>
      (await json<{ items: FileJson[] }>(await fetch(`${base()}?path=cased&${query}`, { headers: auth() }))).items.map((i) => i.name);
    const upper = await names("orderBy=NAME&direction=DESC");
    expect(upper).toEqual(["c.txt", "b.txt", "a.txt"]);
    expect(await names("orderBy=name&direction=desc")).toEqual(upper);
    expect(await names("orderBy=Size&direction=Asc")).toHaveLength(3);
    const bad = await fetch(`${base()}?path=cased&orderBy=color`, { headers: auth() });
    expect(bad.status).toBe(400);
  });

  it("downloads with disposition=INLINE, on the documented route and its wildcard twin", async () => {
    for (const pathId of [b64("cased/a.txt"), encodeURIComponent(b64("cased/a.txt"))]) {
      const res = await fetch(`${base()}/${pathId}?disposition=INLINE`, { headers: { ...auth(), accept: "application/json" } });
      expect(res.status).toBe(200);
      const { url } = await json<{ url: string }>(res);
      expect((await fetch(url, { method: "HEAD" })).headers.get("content-disposition")).toMatch(/^inline/);
    }
  });
});

describe("declared types the bytes contradict", () => {
  it("refuses a PNG sent as application/pdf (raw and multipart) with 415, leaving nothing", async () => {
    const raw = await fetch(`${base()}/${b64("typed/report.pdf")}/upload`, {
      method: "POST",
      headers: { ...auth(), "content-type": "application/pdf" },
      body: PNG,
    });
    expect(raw.status).toBe(415);
    expect(await json<ErrorJson & { error: { details: unknown } }>(raw)).toMatchObject({
      error: { code: "UNSUPPORTED_MEDIA_TYPE", details: { declared: "application/pdf", detected: "image/png" } },
    });
    const form = new FormData();
    form.set("file", new Blob([new Uint8Array(PNG)], { type: "application/pdf" }), "report.pdf");
    const multipart = await fetch(`${base()}/${b64("typed/report.pdf")}/upload`, { method: "POST", headers: auth(), body: form });
    expect(multipart.status).toBe(415);
    expect(await t.deps.prisma.entry.count({ where: { spaceId: w.space.id, name: "report.pdf" } })).toBe(0);
  });

  it("stores a PNG sent as application/octet-stream (no claim) as image/png", async () => {
    const res = await fetch(`${base()}/${b64("typed/pixel.bin")}/upload`, {
      method: "POST",
      headers: { ...auth(), "content-type": "application/octet-stream" },
      body: PNG,
    });
    expect(await json<FileJson>(res)).toMatchObject({ mimeType: "image/png" });
  });
});

describe("GraphQL and REST agree on uploads: missing folders are created by default", () => {
  it("uploadAsset, createAssetUpload and importAssetFromUrl create parents unless createParents: false", async () => {
    const up = await uploadAsset(t.graphqlUrl, { token: w.adminToken, spaceId: w.space.id, path: "gql/new/deep/profile.png", body: PNG, type: "image/png" });
    expect(up.errors).toBeUndefined();
    expect(up.data!.uploadAsset).toMatchObject({ path: "gql/new/deep/profile.png" });
    const refused = await uploadAsset(t.graphqlUrl, { token: w.adminToken, spaceId: w.space.id, path: "gql/none/x.txt", body: "x", createParents: false });
    expect(errorCode(refused)).toBe("NOT_FOUND");

    const twoStage = await t.gql(
      CreateAssetUploadDocument,
      { input: { spaceId: w.space.id, path: "gql/staged/big.bin", mimeType: "application/octet-stream", size: 10 } },
      w.adminToken,
    );
    expect(twoStage.errors).toBeUndefined();
    expect(twoStage.data!.createAssetUpload.asset.path).toBe("gql/staged/big.bin");

    const imported = await t.gql(
      `mutation($input: ImportAssetFromUrlInput!) { importAssetFromUrl(input: $input) { path mimeType } }`,
      { input: { spaceId: w.space.id, path: "gql/imported/profile.png", url: `${sourceUrl}/images/profile.png` } },
      w.adminToken,
    );
    expect(imported.errors).toBeUndefined();
    expect(imported.data).toEqual({ importAssetFromUrl: { path: "gql/imported/profile.png", mimeType: "image/png" } });
    // The README's REST example on a new space, through GraphQL: the same answer.
    const fresh = await t.factories.space(w.org.id);
    const onNewSpace = await uploadAsset(t.graphqlUrl, { token: w.adminToken, spaceId: fresh.id, path: "photos/profile.png", body: PNG, type: "image/png" });
    expect(onNewSpace.errors).toBeUndefined();
  });

  it("refuses a PNG declared application/pdf over GraphQL too", async () => {
    const res = await uploadAsset(t.graphqlUrl, { token: w.adminToken, spaceId: w.space.id, path: "gql/report.pdf", body: PNG, type: "application/pdf" });
    expect(errorCode(res)).toBe("UNSUPPORTED_MEDIA_TYPE");
  });
});
