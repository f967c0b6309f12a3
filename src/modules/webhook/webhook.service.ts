// Webhooks: a space's subscription of an external URL to event types. Managed
// by the space's admins (access/webhook-access.ts). Targets pass the URL
// import's SSRF checks (ingest/url-import.ts) at creation, and again at each
// delivery (webhook.delivery.ts), since DNS answers may change.
import { requireWebhookAdmin, WEBHOOK_PERMISSION } from "../../access/webhook-access.ts";
import { requireSpacePermission } from "../../access/space-access.ts";
import type { Viewer } from "../../access/viewer.ts";
import type { PrismaClient } from "../../db/prisma.ts";
import { AppError, errors } from "../../errors.ts";
import { newId } from "../../ids.ts";
import { checkOutboundUrl, type ResolvedAddress } from "../../ingest/url-import.ts";
import { parseWebhookEvents } from "./webhook.events.ts";
import { newWebhookSecret } from "./webhook.signature.ts";

export type WebhookService = ReturnType<typeof createWebhookService>;

/** Webhooks one space may have. */
export const MAX_WEBHOOKS_PER_SPACE = 20;
export const MAX_WEBHOOK_URL_LENGTH = 2048;
/** A secret of the caller's: visible ASCII, no spaces. */
const SECRET_RULE = /^[\x21-\x7e]{16,256}$/;

/** The SSRF settings of webhook targets: URL import's allow-list, and a resolve limit. */
export type WebhookTargetRules = {
  allowHosts: readonly string[];
  connectTimeoutMs: number;
  lookup?: (hostname: string) => Promise<readonly ResolvedAddress[]>;
};

export function createWebhookService(deps: { prisma: PrismaClient; targets: WebhookTargetRules }) {
  const { prisma, targets } = deps;

  async function checkTarget(raw: string): Promise<string> {
    if (raw.length > MAX_WEBHOOK_URL_LENGTH) throw errors.badInput(`A webhook URL may have at most ${MAX_WEBHOOK_URL_LENGTH} characters`);
    try {
      const { url } = await checkOutboundUrl(raw, targets);
      return url.href;
    } catch (e) {
      // A name that does not resolve is the caller's mistake here, not a failed fetch.
      if (e instanceof AppError && e.code === "URL_FETCH_FAILED") throw errors.badInput(e.message, { ...e.details, reason: "UNRESOLVABLE" });
      throw e;
    }
  }

  /**
   * Creates a webhook; returns it with its secret, which is shown only here.
   * Without `secret` one is generated. Delivers the events committed after
   * this call (nothing older).
   */
  async function createWebhook(viewer: Viewer, input: { spaceId: string; url: string; events: readonly string[]; secret?: string | null }) {
    const space = await requireSpacePermission(prisma, viewer, input.spaceId, WEBHOOK_PERMISSION);
    const events = parseWebhookEvents(input.events);
    if (input.secret != null && !SECRET_RULE.test(input.secret)) {
      throw errors.badInput("A webhook secret must be 16 to 256 visible ASCII characters (no spaces)", { reason: "SECRET" });
    }
    const url = await checkTarget(input.url);
    const secret = input.secret ?? newWebhookSecret();
    return prisma.$transaction(async (tx) => {
      // Row lock on the space: concurrent creations count each other.
      await tx.$queryRaw`SELECT id FROM spaces WHERE id = ${space.id} FOR UPDATE`;
      const count = await tx.webhook.count({ where: { spaceId: space.id } });
      if (count >= MAX_WEBHOOKS_PER_SPACE) {
        throw errors.limitsReached(`A space may have at most ${MAX_WEBHOOKS_PER_SPACE} webhooks`, {
          reason: "WEBHOOKS_PER_SPACE",
          limit: MAX_WEBHOOKS_PER_SPACE,
        });
      }
      // The dispatcher's position, locked: a pass that read the webhooks before this one
      // committed must not move past events this webhook is owed (those after `last`).
      const [cursor] = await tx.$queryRaw<{ position: bigint }[]>`SELECT position FROM webhook_dispatch_cursor FOR UPDATE`;
      // Event ids follow commit order: every event committed after this read has a larger id.
      const [{ last }] = (await tx.$queryRaw<{ last: bigint }[]>`SELECT coalesce(max(id), 0)::bigint AS last FROM events`) as [{ last: bigint }];
      // With no webhook anywhere the dispatcher does not run passes (nothing to deliver), so its
      // position may lag far behind; the first webhook moves it to where it starts.
      const anyOther = await tx.webhook.findFirst({ select: { id: true } });
      if (!anyOther && cursor && cursor.position < last) await tx.$executeRaw`UPDATE webhook_dispatch_cursor SET position = ${last}`;
      const webhook = await tx.webhook.create({
        data: { id: newId("Webhook"), spaceId: space.id, url, events, secret, createdById: viewer.accountId, startAfterEventId: last },
      });
      return { webhook, secret };
    });
  }

  /**
   * Deletes a webhook and its delivery log. Nothing more is sent to it: queued
   * deliveries find their row gone and do nothing (an attempt already in flight
   * may still arrive).
   */
  async function deleteWebhook(viewer: Viewer, id: string): Promise<{ id: string }> {
    const hook = await requireWebhookAdmin(prisma, viewer, id);
    const { count } = await prisma.webhook.deleteMany({ where: { id: hook.id } });
    if (!count) throw errors.notFound("Webhook");
    return { id: hook.id };
  }

  return { createWebhook, deleteWebhook };
}
