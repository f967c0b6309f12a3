-- Which kind of owner a blob's bytes belong to. The blob lifecycle
-- (src/modules/blob/blob.service.ts) hands a completed two-stage upload to the
-- owner of its kind, which moves its own pointer. Entries are the first kind;
-- attachments and derived files (thumbnails) add theirs.
CREATE TYPE "BlobOwnerKind" AS ENUM ('ENTRY');
ALTER TABLE "blobs" ADD COLUMN "owner_kind" "BlobOwnerKind" NOT NULL DEFAULT 'ENTRY';
