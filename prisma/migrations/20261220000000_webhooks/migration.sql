-- Webhooks (src/modules/webhook/): a space's subscription of an external URL to
-- event types of the event log, and the log of deliveries made for it.

CREATE TABLE "webhooks" (
  "id"                   TEXT PRIMARY KEY,
  -- A space's webhooks go with the space.
  "space_id"             TEXT NOT NULL REFERENCES "spaces" ("id") ON DELETE CASCADE,
  "url"                  TEXT NOT NULL,
  -- Event types (entry.created) or patterns (entry.*, *); checked by the service.
  "events"               TEXT[] NOT NULL,
  -- The HMAC-SHA256 key of the signatures. Kept (deliveries must sign), never shown after creation.
  "secret"               TEXT NOT NULL,
  "created_by_id"        TEXT REFERENCES "accounts" ("id") ON DELETE SET NULL,
  -- The newest event committed when the webhook was created: only later events are delivered to it.
  "start_after_event_id" BIGINT NOT NULL,
  "created_at"           TIMESTAMPTZ(3) NOT NULL DEFAULT now()
);
CREATE INDEX "webhooks_space_id_idx" ON "webhooks" ("space_id");

CREATE TYPE "WebhookDeliveryStatus" AS ENUM ('PENDING', 'RETRYING', 'SUCCEEDED', 'FAILED');

-- One row per (webhook, event): the unique pair makes dispatching idempotent, and its
-- index serves the delivery log (a webhook's deliveries, newest event first).
CREATE TABLE "webhook_deliveries" (
  "id"               TEXT PRIMARY KEY,
  -- Deleting a webhook deletes its deliveries; their queued jobs then find nothing and do nothing.
  "webhook_id"       TEXT NOT NULL REFERENCES "webhooks" ("id") ON DELETE CASCADE,
  "event_id"         BIGINT NOT NULL,
  "event_type"       TEXT NOT NULL,
  -- The exact JSON body sent (and signed) on every attempt, so retries are byte-identical
  -- and do not depend on the event still being in the (pruned) log.
  "body"             TEXT NOT NULL,
  "status"           "WebhookDeliveryStatus" NOT NULL DEFAULT 'PENDING',
  -- Attempts started (counted before the request, so a crash mid-attempt still counts).
  "attempts"         INTEGER NOT NULL DEFAULT 0,
  "last_error"       TEXT,
  "response_status"  INTEGER,
  -- At most the first 512 characters of the last response body.
  "response_excerpt" TEXT,
  "created_at"       TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
  "last_attempt_at"  TIMESTAMPTZ(3),
  -- When it SUCCEEDED or FAILED for the last time.
  "completed_at"     TIMESTAMPTZ(3),
  CONSTRAINT "webhook_deliveries_webhook_id_event_id_key" UNIQUE ("webhook_id", "event_id")
);
-- Retention of the delivery log.
CREATE INDEX "webhook_deliveries_created_at_idx" ON "webhook_deliveries" ("created_at");

-- One row: the id of the last event the dispatcher has turned into deliveries.
-- Moved in the same transaction as the deliveries (and their jobs) it creates.
CREATE TABLE "webhook_dispatch_cursor" (
  "singleton" BOOLEAN PRIMARY KEY DEFAULT true CHECK ("singleton"),
  "position"  BIGINT NOT NULL
);
INSERT INTO "webhook_dispatch_cursor" ("singleton", "position") SELECT true, coalesce(max("id"), 0) FROM "events";
