// Serves the disk driver's presigned URLs with S3's semantics: expired,
// tampered or wrong-method URLs get 403; GET answers Range requests with 206
// and applies the signed response headers verbatim; PUT accepts exactly the
// signed content type and length, for a key still awaiting its bytes.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { MeteredStream } from "../../ingest/metered-stream.ts";
import { AppError } from "../../errors.ts";
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

async function serve(store: DiskBlobStore, req: FastifyRequest<{ Params: { key: string } }>, reply: FastifyReply) {
  const fields = verifiedGet(store, req);
  const head = await store.head(fields.key);
  if (!head) throw new AppError("NOT_FOUND", "Blob not found");

  reply.header("Accept-Ranges", "bytes");
  reply.header("Content-Type", fields.contentType ?? "application/octet-stream");
  reply.header("X-Content-Type-Options", "nosniff");
  reply.header("Cache-Control", "private, max-age=0");
  if (fields.disposition) reply.header("Content-Disposition", fields.disposition);

  const rangeHeader = req.headers.range;
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
  /** Called once the bytes are stored; verifies and completes the upload (may throw an AppError). */
  completed(key: string): Promise<void>;
};

function verifiedPut(store: DiskBlobStore, req: FastifyRequest<{ Params: { key: string } }>) {
  const query = req.query as Record<string, string | undefined>;
  const key = req.params.key;
  const signature = query[Q.signature];
  const expires = Number(query[Q.expires]);
  const contentLength = Number(query[Q.uploadLength]);
  if (!signature || !Number.isInteger(expires) || !isValidKey(key) || !Number.isSafeInteger(contentLength)) {
    throw denied("Request signature is missing or malformed");
  }
  const sha256 = query[Q.uploadSha256];
  const fields = { method: "PUT" as const, key, expires, contentType: query[Q.uploadType], contentLength, sha256 };
  if (query[Q.method] !== "PUT" || !verify(store.signingSecret, fields, signature)) throw denied("Request signature does not match");
  if (expires * 1000 < Date.now()) throw denied("Request has expired");
  // The signed headers must be sent as signed, as S3 requires.
  if ((req.headers["content-type"] ?? "") !== fields.contentType) throw denied("Content-Type differs from the signed one");
  if (req.headers["content-length"] !== String(contentLength)) throw denied("Content-Length differs from the signed one");
  if (sha256 && req.headers[CHECKSUM_SHA256_HEADER] !== checksumSha256HeaderValue(sha256)) {
    throw denied(`${CHECKSUM_SHA256_HEADER} differs from the signed one`);
  }
  return fields;
}

async function accept(store: DiskBlobStore, hooks: DiskUploadHooks, req: FastifyRequest<{ Params: { key: string } }>, reply: FastifyReply) {
  const fields = verifiedPut(store, req);
  if (!(await hooks.isAwaitingBytes(fields.key))) throw denied("This upload is not waiting for bytes");
  // Content-Length is enforced by Node's parser; the meter is a second guard.
  const meter = new MeteredStream(fields.contentLength, () => new AppError("BAD_USER_INPUT", "The body is longer than the signed Content-Length"));
  meter.on("error", () => req.raw.unpipe(meter));
  await store.put(fields.key, req.raw.pipe(meter), { contentType: fields.contentType ?? "application/octet-stream" });
  if (meter.bytes !== fields.contentLength) {
    await store.delete(fields.key);
    throw new AppError("BAD_USER_INPUT", "The body is shorter than the signed Content-Length");
  }
  // Like S3's BadDigest: the body is refused and the upload stays open for a retry.
  if (fields.sha256 && meter.sha256() !== fields.sha256.toLowerCase()) {
    await store.delete(fields.key);
    throw new AppError("BAD_USER_INPUT", "The body's sha256 differs from the signed checksum", { expected: fields.sha256, received: meter.sha256() });
  }
  await hooks.completed(fields.key);
  return reply.code(200).header("ETag", `"${meter.sha256()}"`).send();
}

/** Without hooks (store-level tests) every validly signed PUT is accepted and nothing is completed. */
const STORE_ONLY: DiskUploadHooks = { isAwaitingBytes: async () => true, completed: async () => {} };

export async function registerDiskBlobRoutes(app: FastifyInstance, store: DiskBlobStore, hooks: DiskUploadHooks = STORE_ONLY): Promise<void> {
  await app.register(async (scope) => {
    // Bodies are streamed to the store as they are, whatever their type.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", (_req, _payload, done) => done(null));
    scope.get<{ Params: { key: string } }>("/blobs/:key", (req, reply) => serve(store, req, reply));
    // Fastify answers HEAD for GET routes by default (exposeHeadRoutes), through the same handler.
    scope.put<{ Params: { key: string } }>("/blobs/:key", { bodyLimit: Number.MAX_SAFE_INTEGER }, (req, reply) => accept(store, hooks, req, reply));
  });
}
