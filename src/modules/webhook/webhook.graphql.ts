// Webhook and WebhookDelivery types, the webhooks and webhookDeliveries
// queries, createWebhook and deleteWebhook. All for the space's admins.
import { canManageWebhooksOf, requireWebhookAdmin, WEBHOOK_PERMISSION } from "../../access/webhook-access.ts";
import { requireSpacePermission } from "../../access/space-access.ts";
import { encodeCursor } from "../../events/event-log.ts";
import { errors } from "../../errors.ts";
import { builder } from "../../graphql/builder.ts";
import { registerNodeLoader } from "../node/node-registry.ts";
import { WEBHOOK_EVENT_TYPES } from "./webhook.events.ts";

export const WebhookRef = builder.prismaNode("Webhook", {
  id: { field: "id" },
  description: "A space's subscription of an external URL to events. The secret is shown once, by createWebhook.",
  fields: (t) => ({
    spaceId: t.exposeID("spaceId"),
    space: t.relation("space"),
    url: t.exposeString("url"),
    events: t.exposeStringList("events", { description: "Event types (entry.created), patterns (entry.*) or *; sorted." }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

registerNodeLoader("Webhook", [WebhookRef], async (id, viewer, ctx) => {
  const hook = await ctx.prisma.webhook.findUnique({ where: { id }, include: { space: { select: { id: true, organizationId: true } } } });
  return hook && canManageWebhooksOf(viewer, hook.space) ? { type: WebhookRef, node: hook } : null;
});

const WebhookDeliveryStatusEnum = builder.enumType("WebhookDeliveryStatus", {
  values: {
    PENDING: { description: "Waiting for its first attempt." },
    RETRYING: { description: "An attempt failed; another follows after an exponential backoff." },
    SUCCEEDED: { description: "The target answered 2xx." },
    FAILED: { description: "Every attempt failed; no more follow." },
  } as const,
});

builder.prismaObject("WebhookDelivery", {
  description: "One event sent (or being sent) to one webhook. The id is the Cabinet-Delivery header, the same on every attempt.",
  fields: (t) => ({
    id: t.exposeID("id"),
    webhookId: t.exposeID("webhookId"),
    eventCursor: t.string({ description: "The event's cursor (its position in the event log).", resolve: (d) => encodeCursor(d.eventId) }),
    eventType: t.exposeString("eventType"),
    status: t.expose("status", { type: WebhookDeliveryStatusEnum }),
    attempts: t.exposeInt("attempts", { description: "Attempts started so far." }),
    lastError: t.exposeString("lastError", { nullable: true, description: "Why the last attempt failed." }),
    responseStatus: t.exposeInt("responseStatus", { nullable: true, description: "HTTP status of the last answer, if one came." }),
    responseExcerpt: t.exposeString("responseExcerpt", { nullable: true, description: "The first 512 characters of the last answer's body." }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    lastAttemptAt: t.expose("lastAttemptAt", { type: "DateTime", nullable: true }),
    completedAt: t.expose("completedAt", { type: "DateTime", nullable: true, description: "When it SUCCEEDED or FAILED." }),
  }),
});

const CreateWebhookInput = builder.inputType("CreateWebhookInput", {
  fields: (t) => ({
    spaceId: t.id(),
    url: t.string({ description: "http(s) URL; loopback and private addresses are refused (URL_FORBIDDEN) unless IMPORT_ALLOW_HOSTS allows the host." }),
    events: t.stringList({ description: `Event types to deliver: ${WEBHOOK_EVENT_TYPES.join(", ")}; or noun.* (entry.*), or *.` }),
    secret: t.string({ required: false, description: "The signing secret (16-256 visible ASCII characters). Without it one is generated." }),
  }),
});

const CreateWebhookPayload = builder.objectRef<{ webhook: { id: string }; secret: string }>("CreateWebhookPayload").implement({
  fields: (t) => ({
    webhook: t.field({ type: WebhookRef, resolve: (p, _args, ctx) => ctx.prisma.webhook.findUniqueOrThrow({ where: { id: p.webhook.id } }) }),
    secret: t.exposeString("secret", { description: "The signing secret. Shown only here: store it now." }),
  }),
});

const DeleteWebhookPayload = builder.objectRef<{ id: string }>("DeleteWebhookPayload").implement({
  fields: (t) => ({ id: t.exposeID("id", { description: "The deleted webhook." }) }),
});

builder.queryFields((t) => ({
  webhooks: t.prismaField({
    type: [WebhookRef],
    description: "The space's webhooks, oldest first (space:admin; at most 20 per space).",
    args: { spaceId: t.arg.id() },
    resolve: async (query, _root, args, ctx) => {
      const space = await requireSpacePermission(ctx.prisma, await ctx.viewer(), args.spaceId, WEBHOOK_PERMISSION);
      return ctx.prisma.webhook.findMany({ ...query, where: { spaceId: space.id }, orderBy: [{ createdAt: "asc" }, { id: "asc" }] });
    },
  }),
  webhookDeliveries: t.prismaConnection({
    type: "WebhookDelivery",
    cursor: "id",
    description: "A webhook's delivery log, newest event first (space:admin). Settled deliveries are kept WEBHOOK_DELIVERY_RETENTION_DAYS.",
    args: { webhookId: t.arg.id() },
    resolve: async (query, _root, args, ctx) => {
      const hook = await requireWebhookAdmin(ctx.prisma, await ctx.viewer(), args.webhookId);
      if (query.cursor && typeof (query.cursor as { id?: unknown }).id !== "string") throw errors.badInput("Invalid cursor");
      return ctx.prisma.webhookDelivery.findMany({ ...query, where: { webhookId: hook.id }, orderBy: [{ eventId: "desc" }, { id: "desc" }] });
    },
  }),
}));

builder.mutationFields((t) => ({
  createWebhook: t.field({
    type: CreateWebhookPayload,
    description:
      "Subscribes a URL to the space's events (space:admin). Events committed from now on are POSTed to it, signed with the secret (see the README's Webhooks section).",
    args: { input: t.arg({ type: CreateWebhookInput }) },
    resolve: async (_root, { input }, ctx) => ctx.deps.services.webhooks.createWebhook(await ctx.viewer(), input),
  }),
  deleteWebhook: t.field({
    type: DeleteWebhookPayload,
    description: "Deletes a webhook and its delivery log (space:admin); nothing more is sent to it.",
    args: { id: t.arg.id() },
    resolve: async (_root, args, ctx) => ctx.deps.services.webhooks.deleteWebhook(await ctx.viewer(), args.id),
  }),
}));
