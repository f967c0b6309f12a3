// The bundled GraphiQL page (about 9 MB of HTML with its scripts inlined),
// served from GET /graphql to browsers. It is rendered and compressed once per
// process, on first use (gzip and brotli), and served in the encoding the
// browser accepts, with a strong ETag per encoding; If-None-Match answers 304.
import { createHash } from "node:crypto";
import { promisify } from "node:util";
import { brotliCompress, constants, gzip } from "node:zlib";
import { renderGraphiQL } from "@graphql-yoga/render-graphiql";
import type { FastifyReply, FastifyRequest } from "fastify";

/** What the page is rendered with. Subscriptions go over graphql-ws, with the headers panel's token (http/graphql-ws.ts). */
export const GRAPHIQL_OPTIONS = { title: "Cabinet", subscriptionsProtocol: "WS" } as const;

type Encoding = "br" | "gzip" | "identity";
type Page = { etag: string; bodies: Record<Encoding, Buffer> };

let page: Promise<Page> | undefined;

async function build(): Promise<Page> {
  const html = Buffer.from(renderGraphiQL(GRAPHIQL_OPTIONS));
  const [br, gz] = await Promise.all([
    // Measured on the 9 MB page: brotli 5 gives 1.95 MB in 0.9 s (quality 9: 1.86 MB in 7 s with
    // gzip 9), gzip 6 gives 2.44 MB in 0.4 s. The first GraphiQL visit waits for the slower one.
    promisify(brotliCompress)(html, { params: { [constants.BROTLI_PARAM_QUALITY]: 5, [constants.BROTLI_PARAM_SIZE_HINT]: html.length } }),
    promisify(gzip)(html, { level: 6 }),
  ]);
  return { etag: createHash("sha256").update(html).digest("base64url").slice(0, 27), bodies: { br, gzip: gz, identity: html } };
}

/** The page, built on first call and kept for the process (it never changes while it runs). */
export const graphiqlPage = (): Promise<Page> => (page ??= build());

/** yoga's rule (shouldRenderGraphiQL): a GET that accepts HTML is a browser asking for GraphiQL. */
export const wantsGraphiQL = (req: FastifyRequest) => req.method === "GET" && !!req.headers.accept?.includes("text/html");

/** The best encoding the request accepts (q=0 refuses one); brotli first. */
export function chooseEncoding(acceptEncoding: string | undefined): Encoding {
  const accepted = new Map<string, number>();
  for (const part of (acceptEncoding ?? "").split(",")) {
    const [name, ...params] = part.trim().toLowerCase().split(";");
    if (!name) continue;
    const q = params.map((p) => /^\s*q=([\d.]+)\s*$/.exec(p)?.[1]).find(Boolean);
    accepted.set(name, q === undefined ? 1 : Number(q));
  }
  const ok = (name: string) => (accepted.get(name) ?? accepted.get("*") ?? 0) > 0;
  if (ok("br")) return "br";
  if (ok("gzip")) return "gzip";
  return "identity";
}

const etagOf = (base: string, encoding: Encoding) => `"${base}${encoding === "identity" ? "" : `-${encoding}`}"`;

export async function serveGraphiQL(req: FastifyRequest, reply: FastifyReply) {
  const { etag, bodies } = await graphiqlPage();
  const encoding = chooseEncoding(req.headers["accept-encoding"]);
  const tag = etagOf(etag, encoding);
  reply.header("Content-Type", "text/html; charset=utf-8").header("Vary", "Accept-Encoding").header("Cache-Control", "no-cache").header("ETag", tag);
  const inm = req.headers["if-none-match"];
  // Any encoding's tag names the same page: a client that switched encodings still has it.
  if (inm?.split(",").some((t) => t.trim().replace(/^W\//, "").startsWith(`"${etag}`))) return reply.code(304).send();
  if (encoding !== "identity") reply.header("Content-Encoding", encoding);
  return reply.header("Content-Length", String(bodies[encoding].length)).send(bodies[encoding]);
}
