// Typing indicators: ephemeral, so not in the event log. setTyping sends a
// NOTIFY on its own channel carrying the indicator; each process LISTENs and
// hands it to its local `typing` subscribers, who see `typing: true` until
// TYPING_TTL_MS passes without a renewal, then `typing: false`. A lost
// indicator (a process restarting, the LISTEN connection reconnecting) is
// simply not shown: nothing depends on it. Rate-limited per account and
// conversation: a renewal within TYPING_MIN_INTERVAL_MS is absorbed (setTyping
// answers false), so a client may call it on every keystroke.
import pg from "pg";
import type { PrismaClient } from "../../db/prisma.ts";

export const TYPING_CHANNEL = "cabinet_typing";
export const TYPING_TTL_MS = 5_000;
export const TYPING_MIN_INTERVAL_MS = 2_000;

export type TypingEvent = { conversationId: string; accountId: string; typing: boolean; expiresAt: Date | null };

type Log = { warn(obj: object, msg: string): void };

export type TypingHub = ReturnType<typeof createTypingHub>;

export function createTypingHub(deps: { prisma: PrismaClient; databaseUrl: string; log: Log }) {
  const listeners = new Map<string, Set<(e: { accountId: string }) => void>>();
  const lastSent = new Map<string, number>();
  let client: pg.Client | null = null;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;

  async function connect() {
    const next = new pg.Client({ connectionString: deps.databaseUrl, application_name: "cabinet-typing" });
    const lost = (err: Error) => {
      if (client !== next) return;
      client = null;
      deps.log.warn({ err }, "typing indicator connection lost; reconnecting");
      next.end().catch(() => {});
      if (!closed) timer = setTimeout(() => void connect().catch(() => {}), 1_000);
    };
    next.on("error", lost);
    next.on("end", () => lost(new Error("connection closed")));
    next.on("notification", (msg) => {
      if (msg.channel !== TYPING_CHANNEL || !msg.payload) return;
      try {
        const { c, a } = JSON.parse(msg.payload) as { c: string; a: string };
        for (const listener of [...(listeners.get(c) ?? [])]) listener({ accountId: a });
      } catch {
        // Not ours: ignore.
      }
    });
    try {
      await next.connect();
      await next.query(`LISTEN ${TYPING_CHANNEL}`);
      client = next;
    } catch (err) {
      next.removeAllListeners("end");
      await next.end().catch(() => {});
      if (!closed) timer = setTimeout(() => void connect().catch(() => {}), 1_000);
      throw err;
    }
  }

  return {
    start: () => connect(),
    async close() {
      closed = true;
      clearTimeout(timer);
      const c = client;
      client = null;
      await c?.end().catch(() => {});
    },
    /** Broadcasts that `accountId` types in the conversation; false when absorbed by the rate limit. */
    async send(conversationId: string, accountId: string): Promise<boolean> {
      const key = `${conversationId}:${accountId}`;
      const now = Date.now();
      if (now - (lastSent.get(key) ?? 0) < TYPING_MIN_INTERVAL_MS) return false;
      lastSent.set(key, now);
      if (lastSent.size > 10_000) for (const [k, at] of lastSent) if (now - at > TYPING_MIN_INTERVAL_MS) lastSent.delete(k);
      await deps.prisma.$executeRaw`SELECT pg_notify(${TYPING_CHANNEL}, ${JSON.stringify({ c: conversationId, a: accountId })})`;
      return true;
    },
    /** The conversation's typing indicators from now on, with the `typing: false` of each expiry. */
    subscribe(conversationId: string): AsyncIterableIterator<TypingEvent> & { return(): Promise<IteratorReturnResult<undefined>> } {
      const queue: TypingEvent[] = [];
      const expiries = new Map<string, NodeJS.Timeout>();
      let wake: (() => void) | undefined;
      let done = false;
      const push = (e: TypingEvent) => {
        queue.push(e);
        wake?.();
      };
      const listener = ({ accountId }: { accountId: string }) => {
        clearTimeout(expiries.get(accountId));
        const expiresAt = new Date(Date.now() + TYPING_TTL_MS);
        expiries.set(
          accountId,
          setTimeout(() => {
            expiries.delete(accountId);
            push({ conversationId, accountId, typing: false, expiresAt: null });
          }, TYPING_TTL_MS),
        );
        push({ conversationId, accountId, typing: true, expiresAt });
      };
      const set = listeners.get(conversationId) ?? new Set();
      set.add(listener);
      listeners.set(conversationId, set);
      const finish = () => {
        done = true;
        set.delete(listener);
        if (!set.size && listeners.get(conversationId) === set) listeners.delete(conversationId);
        for (const t of expiries.values()) clearTimeout(t);
        wake?.();
      };
      return {
        [Symbol.asyncIterator]() {
          return this;
        },
        async next() {
          for (;;) {
            if (done) return { done: true, value: undefined };
            const e = queue.shift();
            if (e) return { done: false, value: e };
            await new Promise<void>((r) => (wake = r));
            wake = undefined;
          }
        },
        async return() {
          finish();
          return { done: true, value: undefined };
        },
      };
    },
  };
}
