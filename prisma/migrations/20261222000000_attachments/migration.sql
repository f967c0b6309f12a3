-- Chat attachments (src/modules/attachment/, decision 53): files dropped into a
-- conversation, stored as blobs of the space with owner kind ATTACHMENT (the
-- blob lifecycle reserves, verifies, bills and purges them), bound to a message
-- when it is posted, and kept until their retention ends.
ALTER TYPE "BlobOwnerKind" ADD VALUE 'ATTACHMENT';

CREATE TABLE "attachments" (
  "id"              TEXT PRIMARY KEY,
  "space_id"        TEXT NOT NULL REFERENCES "spaces" ("id") ON DELETE CASCADE,
  "conversation_id" TEXT NOT NULL REFERENCES "conversations" ("id") ON DELETE CASCADE,
  -- Null until postMessage binds it; unbound attachments expire (the sweep removes them).
  "message_id"      TEXT REFERENCES "messages" ("id") ON DELETE SET NULL,
  "uploader_id"     TEXT REFERENCES "accounts" ("id") ON DELETE SET NULL,
  "filename"        TEXT NOT NULL,
  "mime_type"       TEXT NOT NULL,
  "size"            BIGINT NOT NULL,
  -- The PENDING upload, then the READY blob; null once the bytes were purged (soft-deleted, past retention).
  "blob_id"         TEXT UNIQUE REFERENCES "blobs" ("id") ON DELETE SET NULL,
  -- After this instant the attachment is never handed out again; null keeps it.
  "retention_at"    TIMESTAMPTZ(3),
  -- True when retention_at was set for this attachment (a space default change leaves it alone).
  "retention_override" BOOLEAN NOT NULL DEFAULT false,
  "deleted_at"      TIMESTAMPTZ(3),
  "created_at"      TIMESTAMPTZ(3) NOT NULL DEFAULT now()
);
CREATE INDEX "attachments_space_id_created_at_idx" ON "attachments" ("space_id", "created_at");
CREATE INDEX "attachments_conversation_id_idx" ON "attachments" ("conversation_id");
CREATE INDEX "attachments_message_id_idx" ON "attachments" ("message_id");
CREATE INDEX "attachments_retention_at_idx" ON "attachments" ("retention_at");

-- A space's attachment retention (setAttachmentRetention): attachments without
-- their own retention_at expire this many days after they were created. No row
-- keeps them.
CREATE TABLE "attachment_retention_policies" (
  "space_id"       TEXT PRIMARY KEY REFERENCES "spaces" ("id") ON DELETE CASCADE,
  "retention_days" INTEGER NOT NULL CHECK ("retention_days" > 0),
  "updated_at"     TIMESTAMPTZ(3) NOT NULL DEFAULT now()
);
