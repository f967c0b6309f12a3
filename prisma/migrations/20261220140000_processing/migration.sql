-- File processing (src/modules/processing/, decision 47): every blob that
-- becomes READY gets analysis steps (one per accepting analyzer of
-- src/processing/), their state, their outputs.

-- Thumbnails, posters and page images are blobs of their own, owned by their
-- source blob: purged with it, seen by reconciliation like any row, never
-- billed to the quota (they are ours, not the user's bytes).
ALTER TYPE "BlobOwnerKind" ADD VALUE 'DERIVED';
ALTER TABLE "blobs" ADD COLUMN "source_blob_id" TEXT REFERENCES "blobs" ("id") ON DELETE CASCADE;
-- For a DERIVED blob: what it is ("thumbnail:256", "thumbnail:1024", "page:1", "poster").
ALTER TABLE "blobs" ADD COLUMN "role" TEXT;
-- One derived blob per role and source: a step that runs again replaces it.
CREATE UNIQUE INDEX "blobs_source_blob_id_role_key" ON "blobs" ("source_blob_id", "role");

CREATE TYPE "ProcessingStepStatus" AS ENUM ('QUEUED', 'RUNNING', 'DONE', 'FAILED', 'SKIPPED');

-- One row per blob and analyzer. Every change of a row is also an
-- `asset.processing` event in the log, written in the same transaction.
CREATE TABLE "processing_steps" (
  "blob_id"     TEXT NOT NULL REFERENCES "blobs" ("id") ON DELETE CASCADE,
  -- The analyzer's name: image, pdf, docx, text, audio, video, transcription.
  "name"        TEXT NOT NULL,
  -- Its worker pool: images, documents, media.
  "kind"        TEXT NOT NULL,
  "status"      "ProcessingStepStatus" NOT NULL DEFAULT 'QUEUED',
  -- 0..1 while RUNNING, where the analyzer can tell.
  "progress"    DOUBLE PRECISION,
  -- Why the step FAILED (or was SKIPPED), and the analyzer's error code.
  "error"       TEXT,
  "error_code"  TEXT,
  -- The analyzer's metadata and placeholder (what DONE produced).
  "output"      JSONB,
  -- Runs started (a retried job runs its unfinished steps again).
  "attempts"    INTEGER NOT NULL DEFAULT 0,
  "queued_at"   TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
  "started_at"  TIMESTAMPTZ(3),
  "finished_at" TIMESTAMPTZ(3),
  PRIMARY KEY ("blob_id", "name")
);
-- processingQueue (depth and failures per kind) and `cli reprocess --missing`.
CREATE INDEX "processing_steps_kind_status_idx" ON "processing_steps" ("kind", "status");

-- Extracted text and transcripts, capped (DEFAULT_LIMITS.maxTextBytes, 1 MiB)
-- and flagged when cut. Search (issue 12, point 5) builds on this table.
CREATE TABLE "blob_texts" (
  "blob_id"    TEXT NOT NULL REFERENCES "blobs" ("id") ON DELETE CASCADE,
  -- "text" (documents) or "transcript" (audio, video).
  "source"     TEXT NOT NULL,
  "text"       TEXT NOT NULL,
  -- UTF-8 bytes of `text`.
  "bytes"      INTEGER NOT NULL,
  "truncated"  BOOLEAN NOT NULL DEFAULT false,
  "language"   TEXT,
  -- Transcripts: [{ start, end, text }] in seconds.
  "segments"   JSONB,
  "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
  PRIMARY KEY ("blob_id", "source")
);
