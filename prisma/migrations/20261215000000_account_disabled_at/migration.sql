-- Disabled accounts: authentication refuses their tokens while disabled_at is
-- set (src/access/viewer.ts); enabling clears it and the tokens work again.
ALTER TABLE "accounts" ADD COLUMN "disabled_at" TIMESTAMPTZ(3);
