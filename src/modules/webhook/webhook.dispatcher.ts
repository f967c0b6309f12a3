// The dispatcher: turns the event log into webhook deliveries, at least once
// each, surviving crashes. It runs in every process that runs job workers.
//
// One persisted position (webhook_dispatch_cursor) says up to which event the
// log has been dispatched. A pass, in ONE transaction:
//   1. locks the cursor row (passes of several processes queue up; none skips);
//   2. reads the events after it, in id order (ids follow commit order,
//      decision 40, so nothing can later commit below the position);
//   3. inserts a webhook_deliveries row per (matching webhook, event),
//      ON CONFLICT DO NOTHING on the unique pair, and enqueues one
//      `webhook.deliver` job per inserted row, through the same transaction;
//   4. moves the cursor past what it read.
// A crash anywhere rolls all of it back and the next pass redoes it; a
// committed pass has its deliveries and jobs. Passes start on every event the
// process's tail sees, on a timer (the safety net), and when workers start;
// while no webhook exists at all, a pass is one EXISTS read and nothing more
// (createWebhook takes the cursor's lock, and the first one moves it forward).
import type { PrismaClient, Tx } from "../../db/prisma.ts";
import type { Logger } from "../../deps.ts";
import { encodeCursor } from "../../events/event-log.ts";
import type { EventTail } from "../../events/event-tail.ts";
import { newId } from "../../ids.ts";
import type { JobQueue } from "../../jobs/queue.ts";
import { webhookWants } from "./webhook.events.ts";

/** Events read per pass (one transaction). */
const PAGE = 200;
const RETRY_MS = 1_000;

export type WebhookDispatcher = {
  start(): void;
  /** Stops waking up and waits for a running pass. */
  stop(): Promise<void>;
  /** Dispatches everything committed so far (resolves once done). */
  flush(): Promise<void>;
};

type EventRow = { id: bigint; space_id: string | null; type: string; subject_id: string; payload: unknown; created_at: Date };
type HookRow = { id: string; space_id: string; events: string[]; start_after_event_id: bigint };

/** The JSON body of a delivery: the event as the log holds it, with its cursor. */
export function deliveryBody(deliveryId: string, webhookId: string, e: EventRow): string {
  return JSON.stringify({
    id: deliveryId,
    webhookId,
    cursor: encodeCursor(e.id),
    type: e.type,
    spaceId: e.space_id,
    subjectId: e.subject_id,
    occurredAt: e.created_at.toISOString(),
    payload: e.payload,
  });
}

/** One pass over at most PAGE events. Returns how many events it consumed. */
export async function dispatchPage(tx: Tx, queue: Pick<JobQueue, "send">, log: Logger): Promise<number> {
  const [cursor] = await tx.$queryRaw<{ position: bigint; horizon: bigint }[]>`
    SELECT c.position, h.pruned_through AS horizon FROM webhook_dispatch_cursor c, event_log_horizon h FOR UPDATE OF c`;
  if (!cursor) throw new Error("webhook_dispatch_cursor has no row");
  let position = cursor.position;
  if (position < cursor.horizon) {
    // Workers were down for longer than the event retention: these events are gone. Said once:
    // the position moves past them with this pass.
    log.error({ from: String(position + 1n), through: String(cursor.horizon) }, "webhook dispatcher: events were pruned before they were dispatched");
    position = cursor.horizon;
  }
  const events = await tx.$queryRaw<EventRow[]>`
    SELECT id, space_id, type, subject_id, payload, created_at FROM events WHERE id > ${position} ORDER BY id LIMIT ${PAGE}`;
  if (!events.length) {
    if (position !== cursor.position) await tx.$executeRaw`UPDATE webhook_dispatch_cursor SET position = ${position}`;
    return 0;
  }
  const spaceIds = [...new Set(events.flatMap((e) => (e.space_id ? [e.space_id] : [])))];
  const hooks = spaceIds.length
    ? await tx.$queryRaw<HookRow[]>`SELECT id, space_id, events, start_after_event_id FROM webhooks WHERE space_id = ANY(${spaceIds}::text[])`
    : [];
  const rows: { id: string; webhookId: string; eventId: string; type: string; body: string }[] = [];
  for (const e of events) {
    for (const hook of hooks) {
      if (hook.space_id !== e.space_id || e.id <= hook.start_after_event_id || !webhookWants(hook.events, e.type)) continue;
      const id = newId("WebhookDelivery");
      rows.push({ id, webhookId: hook.id, eventId: e.id.toString(), type: e.type, body: deliveryBody(id, hook.id, e) });
    }
  }
  if (rows.length) {
    const inserted = await tx.$queryRaw<{ id: string }[]>`
      INSERT INTO webhook_deliveries (id, webhook_id, event_id, event_type, body)
      SELECT * FROM unnest(${rows.map((r) => r.id)}::text[], ${rows.map((r) => r.webhookId)}::text[], ${rows.map((r) => r.eventId)}::bigint[],
                           ${rows.map((r) => r.type)}::text[], ${rows.map((r) => r.body)}::text[])
      ON CONFLICT (webhook_id, event_id) DO NOTHING
      RETURNING id`;
    for (const { id } of inserted) await queue.send("webhook.deliver", { deliveryId: id }, { tx });
  }
  await tx.$executeRaw`UPDATE webhook_dispatch_cursor SET position = ${events.at(-1)!.id}`;
  return events.length;
}

export function createWebhookDispatcher(deps: {
  prisma: PrismaClient;
  queue: Pick<JobQueue, "send">;
  events: Pick<EventTail, "subscribeAll">;
  logger: Logger;
  pollIntervalMs: number;
}): WebhookDispatcher {
  const { prisma, queue, logger } = deps;
  let unsubscribe: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let stopped = true;
  // Passes never overlap in this process; a wake-up during a pass asks for one more.
  let running: Promise<void> | null = null;
  let again = false;

  async function drain() {
    for (;;) {
      again = false;
      // Without any webhook there is nothing to deliver: one cheap read instead of a locking
      // transaction per burst of events. The cursor stays; the first createWebhook moves it.
      const [{ any }] = await prisma.$queryRaw<[{ any: boolean }]>`SELECT EXISTS (SELECT 1 FROM webhooks) AS any`;
      if (!any) return;
      const consumed = await prisma.$transaction((tx) => dispatchPage(tx, queue, logger));
      if (consumed < PAGE && !again) return;
    }
  }

  function wake(): Promise<void> {
    if (running) {
      again = true;
      return running;
    }
    running = drain()
      .catch((err) => {
        logger.warn({ err }, "webhook dispatch failed; retrying");
        if (!stopped && !retryTimer) {
          retryTimer = setTimeout(() => {
            retryTimer = undefined;
            void wake();
          }, RETRY_MS);
          retryTimer.unref();
        }
      })
      .finally(() => {
        running = null;
        // A wake-up between the last page and here would otherwise be lost.
        if (again && !stopped) void wake();
      });
    return running;
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      unsubscribe = deps.events.subscribeAll(() => void wake());
      timer = setInterval(() => void wake(), deps.pollIntervalMs);
      timer.unref();
      void wake();
    },
    async stop() {
      stopped = true;
      unsubscribe?.();
      clearInterval(timer);
      clearTimeout(retryTimer);
      await running;
    },
    async flush() {
      // A pass already running may have read before the caller's event committed.
      await running;
      await wake();
    },
  };
}
