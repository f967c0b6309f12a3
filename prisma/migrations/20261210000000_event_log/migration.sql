-- The ordered event log (src/events/). Every change someone can watch writes
-- one row here in the same transaction as the change. Ids follow commit order:
-- writers take a transaction-level advisory lock right before inserting, and
-- hold it until they commit (src/events/event-log.ts), so a reader that has
-- seen id N never sees a smaller id commit later. A subscription's cursor is
-- the id of the last event it received.
CREATE TABLE "events" (
  "id"         BIGSERIAL PRIMARY KEY,
  -- Null for organization-level events (token revocations).
  "space_id"   TEXT,
  -- noun.pastVerb: entry.created, entry.updated, entry.moved, entry.deleted, token.revoked, grant.revoked
  "type"       TEXT NOT NULL,
  -- What the event is about: the entry, the token, the account whose grant shrank.
  "subject_id" TEXT NOT NULL,
  "payload"    JSONB NOT NULL DEFAULT '{}',
  "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT now()
);

-- Replay of one space after a cursor.
CREATE INDEX "events_space_id_id_idx" ON "events" ("space_id", "id");
-- Retention: the prune job finds what is older than the retention period.
CREATE INDEX "events_created_at_idx" ON "events" ("created_at");

-- One row: the highest event id the prune job has deleted. A cursor below it
-- may have missed pruned events, so it is refused (CURSOR_EXPIRED).
CREATE TABLE "event_log_horizon" (
  "singleton"      BOOLEAN PRIMARY KEY DEFAULT true CHECK ("singleton"),
  "pruned_through" BIGINT NOT NULL DEFAULT 0
);
INSERT INTO "event_log_horizon" ("singleton", "pruned_through") VALUES (true, 0);
