// Ends long-lived connections the moment their credentials stop being valid.
// A WebSocket connection or an SSE stream is authenticated when it opens and
// may then stay open for hours, so the per-request check in viewer.ts is not
// enough on its own:
// - a revoked token arrives as a `token.revoked` event from the event log's
//   tail (events/), so a revocation made through any process ends the
//   sessions held by every process; after the tail reconnects (a database
//   restart), every open session's token is also checked again;
// - an expiring token arms a local timer per session.
// A shrunk or revoked space grant does not end sessions: it ends the
// account's subscriptions to that space only (modules/space/space-events.ts).
// Sessions are registered by the transports (http/graphql-ws.ts, the yoga
// plugin below for SSE) with a callback that ends them.
import { isAsyncIterable, type Plugin } from "graphql-yoga";
import type { PrismaClient } from "../db/prisma.ts";
import type { EventTail } from "../events/event-tail.ts";
import { topics } from "../events/event-types.ts";
import type { Viewer } from "./viewer.ts";

/** Why a session ended; the code is the WebSocket close code. */
export type EndReason = { code: 4401 | 4403; reason: string };

export const TOKEN_REVOKED: EndReason = { code: 4403, reason: "Token revoked" };
export const TOKEN_EXPIRED: EndReason = { code: 4401, reason: "Token expired" };

type SessionViewer = Pick<Viewer, "tokenId" | "accountId" | "tokenExpiresAt">;

type Session = {
  viewer: SessionViewer;
  end(why: EndReason): void;
  timer?: NodeJS.Timeout;
};

type Revocation = { seq: number; at: number; key: string; why: EndReason };

// setTimeout fires at once for delays above 2^31-1 ms (~24.8 days); longer expiries re-arm in steps.
const MAX_TIMER_MS = 2 ** 31 - 1;
// How long a heard revocation is remembered for sessions still authenticating (see track()).
const REMEMBER_MS = 60_000;

const tokenKey = (tokenId: string) => `token:${tokenId}`;

export type LiveAccess = ReturnType<typeof createLiveAccess>;

export function createLiveAccess() {
  const sessions = new Map<string, Set<Session>>();
  const recent: Revocation[] = [];
  let seq = 0;

  function index(key: string, session: Session, add: boolean) {
    const set = sessions.get(key) ?? new Set<Session>();
    if (add) set.add(session);
    else set.delete(session);
    if (set.size) sessions.set(key, set);
    else sessions.delete(key);
  }

  function untrack(session: Session) {
    clearTimeout(session.timer);
    index(tokenKey(session.viewer.tokenId), session, false);
  }

  function endSession(session: Session, why: EndReason) {
    untrack(session);
    session.end(why);
  }

  function armExpiry(session: Session) {
    const expiresAt = session.viewer.tokenExpiresAt?.getTime();
    if (expiresAt === undefined) return;
    const delay = Math.max(0, expiresAt - Date.now());
    session.timer = setTimeout(() => (delay > MAX_TIMER_MS ? armExpiry(session) : endSession(session, TOKEN_EXPIRED)), Math.min(delay, MAX_TIMER_MS));
    // An expiry timer alone must not keep the process alive.
    session.timer.unref();
  }

  function revoke(key: string, why: EndReason) {
    const now = Date.now();
    while (recent.length && recent[0]!.at < now - REMEMBER_MS) recent.shift();
    recent.push({ seq: ++seq, at: now, key, why });
    for (const session of [...(sessions.get(key) ?? [])]) endSession(session, why);
  }

  return {
    /** Take before authenticating a session; hand the result to track(). */
    checkpoint: (): number => seq,

    /**
     * Registers an authenticated session; returns the function that unregisters
     * it (call it when the connection closes). `since` closes a race: a token
     * read as valid just before its revocation committed, whose event arrived
     * while the session was still being set up, ends the session at once.
     */
    track(viewer: SessionViewer, since: number, end: (why: EndReason) => void): () => void {
      const session: Session = { viewer, end };
      const missed = recent.find((r) => r.seq > since && r.key === tokenKey(viewer.tokenId));
      if (missed) {
        end(missed.why);
        return () => {};
      }
      index(tokenKey(viewer.tokenId), session, true);
      armExpiry(session);
      return () => untrack(session);
    },

    tokenRevoked: (tokenId: string) => revoke(tokenKey(tokenId), TOKEN_REVOKED),
    tokenExpired: (tokenId: string) => revoke(tokenKey(tokenId), TOKEN_EXPIRED),

    /** The token ids of the sessions open now. */
    openTokenIds: (): string[] => [...sessions.keys()].map((key) => key.slice(tokenKey("").length)),

    /** Stops every expiry timer (server shutdown). */
    close() {
      for (const set of sessions.values()) for (const session of set) clearTimeout(session.timer);
      sessions.clear();
    },
  };
}

/**
 * Feeds `token.revoked` events, from whichever process recorded them, into
 * `live`. After the tail reconnects it also reads the tokens of all open
 * sessions again and ends those revoked, expired or deleted meanwhile (the
 * log has the revocations too; this is the belt to its braces). Returns a
 * stopper for shutdown.
 */
export function watchRevocations(
  events: Pick<EventTail, "subscribe" | "onReconnect">,
  live: LiveAccess,
  deps: { prisma: PrismaClient },
): { stop(): Promise<void> } {
  const unsubscribe = events.subscribe(topics.tokens, (e) => {
    if (e.type === "token.revoked") live.tokenRevoked(e.subjectId);
  });
  const stopRechecking = events.onReconnect(async () => {
    const ids = live.openTokenIds();
    if (!ids.length) return;
    const tokens = await deps.prisma.apiToken.findMany({ where: { id: { in: ids } }, select: { id: true, revokedAt: true, expiresAt: true } });
    const byId = new Map(tokens.map((t) => [t.id, t]));
    for (const id of ids) {
      const token = byId.get(id);
      if (!token || token.revokedAt) live.tokenRevoked(id);
      else if (token.expiresAt && token.expiresAt.getTime() <= Date.now()) live.tokenExpired(id);
    }
  });
  return {
    async stop() {
      unsubscribe();
      stopRechecking();
    },
  };
}

/** Set on graphql-ws operation contexts: there the whole socket is closed instead (http/graphql-ws.ts). */
export const SOCKET_MANAGED = Symbol("cabinet.socketManaged");

type SubscriptionContext = { viewer?: () => Promise<Viewer>; [SOCKET_MANAGED]?: boolean };

/**
 * Yoga plugin for subscriptions served over plain HTTP (SSE): finishes the
 * event stream when its token is revoked or expires; yoga then completes and
 * closes the response.
 */
export function useEndStreamsOnRevocation(live: LiveAccess): Plugin {
  return {
    onSubscribe({ args }) {
      const ctx = args.contextValue as SubscriptionContext;
      if (ctx[SOCKET_MANAGED] || !ctx.viewer) return;
      const viewer = ctx.viewer;
      // Before the subscribe resolver authenticates (the viewer is loaded lazily).
      const since = live.checkpoint();
      return {
        onSubscribeResult({ result, setResult }) {
          if (!isAsyncIterable(result)) return;
          setResult(
            endableStream(result, async (end) => {
              // Resolved already: the subscribe resolver authenticated. Anonymous fields stay untracked.
              const v = await viewer().catch(() => null);
              return v ? live.track(v, since, end) : () => {};
            }),
          );
        },
      };
    },
  };
}

/** Wraps `source` so the callback handed to `register` finishes it early. */
function endableStream<T>(source: AsyncIterable<T>, register: (end: () => void) => Promise<() => void>): AsyncIterableIterator<T> {
  const iterator = source[Symbol.asyncIterator]();
  const done: IteratorReturnResult<undefined> = { done: true, value: undefined };
  let ended = false;
  let wake!: () => void;
  const endedEarly = new Promise<typeof done>((resolve) => (wake = () => resolve(done)));
  const unregister = register(() => {
    ended = true;
    wake();
  });

  async function finish(): Promise<typeof done> {
    ended = true;
    wake();
    (await unregister)();
    await iterator.return?.();
    return done;
  }

  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next() {
      if (ended) return finish();
      const r = await Promise.race([iterator.next(), endedEarly]);
      return r.done ? finish() : r;
    },
    return: finish,
    async throw(error?: unknown) {
      await finish();
      throw error;
    },
  };
}
