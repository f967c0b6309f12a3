// One delivery attempt: re-check the target (SSRF rules of URL import, DNS
// asked again), POST the stored body to exactly the checked addresses, record
// the outcome. 2xx is success; any other status, a redirect, a refused target,
// a network error or the timeout is a failed attempt, retried by the job.
import http from "node:http";
import https from "node:https";
import net from "node:net";
import type { PrismaClient } from "../../db/prisma.ts";
import { checkOutboundUrl, pinnedLookup, type ResolvedAddress } from "../../ingest/url-import.ts";
import type { WebhookTargetRules } from "./webhook.service.ts";
import { SIGNATURE_HEADER, signatureHeader } from "./webhook.signature.ts";

/** Characters of the response body kept in the delivery log; the rest is never read. */
export const RESPONSE_EXCERPT_CHARS = 512;
const EXCERPT_BYTES = RESPONSE_EXCERPT_CHARS * 4;
const ERROR_CHARS = 500;

export type DeliverySettings = WebhookTargetRules & {
  /** An attempt's limit: resolve, connect, send, and receive the response headers and excerpt. */
  timeoutMs: number;
};

type Outcome = { ok: true; status: number; excerpt: string } | { ok: false; status: number | null; excerpt: string | null; error: string };

/** Postgres text cannot hold NUL; control characters make logs unreadable. */
const clean = (s: string, max: number) => s.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, "\ufffd").slice(0, max);

function post(url: URL, addresses: ResolvedAddress[], headers: Record<string, string>, body: string, timeoutMs: number): Promise<Outcome> {
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const client = url.protocol === "https:" ? https : http;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (o: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(o);
    };
    const req = client.request({
      method: "POST",
      host,
      port: url.port || undefined,
      path: `${url.pathname}${url.search}`,
      headers: { ...headers, host: url.host, "content-length": String(Buffer.byteLength(body)) },
      lookup: pinnedLookup(addresses),
      servername: net.isIP(host) ? undefined : host,
      // No pooled socket: each attempt connects to the addresses it checked.
      agent: false,
    });
    let status: number | null = null;
    const chunks: Buffer[] = [];
    const excerpt = () => clean(Buffer.concat(chunks).subarray(0, EXCERPT_BYTES).toString("utf8"), RESPONSE_EXCERPT_CHARS);
    const ok = () => status !== null && status >= 200 && status <= 299;
    // A 2xx whose body is still coming when time is up is a success: the status is the answer.
    const timer = setTimeout(
      () =>
        ok()
          ? finish({ ok: true, status: status!, excerpt: excerpt() })
          : finish({ ok: false, status, excerpt: status === null ? null : excerpt(), error: `No answer within ${timeoutMs} ms` }),
      timeoutMs,
    );
    req.on("error", (e: NodeJS.ErrnoException) =>
      finish({ ok: false, status, excerpt: null, error: `Could not deliver to ${url.host}${e.code ? ` (${e.code})` : ""}` }),
    );
    req.on("response", (res) => {
      status = res.statusCode ?? 0;
      let bytes = 0;
      const done = () => {
        if (ok()) finish({ ok: true, status: status!, excerpt: excerpt() });
        else finish({ ok: false, status, excerpt: excerpt(), error: `${url.host} answered with status ${status}` });
      };
      res.on("data", (chunk: Buffer) => {
        chunks.push(chunk);
        bytes += chunk.length;
        // Enough for the excerpt: the rest of the body is not read.
        if (bytes >= EXCERPT_BYTES) done();
      });
      res.on("end", done);
      res.on("error", done);
    });
    req.end(body);
  });
}

export type AttemptResult = { delivered: boolean; skipped?: string; status?: number | null; error?: string; attempt?: number };

/**
 * Runs one attempt of delivery `deliveryId`. `last`: no retry follows, so a
 * failure marks it FAILED. Returns what happened; the job turns a failure
 * into a retry. A delivery that is gone (webhook deleted) or already settled
 * is skipped: jobs may run twice.
 */
export async function attemptDelivery(prisma: PrismaClient, settings: DeliverySettings, deliveryId: string, last: boolean): Promise<AttemptResult> {
  // Counted before the request: an attempt cut short by a crash still shows.
  const [row] = await prisma.$queryRaw<{ attempts: number; body: string; event_type: string; url: string; secret: string; webhook_id: string }[]>`
    UPDATE webhook_deliveries d SET attempts = d.attempts + 1, last_attempt_at = now()
      FROM webhooks w
     WHERE d.id = ${deliveryId} AND w.id = d.webhook_id AND d.status IN ('PENDING', 'RETRYING')
    RETURNING d.attempts, d.body, d.event_type, w.url, w.secret, w.id AS webhook_id`;
  if (!row) return { delivered: false, skipped: "the delivery is gone or settled" };

  let outcome: Outcome;
  try {
    // The same checks as at creation, with a fresh DNS answer; we dial what they returned.
    const target = await checkOutboundUrl(row.url, { ...settings, connectTimeoutMs: Math.min(settings.connectTimeoutMs, settings.timeoutMs) });
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = {
      "content-type": "application/json",
      "user-agent": "Cabinet-Webhooks/1",
      "cabinet-delivery": deliveryId,
      "cabinet-webhook": row.webhook_id,
      "cabinet-event": row.event_type,
      "cabinet-attempt": String(row.attempts),
      "cabinet-timestamp": String(timestamp),
      [SIGNATURE_HEADER]: signatureHeader(row.secret, timestamp, row.body),
    };
    outcome = await post(target.url, target.addresses, headers, row.body, settings.timeoutMs);
  } catch (e) {
    const code = (e as { code?: string }).code;
    outcome = { ok: false, status: null, excerpt: null, error: `${code ? `${code}: ` : ""}${(e as Error).message}` };
  }

  if (outcome.ok) {
    await prisma.$executeRaw`
      UPDATE webhook_deliveries SET status = 'SUCCEEDED', response_status = ${outcome.status}, response_excerpt = ${outcome.excerpt},
             last_error = NULL, completed_at = now()
       WHERE id = ${deliveryId}`;
    return { delivered: true, status: outcome.status, attempt: row.attempts };
  }
  const error = clean(outcome.error, ERROR_CHARS);
  await prisma.$executeRaw`
    UPDATE webhook_deliveries SET status = ${last ? "FAILED" : "RETRYING"}::"WebhookDeliveryStatus", response_status = ${outcome.status},
           response_excerpt = ${outcome.excerpt}, last_error = ${error}, completed_at = ${last ? new Date() : null}
     WHERE id = ${deliveryId}`;
  return { delivered: false, status: outcome.status, error, attempt: row.attempts };
}
