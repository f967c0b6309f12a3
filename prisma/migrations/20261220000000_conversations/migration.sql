-- Conversations (src/modules/room, conversation, message): rooms in a space,
-- their participants, threads (conversations) and messages, read horizons and
-- the posting rate-limit counters. Decision 48.

CREATE TYPE "RoomKind" AS ENUM ('STANDARD', 'DM');
CREATE TYPE "ParticipantRole" AS ENUM ('OWNER', 'MEMBER', 'AGENT', 'OBSERVER');
CREATE TYPE "MessageRole" AS ENUM ('USER', 'AGENT', 'SYSTEM');
CREATE TYPE "MessageStatus" AS ENUM ('STREAMING', 'COMPLETE');

CREATE TABLE "rooms" (
  "id"            TEXT PRIMARY KEY,
  "space_id"      TEXT NOT NULL REFERENCES "spaces" ("id") ON DELETE CASCADE,
  "kind"          "RoomKind" NOT NULL,
  "name"          TEXT,
  -- DM rooms only: the sorted distinct participant account ids joined by ','.
  -- Unique per space, so concurrent openDirectRoom calls meet on one row
  -- (INSERT ... ON CONFLICT, src/modules/room/room.service.ts).
  "dm_key"        TEXT,
  "created_by_id" TEXT REFERENCES "accounts" ("id") ON DELETE SET NULL,
  "created_at"    TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
  CONSTRAINT "rooms_dm_key_iff_dm" CHECK (("kind" = 'DM') = ("dm_key" IS NOT NULL))
);
CREATE UNIQUE INDEX "rooms_space_id_dm_key_key" ON "rooms" ("space_id", "dm_key");
CREATE INDEX "rooms_space_id_idx" ON "rooms" ("space_id");

CREATE TABLE "room_participants" (
  "room_id"      TEXT NOT NULL REFERENCES "rooms" ("id") ON DELETE CASCADE,
  "account_id"   TEXT NOT NULL REFERENCES "accounts" ("id") ON DELETE CASCADE,
  "role"         "ParticipantRole" NOT NULL DEFAULT 'MEMBER',
  -- When true, messages by others name this participant in conversation.message_posted.triggers.
  "auto_respond" BOOLEAN NOT NULL DEFAULT false,
  "joined_at"    TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
  PRIMARY KEY ("room_id", "account_id")
);
CREATE INDEX "room_participants_account_id_idx" ON "room_participants" ("account_id");

CREATE TABLE "conversations" (
  "id"               TEXT PRIMARY KEY,
  "room_id"          TEXT NOT NULL REFERENCES "rooms" ("id") ON DELETE CASCADE,
  "space_id"         TEXT NOT NULL REFERENCES "spaces" ("id") ON DELETE CASCADE,
  "title"            TEXT,
  "created_by_id"    TEXT REFERENCES "accounts" ("id") ON DELETE SET NULL,
  "created_at"       TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
  "last_activity_at" TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
  -- The seq of the newest message: the posting transaction increments it under
  -- the row lock, so seqs are gap-free (a rolled-back post gives its seq back).
  "last_seq"         BIGINT NOT NULL DEFAULT 0,
  -- Consecutive non-USER messages at the end of the history (the loop guard's depth).
  "agent_chain"      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX "conversations_room_id_last_activity_at_id_idx" ON "conversations" ("room_id", "last_activity_at", "id");

CREATE TABLE "messages" (
  "id"                TEXT PRIMARY KEY,
  "conversation_id"   TEXT NOT NULL REFERENCES "conversations" ("id") ON DELETE CASCADE,
  "seq"               BIGINT NOT NULL,
  "author_id"         TEXT REFERENCES "accounts" ("id") ON DELETE SET NULL,
  "role"              "MessageRole" NOT NULL,
  "text"              TEXT NOT NULL DEFAULT '',
  "data"              JSONB,
  -- Attachment ids (att_…) bound to this message; the attachments issue fills them.
  "attachment_ids"    TEXT[] NOT NULL DEFAULT '{}',
  "status"            "MessageStatus" NOT NULL DEFAULT 'COMPLETE',
  -- Set when a STREAMING message was completed by the stale-stream job, not by its author.
  "interrupted"       BOOLEAN NOT NULL DEFAULT false,
  "client_message_id" TEXT,
  "agent_chain"       INTEGER NOT NULL DEFAULT 0,
  "created_at"        TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
  "updated_at"        TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
  "edited_at"         TIMESTAMPTZ(3),
  "deleted_at"        TIMESTAMPTZ(3)
);
CREATE UNIQUE INDEX "messages_conversation_id_seq_key" ON "messages" ("conversation_id", "seq");
-- A retry with the same clientMessageId by the same author returns the original.
CREATE UNIQUE INDEX "messages_conversation_id_author_id_client_message_id_key" ON "messages" ("conversation_id", "author_id", "client_message_id");
-- The stale-stream job's scan.
CREATE INDEX "messages_status_updated_at_idx" ON "messages" ("status", "updated_at");

-- Per participant and conversation: the highest seq read (markRead only moves it forward).
CREATE TABLE "conversation_reads" (
  "conversation_id" TEXT NOT NULL REFERENCES "conversations" ("id") ON DELETE CASCADE,
  "account_id"      TEXT NOT NULL REFERENCES "accounts" ("id") ON DELETE CASCADE,
  "read_seq"        BIGINT NOT NULL DEFAULT 0,
  "updated_at"      TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
  PRIMARY KEY ("conversation_id", "account_id")
);
CREATE INDEX "conversation_reads_account_id_idx" ON "conversation_reads" ("account_id");

-- Fixed-window counters for posting rate limits: one row per account and kind
-- ('post', 'delta'), reset when a new window starts (one upsert per post).
CREATE TABLE "conversation_rate_limits" (
  "account_id"   TEXT NOT NULL REFERENCES "accounts" ("id") ON DELETE CASCADE,
  "kind"         TEXT NOT NULL,
  "window_start" TIMESTAMPTZ(3) NOT NULL,
  "count"        INTEGER NOT NULL,
  PRIMARY KEY ("account_id", "kind")
);

-- Replay of one conversation's or one room's events (conversationEvents,
-- roomEvents) without scanning the whole space's log.
CREATE INDEX "events_conversation_id_idx" ON "events" ((payload->>'conversationId'), "id") WHERE payload ? 'conversationId';
CREATE INDEX "events_room_id_idx" ON "events" ((payload->>'roomId'), "id") WHERE payload ? 'roomId';
