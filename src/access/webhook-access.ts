// Webhooks are managed by the space's admins: organization admins and holders
// of `space:admin` on it. A webhook of a space the viewer cannot see is
// NOT_FOUND, like the space itself.
import type { PrismaClient } from "../db/prisma.ts";
import { errors } from "../errors.ts";
import { canSeeSpace, hasPermission } from "./space-access.ts";
import type { Viewer } from "./viewer.ts";

export const WEBHOOK_PERMISSION = "space:admin" as const;

/** Loads a webhook and checks the viewer may manage it (NOT_FOUND, FORBIDDEN). */
export async function requireWebhookAdmin(prisma: PrismaClient, viewer: Viewer, webhookId: string): Promise<{ id: string; spaceId: string }> {
  const hook = await prisma.webhook.findUnique({
    where: { id: webhookId },
    select: { id: true, spaceId: true, space: { select: { id: true, organizationId: true } } },
  });
  if (!hook || !canSeeSpace(viewer, hook.space)) throw errors.notFound("Webhook");
  if (!hasPermission(viewer, hook.space, WEBHOOK_PERMISSION)) throw errors.forbidden(WEBHOOK_PERMISSION);
  return { id: hook.id, spaceId: hook.spaceId };
}

/** node(id): a webhook is visible to whoever may manage it. */
export function canManageWebhooksOf(viewer: Viewer, space: { id: string; organizationId: string }): boolean {
  return hasPermission(viewer, space, WEBHOOK_PERMISSION);
}
