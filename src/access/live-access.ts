// Ends long-lived connections the moment their credentials stop being valid.
// A WebSocket connection or an SSE stream is authenticated when it opens and
// may then stay open for hours, so the per-request check in viewer.ts is not
// enough on its own:
// - a revoked token, or a shrunk space grant, arrives as a pubsub event. The
//   pubsub is Postgres LISTEN/NOTIFY, so a revocation made through any process
//   ends the sessions held by every process;
// - an expiring token arms a local timer per session.
// Sessions are registered by the transports (app.ts for graphql-ws, the yoga
// plugin below for SSE) with a callback that ends them.
import { isAsyncIterable, type Plugin } from "graphql-yoga";
import type { CabinetPubSub } from "../pubsub.ts";
import type { Viewer } from "./viewer.ts";

/** Why a session ended; the code is the WebSocket close code. */
export type EndReason = { code: 4401 | 4403; reason: string };

export const TOKEN_REVOKED: EndReason = { code: 4403, reason: "Token revoked" };
export const TOKEN_EXPIRED: EndReason = { code: 4401, reason: "Token expired" };
// 4403 makes graphql-ws clients reconnect, and a reconnection re-authorizes with current grants.
export const ACCESS_REVOKED: EndReason = { code: 4403, reason: "Access revoked" };

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
const accountKey = (accountId: string) => `account:${accountId}`;

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
    index(accountKey(session.viewer.accountId), session, false);
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
      const missed = recent.find((r) => r.seq > since && (r.key === tokenKey(viewer.tokenId) || r.key === accountKey(viewer.accountId)));
      if (missed) {
        end(missed.why);
        return () => {};
      }
      index(tokenKey(viewer.tokenId), session, true);
      index(accountKey(viewer.accountId), session, true);
      armExpiry(session);
      return () => untrack(session);
    },

    tokenRevoked: (tokenId: string) => revoke(tokenKey(tokenId), TOKEN_REVOKED),
    accessRevoked: (accountId: string) => revoke(accountKey(accountId), ACCESS_REVOKED),

    /** Stops every expiry timer (server shutdown). */
    close() {
      for (const set of sessions.values()) for (const session of set) clearTimeout(session.timer);
      sessions.clear();
    },
  };
}

/**
 * Feeds `token.revoked` and `grant.revoked` events, from whichever process
 * published them, into `live`. Returns a stopper for shutdown.
 */
export function watchRevocations(
  pubsub: Pick<CabinetPubSub, "subscribe">,
  live: LiveAccess,
  log: (msg: string, err: unknown) => void,
): { stop(): Promise<void> } {
  const watchers = [
    consume(pubsub.subscribe("token.revoked"), (e) => live.tokenRevoked(e.tokenId), log),
    consume(pubsub.subscribe("grant.revoked"), (e) => live.accessRevoked(e.accountId), log),
  ];
  return { stop: async () => void (await Promise.all(watchers.map((w) => w.stop()))) };
}

function consume<T>(source: AsyncIterable<T>, handle: (event: T) => void, log: (msg: string, err: unknown) => void) {
  const iterator = source[Symbol.asyncIterator]();
  // The first next() runs synchronously, so the listener is in place before this returns.
  const loop = (async () => {
    for (let r = await iterator.next(); !r.done; r = await iterator.next()) {
      try {
        handle(r.value);
      } catch (err) {
        log("ending revoked sessions failed", err);
      }
    }
  })();
  return {
    async stop() {
      await iterator.return?.();
      await loop;
    },
  };
}

/** Set on graphql-ws operation contexts: there the whole socket is closed instead (app.ts). */
export const SOCKET_MANAGED = Symbol("cabinet.socketManaged");

type SubscriptionContext = { viewer?: () => Promise<Viewer>; [SOCKET_MANAGED]?: boolean };

/**
 * Yoga plugin for subscriptions served over plain HTTP (SSE): finishes the
 * event stream when its token is revoked or expires, or its grants shrink;
 * yoga then completes and closes the response.
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
