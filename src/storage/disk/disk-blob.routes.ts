// Serves the disk driver's presigned URLs with S3's semantics: expired,
// tampered or wrong-method URLs get 403; GET answers Range requests with 206,
// conditional requests (If-None-Match, If-Modified-Since, If-Range) against its
// ETag and Last-Modified, and applies the signed response headers verbatim; PUT
// accepts exactly the signed content type and length, for a key still awaiting
// its bytes. A PUT never replaces bytes: it streams into a temporary file of its
// own and is placed under the key only if the upload still awaits bytes at that
// moment, else refused with 409 UPLOAD_CLOSED (S3's presigned PUT is conditional too).
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { MeteredStream } from "../../ingest/metered-stream.ts";
import { AppError, type ErrorCode, errors } from "../../errors.ts";
import { errorResponses } from "../../http/openapi.ts";
import { CHECKSUM_SHA256_HEADER, checksumSha256HeaderValue, type ByteRange } from "../blob-store.ts";
import { DiskBlobStore } from "./disk-blob-store.ts";

const isValidKey = (key: string) => DiskBlobStore.isValidKey(key);
import { Q, verify } from "./signed-url.ts";

const denied = (message: string) => new AppError("FORBIDDEN", message);

/** Parses a single `bytes=` range against `size`; null means "not satisfiable". */
export function parseRange(header: string, size: number): ByteRange | null {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return null;
  let start: number;
  let end: number;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0) return null;
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  return start <= end && start < size ? { start, end } : null;
}

function verifiedGet(store: DiskBlobStore, req: FastifyRequest<{ Params: { key: string } }>) {
  const query = req.query as Record<string, string | undefined>;
  const key = req.params.key;
  const signature = query[Q.signature];
  const expires = Number(query[Q.expires]);
  if (!signature || !Number.isInteger(expires) || !isValidKey(key)) throw denied("Request signature is missing or malformed");
  const fields = {
    method: "GET" as const,
    key,
    expires,
    disposition: query[Q.disposition],
    contentType: query[Q.contentType],
  };
  if (query[Q.method] !== "GET" || !verify(store.signingSecret, fields, signature)) {
    throw denied("Request signature does not match");
  }
  if (expires * 1000 < Date.now()) throw denied("Request has expired");
  return fields;
}

/** What the GET route may ask beyond the store: the blob's verified sha256, for its ETag. */
export type DiskDownloadHooks = { readySha256?(key: string): Promise<string | null> };

/**
 * A strong validator. Objects are immutable under random keys, so key and size
 * identify the bytes as well as their sha256 does; the sha256 (when the blob's
 * row knows it) is preferred because the PUT route answered with it too.
 */
export function blobEtag(key: string, size: number, sha256: string | null | undefined): string {
  return sha256 ? `"${sha256}"` : `"${key}-${size.toString(16)}"`;
}

/** If-None-Match (RFC 9110 13.1.2): weak comparison, `*` matches any current representation. */
const noneMatch = (header: string, etag: string) => header.trim() === "*" || header.split(",").some((tag) => tag.trim().replace(/^W\//, "") === etag);

/** True when the client's copy is current: If-None-Match decides when present, else If-Modified-Since. */
function notModified(req: FastifyRequest, etag: string, lastModified: Date): boolean {
  const inm = req.headers["if-none-match"];
  if (inm !== undefined) return noneMatch(inm, etag);
  const since = Date.parse(req.headers["if-modified-since"] ?? "");
  return Number.isFinite(since) && Math.floor(lastModified.getTime() / 1000) * 1000 <= since;
}

/** If-Range (RFC 9110 13.1.5): the range applies only to the representation the client has (strong ETag or exact date). */
function rangeStillValid(ifRange: string | undefined, etag: string, lastModified: Date): boolean {
  if (ifRange === undefined) return true;
  if (ifRange.trim().startsWith('"')) return ifRange.trim() === etag;
  return Date.parse(ifRange) === Math.floor(lastModified.getTime() / 1000) * 1000;
}

async function serve(store: DiskBlobStore, hooks: DiskDownloadHooks, req: FastifyRequest<{ Params: { key: string } }>, reply: FastifyReply) {
  const fields = verifiedGet(store, req);
  const head = await store.stat(fields.key);
  if (!head) throw new AppError("NOT_FOUND", "Blob not found");
  const etag = blobEtag(fields.key, head.size, await hooks.readySha256?.(fields.key));
  const { lastModified } = head;

  reply.header("Accept-Ranges", "bytes");
  reply.header("Content-Type", fields.contentType ?? "application/octet-stream");
  reply.header("X-Content-Type-Options", "nosniff");
  reply.header("Cache-Control", "private, max-age=0");
  reply.header("ETag", etag);
  reply.header("Last-Modified", lastModified.toUTCString());
  if (fields.disposition) reply.header("Content-Disposition", fields.disposition);
  if (notModified(req, etag, lastModified)) return reply.code(304).send();

  const ifRange = req.headers["if-range"];
  const rangeHeader = rangeStillValid(typeof ifRange === "string" ? ifRange : undefined, etag, lastModified) ? req.headers.range : undefined;
  let range: ByteRange | undefined;
  if (rangeHeader) {
    const parsed = parseRange(rangeHeader, head.size);
    if (!parsed) {
      reply.header("Content-Range", `bytes */${head.size}`);
      return reply.code(416).send();
    }
    range = parsed;
    reply.code(206).header("Content-Range", `bytes ${parsed.start}-${parsed.end}/${head.size}`);
  }
  reply.header("Content-Length", String(range ? range.end - range.start + 1 : head.size));
  if (req.method === "HEAD" || head.size === 0) return reply.send();
  return reply.send(await store.getStream(fields.key, range));
}

/** What the PUT route needs from the upload service, without depending on it. */
export type DiskUploadHooks = {
  /** True while `key` belongs to an upload still waiting for its bytes. */
  isAwaitingBytes(key: string): Promise<boolean>;
  /**
   * Runs `place` (puts a PUT's checked bytes under `key`, unless an object is
   * already there) only if `key` still awaits its bytes, atomically with that
   * check. True when the bytes were placed.
   */
  placeIfAwaiting(key: string, place: () => Promise<boolean>): Promise<boolean>;
  /**
   * Called once the bytes are stored; verifies and completes the upload (may throw an AppError).
   * `placed.sha256` is the digest of the bytes this PUT placed, hashed as they streamed in,
   * so the completion does not read the object back to hash it again.
   */
  completed(key: string, placed: { sha256: string }): Promise<void>;
};

function verifiedPut(store: DiskBlobStore, req: FastifyRequest<{ Params: { key: string } }>) {
  const query = req.query as Record<string, string | undefined>;
  const key = req.params.key;
  const signature = query[Q.signature];
  const expires = Number(query[Q.expires]);
  // Either the exact length, or (an upload of unknown size) the most it may send.
  const maxLength = query[Q.uploadMaxLength] === undefined ? undefined : Number(query[Q.uploadMaxLength]);
  const contentLength = maxLength === undefined ? Number(query[Q.uploadLength]) : undefined;
  const length = maxLength ?? contentLength;
  if (!signature || !Number.isInteger(expires) || !isValidKey(key) || !Number.isSafeInteger(length)) {
    throw denied("Request signature is missing or malformed");
  }
  const sha256 = query[Q.uploadSha256];
  const fields = { method: "PUT" as const, key, expires, contentType: query[Q.uploadType], contentLength, maxLength, sha256 };
  if (query[Q.method] !== "PUT" || !verify(store.signingSecret, fields, signature)) throw denied("Request signature does not match");
  if (expires * 1000 < Date.now()) throw denied("Request has expired");
  // The signed headers must be sent as signed, as S3 requires.
  if ((req.headers["content-type"] ?? "") !== fields.contentType) throw denied("Content-Type differs from the signed one");
  if (contentLength !== undefined && req.headers["content-length"] !== String(contentLength)) throw denied("Content-Length differs from the signed one");
  if (maxLength !== undefined && Number(req.headers["content-length"] ?? 0) > maxLength) throw errors.fileTooLarge(BigInt(maxLength));
  if (sha256 && req.headers[CHECKSUM_SHA256_HEADER] !== checksumSha256HeaderValue(sha256)) {
    throw denied(`${CHECKSUM_SHA256_HEADER} differs from the signed one`);
  }
  return fields;
}

async function accept(store: DiskBlobStore, hooks: DiskUploadHooks, req: FastifyRequest<{ Params: { key: string } }>, reply: FastifyReply) {
  const fields = verifiedPut(store, req);
  // An early refusal before any byte is read; placing checks again, under the row lock.
  if (!(await hooks.isAwaitingBytes(fields.key))) throw denied("This upload is not waiting for bytes");
  // Content-Length is enforced by Node's parser; the meter is a second guard, and the only
  // one for a chunked body of unknown size.
  const meter =
    fields.maxLength === undefined
      ? new MeteredStream(fields.contentLength!, () => new AppError("BAD_USER_INPUT", "The body is longer than the signed Content-Length"))
      : new MeteredStream(fields.maxLength, (max) => errors.fileTooLarge(BigInt(max)));
  meter.on("error", () => req.raw.unpipe(meter));
  // pipe() does not pass errors on: a client that goes away mid-body must fail the write.
  req.raw.on("error", (e) => meter.destroy(e));
  const body = await store.writeTemporary(fields.key, req.raw.pipe(meter));
  // A refused body only ever removes its own temporary file, never what is under the key.
  try {
    if (fields.contentLength !== undefined && meter.bytes !== fields.contentLength) {
      throw new AppError("BAD_USER_INPUT", "The body is shorter than the signed Content-Length");
    }
    // Like S3's BadDigest: the body is refused and the upload stays open for a retry.
    if (fields.sha256 && meter.sha256() !== fields.sha256.toLowerCase()) {
      throw new AppError("BAD_USER_INPUT", "The body's sha256 differs from the signed checksum", { expected: fields.sha256, received: meter.sha256() });
    }
    // Another PUT or the completion got there first (or the upload went) while this body streamed.
    if (!(await hooks.placeIfAwaiting(fields.key, () => body.placeIfAbsent()))) throw errors.uploadClosed();
  } finally {
    await body.discard();
  }
  await hooks.completed(fields.key, { sha256: meter.sha256() });
  return reply.code(200).header("ETag", `"${meter.sha256()}"`).send();
}

// ---------------------------------------------------------------------------
// OpenAPI (http/openapi.ts). Everything is documentation only: the handlers
// check the signed query themselves and answer 403, never a validation 400, and
// errors are rendered by whatever error handler the host app installed.

const KEY_PARAMS = {
  type: "object",
  properties: { key: { type: "string", pattern: "^[0-9a-z]{32}$", description: "The blob's server-made key" } },
  required: ["key"],
};
const signedQuery = (method: "GET" | "PUT", properties: Record<string, object>, required: string[]) => ({
  type: "object",
  properties: {
    [Q.method]: { type: "string", enum: [method], description: "The method the URL was signed for" },
    [Q.expires]: { type: "integer", description: "Expiry, unix seconds" },
    ...properties,
    [Q.signature]: { type: "string", description: "HMAC-SHA256 over the method, key, expiry and the other signed parameters" },
  },
  required: [Q.method, Q.expires, ...required, Q.signature],
});
const GET_QUERY = signedQuery(
  "GET",
  {
    [Q.disposition]: { type: "string", description: "Content-Disposition the answer carries (signed)" },
    [Q.contentType]: { type: "string", description: "Content-Type the answer carries (signed)" },
  },
  [],
);
const PUT_QUERY = signedQuery(
  "PUT",
  {
    [Q.uploadType]: { type: "string", description: "The Content-Type the body must be sent with" },
    [Q.uploadLength]: { type: "integer", description: "The exact Content-Length of the body" },
    [Q.uploadSha256]: { type: "string", description: "Hex sha256 the body must have (then the checksum header is required)" },
  },
  [Q.uploadType, Q.uploadLength],
);
const CONDITIONAL_HEADERS = {
  type: "object",
  properties: {
    range: { type: "string", description: "One `bytes=` range" },
    "if-none-match": { type: "string", description: "ETags the client holds; a match answers 304" },
    "if-modified-since": { type: "string", description: "HTTP date; unchanged since then answers 304 (ignored with If-None-Match)" },
    "if-range": { type: "string", description: "ETag or Last-Modified date; a Range applies only while it still matches" },
  },
};
const BINARY = { type: "string", format: "binary" };
// Response headers are JSON schemas (with their description), as in Fastify response schemas.
const VALIDATORS = {
  ETag: { type: "string", description: "The blob's sha256, or a stable value from its key and size" },
  "Last-Modified": { type: "string", description: "When the bytes were stored" },
};
const blobErrors = (...extra: ErrorCode[]) => errorResponses("FORBIDDEN", "NOT_FOUND", ...extra);

const downloadResponses = (content: Record<string, { schema: object }> | undefined) => ({
  200: { description: "The bytes, with the signed Content-Type and Content-Disposition", headers: VALIDATORS, content },
  206: {
    description: "The requested range",
    headers: { ...VALIDATORS, "Content-Range": { type: "string", description: "`bytes start-end/size`" } },
    content,
  },
  304: { description: "Not modified: the client's copy (If-None-Match / If-Modified-Since) is current", headers: VALIDATORS },
  416: { description: "Range not satisfiable (Content-Range: `bytes */size`)" },
});

const GET_SCHEMA = {
  tags: ["blobs"],
  operationId: "downloadBlob",
  summary: "Download a blob through a presigned URL (Range and conditional requests supported)",
  security: [],
  documentation: {
    params: KEY_PARAMS,
    querystring: GET_QUERY,
    headers: CONDITIONAL_HEADERS,
    response: { ...downloadResponses({ "*/*": { schema: BINARY } }), ...blobErrors() },
  },
};
const HEAD_SCHEMA = {
  ...GET_SCHEMA,
  operationId: "headBlob",
  summary: "The headers a download through this presigned URL would have",
  documentation: { ...GET_SCHEMA.documentation, response: { ...downloadResponses(undefined), ...blobErrors() } },
};
const PUT_SCHEMA = {
  tags: ["blobs"],
  operationId: "uploadBlob",
  summary: "Send a two-stage upload's bytes to its presigned URL, with exactly the signed headers",
  security: [],
  documentation: {
    params: KEY_PARAMS,
    querystring: PUT_QUERY,
    headers: {
      type: "object",
      properties: { [CHECKSUM_SHA256_HEADER]: { type: "string", description: "base64 sha256 of the body, when the URL signed one" } },
    },
    body: { description: "The file's bytes, with the signed Content-Type and Content-Length", content: { "*/*": { schema: BINARY } } },
    response: {
      200: { description: "Stored (and, on this store, the upload completed)", headers: { ETag: { type: "string", description: "The body's sha256" } } },
      ...blobErrors("BAD_USER_INPUT", "UPLOAD_CLOSED", "LIMITS_REACHED", "UNSUPPORTED_MEDIA_TYPE"),
    },
  },
};

/** Without hooks (store-level tests) every validly signed PUT for a free key is accepted and nothing is completed. */
const STORE_ONLY: DiskUploadHooks = { isAwaitingBytes: async () => true, placeIfAwaiting: (_key, place) => place(), completed: async () => {} };

export async function registerDiskBlobRoutes(
  app: FastifyInstance,
  store: DiskBlobStore,
  hooks: DiskUploadHooks = STORE_ONLY,
  downloads: DiskDownloadHooks = {},
): Promise<void> {
  await app.register(async (scope) => {
    // Bodies are streamed to the store as they are, whatever their type.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", (_req, _payload, done) => done(null));
    // HEAD is its own route (not Fastify's implicit one) so the document lists it with its own operationId.
    scope.get<{ Params: { key: string } }>("/blobs/:key", { exposeHeadRoute: false, schema: GET_SCHEMA }, (req, reply) => serve(store, downloads, req, reply));
    scope.head<{ Params: { key: string } }>("/blobs/:key", { schema: HEAD_SCHEMA, config: { swagger: { exposeHeadRoute: true } } }, (req, reply) =>
      serve(store, downloads, req, reply),
    );
    scope.put<{ Params: { key: string } }>("/blobs/:key", { bodyLimit: Number.MAX_SAFE_INTEGER, schema: PUT_SCHEMA }, (req, reply) =>
      accept(store, hooks, req, reply),
    );
  });
}
