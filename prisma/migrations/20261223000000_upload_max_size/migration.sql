-- Uploads whose size was not declared (the attachments' REST presign without
-- `size`, decision 63): the most the upload may hold, the store's signed length
-- limit (the organization's max file size). Such a blob reserves nothing; its
-- real size is billed on completion. Null when the size was declared.
ALTER TABLE "blobs" ADD COLUMN "max_size" BIGINT;
