// Prisma CLI config. Only `prisma generate` runs here (it needs no database);
// migrations are applied by src/db/migrate.ts. The URL is read leniently so
// generate works without DATABASE_URL; `prisma migrate deploy` elsewhere needs it set.
import { defineConfig } from "prisma/config";

export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  datasource: { url: process.env.DATABASE_URL ?? "postgresql://localhost/cabinet" },
});
