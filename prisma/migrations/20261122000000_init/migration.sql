-- Cabinet initial schema: organizations, spaces, accounts, tokens, grants, the entry tree and blobs.
-- Names follow Prisma's conventions so `prisma migrate deploy` and drift checks agree.

CREATE TYPE "AccountKind" AS ENUM ('USER', 'SERVICE');
CREATE TYPE "EntryKind" AS ENUM ('FOLDER', 'FILE');
CREATE TYPE "BlobStatus" AS ENUM ('PENDING', 'READY', 'FAILED');

CREATE TABLE "organizations" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "quota_bytes" BIGINT NOT NULL,
    "max_file_size_bytes" BIGINT NOT NULL,
    "used_bytes" BIGINT NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "organizations_pkey" PRIMARY KEY ("id"),
    -- The quota invariant, enforced by the database as a last line of defence.
    CONSTRAINT "organizations_usage_within_quota" CHECK ("used_bytes" >= 0 AND "used_bytes" <= "quota_bytes")
);

CREATE TABLE "spaces" (
    "id" TEXT NOT NULL,
    "organization_id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "used_bytes" BIGINT NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "spaces_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "spaces_used_bytes_non_negative" CHECK ("used_bytes" >= 0)
);
CREATE INDEX "spaces_organization_id_idx" ON "spaces"("organization_id");

CREATE TABLE "accounts" (
    "id" TEXT NOT NULL,
    "organization_id" TEXT NOT NULL,
    "kind" "AccountKind" NOT NULL,
    "name" TEXT NOT NULL,
    "is_org_admin" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "accounts_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "accounts_organization_id_idx" ON "accounts"("organization_id");

CREATE TABLE "api_tokens" (
    "id" TEXT NOT NULL,
    "account_id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "token_hash" TEXT NOT NULL,
    "expires_at" TIMESTAMPTZ(3),
    "revoked_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "api_tokens_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "api_tokens_token_hash_key" ON "api_tokens"("token_hash");
CREATE INDEX "api_tokens_account_id_idx" ON "api_tokens"("account_id");

CREATE TABLE "space_grants" (
    "id" TEXT NOT NULL,
    "space_id" TEXT NOT NULL,
    "account_id" TEXT NOT NULL,
    "permissions" TEXT[],
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "space_grants_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "space_grants_space_id_account_id_key" ON "space_grants"("space_id", "account_id");
CREATE INDEX "space_grants_account_id_idx" ON "space_grants"("account_id");

CREATE TABLE "entries" (
    "id" TEXT NOT NULL,
    "space_id" TEXT NOT NULL,
    "parent_id" TEXT,
    "kind" "EntryKind" NOT NULL,
    "name" TEXT NOT NULL,
    "blob_id" TEXT,
    "created_by_id" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "entries_pkey" PRIMARY KEY ("id"),
    -- A folder never points at bytes; a ready file always does (PENDING uploads may not yet).
    CONSTRAINT "entries_folder_has_no_blob" CHECK ("kind" = 'FILE' OR "blob_id" IS NULL),
    -- Only the root folder lacks a parent, and only the root has an empty name.
    CONSTRAINT "entries_root_shape" CHECK (("parent_id" IS NULL) = ("name" = '') AND ("parent_id" IS NOT NULL OR "kind" = 'FOLDER'))
);
CREATE UNIQUE INDEX "entries_blob_id_key" ON "entries"("blob_id");
CREATE UNIQUE INDEX "entries_parent_id_name_key" ON "entries"("parent_id", "name");
CREATE INDEX "entries_space_id_idx" ON "entries"("space_id");
-- Exactly one root folder per space (Prisma cannot express partial indexes).
CREATE UNIQUE INDEX "entries_one_root_per_space" ON "entries"("space_id") WHERE "parent_id" IS NULL;

CREATE TABLE "blobs" (
    "id" TEXT NOT NULL,
    "organization_id" TEXT NOT NULL,
    "space_id" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "status" "BlobStatus" NOT NULL DEFAULT 'PENDING',
    "size" BIGINT NOT NULL DEFAULT 0,
    "content_type" TEXT NOT NULL,
    "sha256" TEXT,
    "metadata" JSONB NOT NULL DEFAULT '{}',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "blobs_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "blobs_key_key" ON "blobs"("key");
CREATE INDEX "blobs_space_id_idx" ON "blobs"("space_id");
CREATE INDEX "blobs_organization_id_idx" ON "blobs"("organization_id");

ALTER TABLE "spaces" ADD CONSTRAINT "spaces_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "accounts" ADD CONSTRAINT "accounts_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "api_tokens" ADD CONSTRAINT "api_tokens_account_id_fkey" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "space_grants" ADD CONSTRAINT "space_grants_space_id_fkey" FOREIGN KEY ("space_id") REFERENCES "spaces"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "space_grants" ADD CONSTRAINT "space_grants_account_id_fkey" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "entries" ADD CONSTRAINT "entries_space_id_fkey" FOREIGN KEY ("space_id") REFERENCES "spaces"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "entries" ADD CONSTRAINT "entries_parent_id_fkey" FOREIGN KEY ("parent_id") REFERENCES "entries"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "entries" ADD CONSTRAINT "entries_blob_id_fkey" FOREIGN KEY ("blob_id") REFERENCES "blobs"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "entries" ADD CONSTRAINT "entries_created_by_id_fkey" FOREIGN KEY ("created_by_id") REFERENCES "accounts"("id") ON DELETE SET NULL ON UPDATE CASCADE;
ALTER TABLE "blobs" ADD CONSTRAINT "blobs_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "blobs" ADD CONSTRAINT "blobs_space_id_fkey" FOREIGN KEY ("space_id") REFERENCES "spaces"("id") ON DELETE CASCADE ON UPDATE CASCADE;
