// Serves the disk driver's presigned GET URLs with S3's semantics: expired,
// tampered or wrong-method URLs get 403; Range requests get 206; the signed
// response headers (content type, disposition) are applied verbatim.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { AppError } from "../errors.ts";
import type { ByteRange } from "./blob-store.ts";
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

export function registerDiskBlobRoutes(app: FastifyInstance, store: DiskBlobStore): void {
  app.get<{ Params: { key: string } }>("/blobs/:key", (req, reply) => serve(store, req, reply));
  // Fastify answers HEAD for GET routes by default (exposeHeadRoutes), through the same handler.
}
