// Posting rate limits: a fixed-window counter per account and kind in
// Postgres, so the limit holds across API processes (one upsert per post).
// Rejected attempts count too: a runaway client cannot retry its way past it.
import type { PrismaClient } from "../../db/prisma.ts";
import { AppError } from "../../errors.ts";

export type RateKind = "post" | "delta";

export type RateLimits = { post: number; delta: number; windowSeconds: number };

export const rateLimited = (kind: RateKind, limit: number, windowSeconds: number, retryAfterSeconds: number) =>
  new AppError(
    "RATE_LIMITED",
    `Too many ${kind === "post" ? "messages" : "streaming deltas"}: at most ${limit} per ${windowSeconds} s; retry in ${retryAfterSeconds} s`,
    {
      limit,
      windowSeconds,
      retryAfterSeconds,
    },
  );

/** Counts one `kind` action of the account; RATE_LIMITED (with retryAfterSeconds) past the limit. */
export async function takeRateToken(prisma: PrismaClient, limits: RateLimits, accountId: string, kind: RateKind): Promise<void> {
  const limit = limits[kind];
  const w = limits.windowSeconds;
  const [row] = await prisma.$queryRaw<{ count: number; retry_after: number }[]>`
    INSERT INTO conversation_rate_limits AS r (account_id, kind, window_start, count)
    VALUES (${accountId}, ${kind}, to_timestamp(floor(extract(epoch FROM clock_timestamp()) / ${w}::int) * ${w}::int), 1)
    ON CONFLICT (account_id, kind) DO UPDATE SET
      count = CASE WHEN r.window_start = EXCLUDED.window_start THEN r.count + 1 ELSE 1 END,
      window_start = EXCLUDED.window_start
    RETURNING r.count, extract(epoch FROM (r.window_start + make_interval(secs => ${w}::int) - clock_timestamp()))::float8 AS retry_after`;
  if (row!.count > limit) throw rateLimited(kind, limit, w, Math.max(1, Math.ceil(row!.retry_after)));
}
