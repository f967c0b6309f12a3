-- Two-stage (presigned) uploads. A pending upload is a PENDING blob that knows
-- which entry it becomes (a new FILE entry created with it, or an existing one
-- it will replace) and until when its upload URL is valid. Its declared size is
-- reserved against the quota from creation until it completes or is abandoned.

ALTER TABLE "organizations" ADD COLUMN "reserved_bytes" BIGINT NOT NULL DEFAULT 0;
ALTER TABLE "organizations" DROP CONSTRAINT "organizations_usage_within_quota";
ALTER TABLE "organizations" ADD CONSTRAINT "organizations_usage_within_quota"
  CHECK ("used_bytes" >= 0 AND "reserved_bytes" >= 0 AND "used_bytes" + "reserved_bytes" <= "quota_bytes");

ALTER TABLE "blobs" ADD COLUMN "upload_entry_id" TEXT;
ALTER TABLE "blobs" ADD COLUMN "upload_expires_at" TIMESTAMPTZ(3);
ALTER TABLE "blobs" ADD COLUMN "failure_reason" TEXT;

-- SET NULL is a safety net: deleting an entry cancels its pending uploads explicitly (entry-tree.sql.ts).
ALTER TABLE "blobs" ADD CONSTRAINT "blobs_upload_entry_id_fkey" FOREIGN KEY ("upload_entry_id") REFERENCES "entries"("id") ON DELETE SET NULL ON UPDATE CASCADE;
-- At most one upload in flight per entry: a new one replaces the old.
CREATE UNIQUE INDEX "blobs_upload_entry_id_key" ON "blobs"("upload_entry_id");
-- The sweep walks pending uploads by expiry.
CREATE INDEX "blobs_status_upload_expires_at_idx" ON "blobs"("status", "upload_expires_at");
