-- Browsing: keyset pagination of a folder's children, folders first, by name,
-- modification time or size. Each index serves one order in both directions.
-- A file's size is copied onto its entry (kept in the transaction that swaps
-- the blob) so it can be indexed beside parent_id and kind.

ALTER TABLE "entries" ADD COLUMN "size" BIGINT NOT NULL DEFAULT 0;
UPDATE "entries" e SET "size" = b."size" FROM "blobs" b WHERE b."id" = e."blob_id";

CREATE INDEX "entries_parent_id_kind_name_id_idx" ON "entries"("parent_id", "kind", "name", "id");
CREATE INDEX "entries_parent_id_kind_updated_at_id_idx" ON "entries"("parent_id", "kind", "updated_at", "id");
CREATE INDEX "entries_parent_id_kind_size_id_idx" ON "entries"("parent_id", "kind", "size", "id");
