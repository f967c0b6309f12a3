// REST compatibility routes, exactly as the Space Storage document gives them:
//   POST   /api/v1/space/{spaceId}/storage/{pathId}/upload   (five inputs, see upload())
//   GET    /api/v1/space/{spaceId}/storage/{pathId}          (302 to a presigned URL, or JSON)
//   GET    /api/v1/space/{spaceId}/storage?path=             (list a folder)
//   DELETE /api/v1/space/{spaceId}/storage/{pathId}
// plus POST …/{pathId}/complete for two-stage uploads on S3. pathId is the
// base64 of the path (path-id.ts). Every rule lives in the services GraphQL
// uses; this file only parses, calls one service function and shapes JSON.
// Authentication, body parsers and error rendering are the shared REST scope's
// (http/rest.ts); these routes are added to it.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Viewer } from "../../access/viewer.ts";
import type { PrismaClient } from "../../db/prisma.ts";
import { errors, type ErrorCode } from "../../errors.ts";
import type { Blob, Entry, ProcessingStep } from "../../generated/prisma/client.ts";
import { errorResponses, viewerOf } from "../../http/rest.ts";
import { parseDataUrl } from "../../ingest/data-url.ts";
import type { EntryService } from "../entry/entry.service.ts";
import { MAX_PAGE_SIZE, type EntryOrder } from "../entry/entry-listing.ts";
import { joinPath, normalizePath } from "../entry/entry-path.ts";
import type { AssetUploadService } from "./asset-upload.service.ts";
import type { AssetService } from "./asset.service.ts";
import { decodePathId } from "./path-id.ts";
import { overallStatus, sortSteps } from "../processing/processing.service.ts";

/** What the storage routes use: the services GraphQL uses too. */
export type AssetRouteDeps = {
  assets: AssetService;
  uploads: AssetUploadService;
  entries: EntryService;
  /** Reads the stored entry back with its blob, to shape the JSON answer. */
  prisma: PrismaClient;
};

/** The path a pathId names, normalized as it is stored (INVALID_PATH when it cannot be). */
const pathOf = (pathId: string) => joinPath(normalizePath(decodePathId(pathId)));

/** Largest file a data: URL may carry (it arrives inside a JSON body, so it is held in memory). */
export const DATA_URL_MAX_BYTES = 10 * 1024 * 1024;
/** REST listings have always answered 100 entries a page by default (GraphQL: 50); the bounds are the service's. */
const REST_PAGE_SIZE = 100;
const JSON_UPLOAD_BODY_LIMIT = Math.ceil((DATA_URL_MAX_BYTES * 4) / 3) + 64 * 1024;

type SpaceParams = { spaceId: string };
type PathParams = SpaceParams & { pathId: string };
type WildcardParams = SpaceParams & { "*": string };

// ---------------------------------------------------------------------------
// Shapes

type StoredEntry = Entry & { blob?: (Blob & { processingSteps?: ProcessingStep[] }) | null };

/** A file's processing: one status and its steps (decision 47); absent where the steps were not read (listings). */
function processingJson(entry: StoredEntry) {
  const steps = entry.blob?.processingSteps;
  if (entry.kind !== "FILE" || !steps) return {};
  return {
    processing: {
      status: overallStatus(steps),
      steps: sortSteps(steps).map((s) => ({ name: s.name, status: s.status, progress: s.progress, error: s.error })),
    },
  };
}

export function fileJson(entry: StoredEntry, path: string) {
  return {
    id: entry.id,
    kind: entry.kind,
    name: entry.name,
    path,
    mimeType: entry.kind === "FILE" ? (entry.blob?.contentType ?? null) : null,
    size: Number(entry.size),
    sha256: entry.blob?.sha256 ?? null,
    status: entry.kind === "FILE" ? (entry.blob?.status ?? null) : null,
    createdAt: entry.createdAt.toISOString(),
    updatedAt: entry.updatedAt.toISOString(),
    ...processingJson(entry),
  };
}

const nullableString = { type: ["string", "null"] } as const;
export const FILE_SCHEMA = {
  type: "object",
  properties: {
    id: { type: "string" },
    kind: { type: "string", enum: ["FILE", "FOLDER"] },
    name: { type: "string" },
    path: { type: "string" },
    mimeType: nullableString,
    size: { type: "integer" },
    sha256: nullableString,
    status: nullableString,
    createdAt: { type: "string", format: "date-time" },
    updatedAt: { type: "string", format: "date-time" },
    processing: {
      type: "object",
      description:
        "Files, in upload and complete answers: what processing does with the bytes (NONE: nothing to do; QUEUED, RUNNING, DONE or FAILED). Watch it with the GraphQL subscription assetProcessing",
      properties: {
        status: { type: "string", enum: ["NONE", "QUEUED", "RUNNING", "DONE", "FAILED"] },
        steps: {
          type: "array",
          items: {
            type: "object",
            properties: {
              name: { type: "string" },
              status: { type: "string", enum: ["QUEUED", "RUNNING", "DONE", "FAILED", "SKIPPED"] },
              progress: { type: ["number", "null"] },
              error: nullableString,
            },
            required: ["name", "status", "progress", "error"],
          },
        },
      },
      required: ["status", "steps"],
    },
  },
  required: ["id", "kind", "name", "path", "mimeType", "size", "sha256", "status", "createdAt", "updatedAt"],
} as const;
const UPLOAD_REQUEST_SCHEMA = {
  type: "object",
  description: "A two-stage upload: PUT the bytes to uploadRequest.url with exactly uploadRequest.headers",
  properties: {
    id: { type: "string", description: "The file's id (ent_…), as in every other answer" },
    pathId: { type: "string", description: "The pathId of the request (what `id` held before)" },
    assetId: { type: "string", description: "Same as id (kept for older clients)" },
    path: { type: "string" },
    uploadRequest: {
      type: "object",
      properties: {
        method: { type: "string", enum: ["PUT"] },
        url: { type: "string" },
        headers: { type: "object", additionalProperties: { type: "string" } },
        expiresAt: { type: "string", format: "date-time" },
      },
      required: ["method", "url", "headers", "expiresAt"],
    },
  },
  required: ["id", "pathId", "assetId", "path", "uploadRequest"],
} as const;
const SPACE_PARAMS = { type: "object", properties: { spaceId: { type: "string" } }, required: ["spaceId"] } as const;
const PATH_PARAMS = {
  type: "object",
  properties: { spaceId: { type: "string" }, pathId: { type: "string", description: "base64 (standard or URL-safe, padding optional) of the file's path" } },
  required: ["spaceId", "pathId"],
} as const;

// ---------------------------------------------------------------------------
// Handlers: each takes one request object

/** One call of a storage route: who asks, which space and pathId, and the HTTP exchange. */
type StorageRequest = {
  viewer: Viewer;
  spaceId: string;
  /** The :pathId param, or the part of the URL a wildcard twin recovered it from. */
  pathId: string;
  /** Headers, the parsed JSON body, multipart parts and the raw body stream. */
  req: FastifyRequest;
  reply: FastifyReply;
};

type DownloadQuery = { expiresIn?: number; disposition?: "inline" | "attachment" };

type TwoStageSpec = { type: string; size: number; sha256?: string; meta?: unknown };

function isTwoStageSpec(v: unknown): v is TwoStageSpec {
  const o = v as Partial<TwoStageSpec> | null;
  return typeof o === "object" && o !== null && typeof o.type === "string" && typeof o.size === "number";
}

function storageHandlers(deps: AssetRouteDeps) {
  const { assets, uploads, entries } = deps;
  const withBlob = (id: string) =>
    deps.prisma.entry.findUniqueOrThrow({ where: { id }, include: { blob: { include: { processingSteps: { orderBy: { queuedAt: "asc" } } } } } });

  /** The five inputs: multipart field `file`, JSON data: URL, JSON URL import, JSON two-stage spec, raw body. */
  async function upload({ viewer, spaceId, pathId, req, reply }: StorageRequest) {
    const path = pathOf(pathId);
    const target = { spaceId, path, createParents: true };
    const contentType = req.headers["content-type"] ?? "";

    if (contentType.startsWith("multipart/form-data")) {
      // Form fields before the file are skipped; the file must be the field named `file`.
      const part = await req.file();
      if (part?.fieldname !== "file") throw errors.badInput('A multipart upload needs its file in the field "file"');
      const entry = await assets.uploadAsset(viewer, { ...target, body: part.file, declaredType: part.mimetype });
      return reply.send(fileJson(await withBlob(entry.id), path));
    }

    if (contentType.startsWith("application/json")) {
      const file = (req.body as { file?: unknown } | null)?.file;
      if (typeof file === "string" && /^data:/i.test(file)) {
        const data = parseDataUrl(file, DATA_URL_MAX_BYTES);
        const entry = await assets.uploadAsset(viewer, { ...target, body: data.body, declaredType: data.mediaType });
        return reply.send(fileJson(await withBlob(entry.id), path));
      }
      if (typeof file === "string") {
        const entry = await assets.importAssetFromUrl(viewer, { ...target, url: file });
        return reply.send(fileJson(await withBlob(entry.id), path));
      }
      if (isTwoStageSpec(file)) {
        const { entry, uploadRequest } = await uploads.createAssetUpload(viewer, {
          ...target,
          mimeType: file.type,
          size: file.size,
          sha256: file.sha256,
          meta: file.meta,
        });
        // `id` is the file's id like in every other answer; the seed's pathId stays as its own field.
        return reply.send({ id: entry.id, pathId, assetId: entry.id, path, uploadRequest });
      }
      throw errors.badInput('The JSON body must be { "file": "https://…" | "data:…" | { "type", "size", "meta"? } }');
    }

    // Anything else is the file itself, typed by its Content-Type.
    const entry = await assets.uploadAsset(viewer, { ...target, body: req.raw, declaredType: contentType || null });
    return reply.send(fileJson(await withBlob(entry.id), path));
  }

  async function download({ viewer, spaceId, pathId, req, reply }: StorageRequest) {
    const path = pathOf(pathId);
    const query = req.query as DownloadQuery;
    const entry = await entries.entryAt(viewer, spaceId, path, "assets:read");
    if (entry.kind === "FOLDER") throw errors.pathIsDirectory(path);
    const { url, expiresAt } = await assets.downloadUrl(entry, query);
    if ((req.headers.accept ?? "").includes("application/json")) return reply.send({ url, expiresAt: expiresAt.toISOString() });
    return reply.redirect(url, 302);
  }

  async function complete({ viewer, spaceId, pathId, reply }: StorageRequest) {
    const path = pathOf(pathId);
    const entry = await entries.entryAt(viewer, spaceId, path, "assets:create");
    await uploads.completeAssetUpload(viewer, entry.id);
    return reply.send(fileJson(await withBlob(entry.id), path));
  }

  async function remove({ viewer, spaceId, pathId, reply }: StorageRequest) {
    const path = pathOf(pathId);
    const entry = await entries.entryAt(viewer, spaceId, path, "assets:delete");
    const { deletedFiles } = await entries.deleteEntry(viewer, { id: entry.id });
    return reply.send({ id: entry.id, path, deletedFiles });
  }

  return { upload, download, complete, remove };
}

// ---------------------------------------------------------------------------
// Query parsing

/** A pathId may hold "/" (standard base64); the wildcard twins of the routes recover it from the rest of the URL. */
function splitWildcard(rest: string, suffix: "" | "/upload" | "/complete"): string | null {
  if (!suffix) return rest || null;
  return rest.endsWith(suffix) && rest.length > suffix.length ? rest.slice(0, -suffix.length) : null;
}

// Enum query parameters are accepted in any case (orderBy=name, disposition=INLINE):
// normalized before validation, so the schema and the handlers see one spelling.
const QUERY_CASE: Record<string, (v: string) => string> = {
  orderBy: (v) => v.toUpperCase(),
  direction: (v) => v.toUpperCase(),
  disposition: (v) => v.toLowerCase(),
};
async function normalizeQueryCase(req: FastifyRequest): Promise<void> {
  const query = req.query as Record<string, unknown>;
  for (const [name, normalize] of Object.entries(QUERY_CASE)) {
    if (typeof query[name] === "string") query[name] = normalize(query[name]);
  }
}

// ---------------------------------------------------------------------------
// OpenAPI: what each route accepts and answers (http/openapi.ts)

const BINARY = { type: "string", format: "binary" } as const;
const TWO_STAGE_SPEC = {
  type: "object",
  description: "Starts a two-stage upload: the answer carries the URL to PUT the bytes to",
  properties: {
    type: { type: "string", description: "The file's Content-Type" },
    size: { type: "integer", minimum: 0, description: "Exact size in bytes" },
    sha256: { type: "string", description: "Hex sha256 of the bytes, checked on completion" },
    meta: { type: "object", additionalProperties: true, description: "Your own JSON (at most 16 KiB), kept with the file" },
  },
  required: ["type", "size"],
};
const UPLOAD_BODY = {
  description:
    "One of five forms: the raw bytes with their Content-Type; multipart/form-data with the file in the field `file`; " +
    "or JSON `{ file }` where file is an http(s) URL to import, a data: URL (up to 10 MiB), or `{ type, size, meta?, sha256? }` for a two-stage upload.",
  content: {
    "application/octet-stream": { schema: BINARY },
    "*/*": { schema: { ...BINARY, description: "The bytes, typed by their Content-Type (checked against what they are)" } },
    "multipart/form-data": {
      schema: { type: "object", properties: { file: { ...BINARY, description: "The file; fields before it are ignored" } }, required: ["file"] },
    },
    "application/json": {
      schema: {
        type: "object",
        properties: {
          file: {
            oneOf: [
              { type: "string", pattern: "^https?://", description: "A URL the server imports the file from (SSRF-guarded)" },
              { type: "string", pattern: "^data:", description: "A data: URL, e.g. data:image/png;base64,…" },
              TWO_STAGE_SPEC,
            ],
          },
        },
        required: ["file"],
      },
    },
  },
};
const DOWNLOAD_QUERY = {
  type: "object",
  properties: {
    expiresIn: { type: "integer", minimum: 1, description: "Seconds the URL stays valid (default 900)" },
    disposition: { type: "string", enum: ["inline", "attachment"], description: "Any case. Active content (HTML, SVG…) is always an attachment." },
  },
} as const;
const LIST_QUERY = {
  type: "object",
  properties: {
    path: { type: "string", default: "", description: "The folder; the root when empty" },
    first: { type: "integer", minimum: 1, maximum: MAX_PAGE_SIZE, default: REST_PAGE_SIZE },
    after: { type: "string", description: "nextCursor of the previous page" },
    orderBy: { type: "string", enum: ["NAME", "UPDATED_AT", "SIZE"], default: "NAME", description: "Any case" },
    direction: { type: "string", enum: ["ASC", "DESC"], default: "ASC", description: "Any case" },
  },
} as const;

/** The error codes a storage route can answer, beyond authentication's (UNAUTHENTICATED, FORBIDDEN, NOT_FOUND). */
const storageErrors = (...codes: ErrorCode[]) => errorResponses("UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND", ...codes);
const STORE_ERRORS: ErrorCode[] = ["STORAGE_UNAVAILABLE", "STORAGE_NOT_CONFIGURED"];

const tags = ["storage"];
const UPLOAD_SCHEMA = {
  tags,
  operationId: "uploadFile",
  summary: "Upload a file: raw body, multipart field `file`, or JSON { file: URL | data: URL | { type, size, meta } }",
  description: "Missing folders on the way are created. An existing file at the path is overwritten (same id).",
  params: PATH_PARAMS,
  // The two-stage answer first: the serializer takes the first shape that fits.
  response: {
    200: { description: "The stored file; for a two-stage spec, the upload request", anyOf: [UPLOAD_REQUEST_SCHEMA, FILE_SCHEMA] },
    ...storageErrors(
      "BAD_USER_INPUT",
      "INVALID_PATH",
      "INVALID_DATA_URL",
      "URL_FORBIDDEN",
      "PATH_IS_DIRECTORY",
      "PATH_IS_FILE",
      "LIMITS_REACHED",
      "UNSUPPORTED_MEDIA_TYPE",
      "URL_FETCH_FAILED",
      ...STORE_ERRORS,
    ),
  },
  documentation: { body: UPLOAD_BODY },
};
const COMPLETE_SCHEMA = {
  tags,
  operationId: "completeUpload",
  summary: "Complete a two-stage upload once its bytes were PUT",
  description: "Checks size, sha256 (when declared) and content type, then makes the file READY. Idempotent.",
  params: PATH_PARAMS,
  response: {
    200: { ...FILE_SCHEMA, description: "The completed file" },
    ...storageErrors("INVALID_PATH", "UPLOAD_INCOMPLETE", "LIMITS_REACHED", "UNSUPPORTED_MEDIA_TYPE", ...STORE_ERRORS),
  },
};
const DOWNLOAD_SCHEMA = {
  tags,
  operationId: "downloadFile",
  summary: "Download: 302 to a time-limited URL, or { url, expiresAt } with Accept: application/json",
  params: PATH_PARAMS,
  querystring: DOWNLOAD_QUERY,
  response: {
    200: {
      description: "With Accept: application/json, the time-limited URL instead of a redirect",
      type: "object",
      properties: { url: { type: "string" }, expiresAt: { type: "string", format: "date-time" } },
      required: ["url", "expiresAt"],
    },
    302: {
      type: "null",
      description: "Redirect to the time-limited URL serving the bytes",
      headers: { Location: { type: "string", description: "The presigned URL" } },
    },
    ...storageErrors("BAD_USER_INPUT", "INVALID_PATH", "PATH_IS_DIRECTORY", "UPLOAD_INCOMPLETE", ...STORE_ERRORS),
  },
};
const DELETE_SCHEMA = {
  tags,
  operationId: "deleteFile",
  summary: "Delete a file, or a folder with everything in it",
  params: PATH_PARAMS,
  response: {
    200: {
      description: "Deleted; the bytes are purged in the background",
      type: "object",
      properties: {
        id: { type: "string" },
        path: { type: "string" },
        deletedFiles: { type: "integer", description: "Files removed, the entry itself included" },
      },
      required: ["id", "path", "deletedFiles"],
    },
    ...storageErrors("BAD_USER_INPUT", "INVALID_PATH"),
  },
};
const LIST_SCHEMA = {
  tags,
  operationId: "listFolder",
  summary: "List a folder (the root, or ?path=): folders first, keyset-paginated with ?after=nextCursor",
  params: SPACE_PARAMS,
  querystring: LIST_QUERY,
  response: {
    200: {
      description: "One page of the folder's children",
      type: "object",
      properties: { path: { type: "string" }, items: { type: "array", items: FILE_SCHEMA }, nextCursor: nullableString },
      required: ["path", "items", "nextCursor"],
    },
    ...storageErrors("BAD_USER_INPUT", "INVALID_PATH", "PATH_IS_FILE"),
  },
};

// ---------------------------------------------------------------------------
// Registration

/** Adds the storage routes to the shared REST scope (http/rest.ts), which authenticates every request. */
export async function registerAssetRoutes(api: FastifyInstance, deps: AssetRouteDeps): Promise<void> {
  const handle = storageHandlers(deps);
  const call = (req: FastifyRequest<{ Params: SpaceParams }>, reply: FastifyReply, pathId: string): StorageRequest => ({
    viewer: viewerOf(req),
    spaceId: req.params.spaceId,
    pathId,
    req,
    reply,
  });
  const notFound = () => errors.notFound("Route");

  api.post<{ Params: PathParams }>("/space/:spaceId/storage/:pathId/upload", { bodyLimit: JSON_UPLOAD_BODY_LIMIT, schema: UPLOAD_SCHEMA }, (req, reply) =>
    handle.upload(call(req, reply, req.params.pathId)),
  );
  api.post<{ Params: PathParams }>("/space/:spaceId/storage/:pathId/complete", { schema: COMPLETE_SCHEMA }, (req, reply) =>
    handle.complete(call(req, reply, req.params.pathId)),
  );
  api.get<{ Params: PathParams; Querystring: DownloadQuery }>(
    "/space/:spaceId/storage/:pathId",
    { schema: DOWNLOAD_SCHEMA, preValidation: normalizeQueryCase },
    (req, reply) => handle.download(call(req, reply, req.params.pathId)),
  );
  api.delete<{ Params: PathParams }>("/space/:spaceId/storage/:pathId", { schema: DELETE_SCHEMA }, (req, reply) =>
    handle.remove(call(req, reply, req.params.pathId)),
  );
  api.get<{
    Params: SpaceParams;
    Querystring: { path?: string; first?: number; after?: string; orderBy?: EntryOrder["field"]; direction?: EntryOrder["direction"] };
  }>("/space/:spaceId/storage", { schema: LIST_SCHEMA, preValidation: normalizeQueryCase }, async (req, reply) => {
    const q = req.query;
    const page = await deps.entries.listFolder(viewerOf(req), {
      spaceId: req.params.spaceId,
      path: q.path ?? "",
      first: q.first ?? REST_PAGE_SIZE,
      after: q.after ?? null,
      order: { field: q.orderBy ?? "NAME", direction: q.direction ?? "ASC" },
    });
    const child = (name: string) => (page.path ? `${page.path}/${name}` : name);
    return reply.send({ path: page.path, items: page.items.map((e) => fileJson(e, child(e.name))), nextCursor: page.nextCursor });
  });

  // Wildcard twins for pathIds holding "/" (not in the OpenAPI document).
  const hide = { schema: { hide: true } } as const;
  api.post<{ Params: WildcardParams }>("/space/:spaceId/storage/*", { ...hide, bodyLimit: JSON_UPLOAD_BODY_LIMIT }, (req, reply) => {
    const forUpload = splitWildcard(req.params["*"], "/upload");
    if (forUpload) return handle.upload(call(req, reply, forUpload));
    const forComplete = splitWildcard(req.params["*"], "/complete");
    if (forComplete) return handle.complete(call(req, reply, forComplete));
    throw notFound();
  });
  api.get<{ Params: WildcardParams; Querystring: DownloadQuery }>("/space/:spaceId/storage/*", { ...hide, preValidation: normalizeQueryCase }, (req, reply) =>
    handle.download(call(req, reply, req.params["*"])),
  );
  api.delete<{ Params: WildcardParams }>("/space/:spaceId/storage/*", hide, (req, reply) => handle.remove(call(req, reply, req.params["*"])));
}
