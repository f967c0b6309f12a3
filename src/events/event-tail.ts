// The tail: each process follows the event log with one LISTEN connection and
// fans new events out to local listeners by topic. A notification only says
// "new events exist"; the rows are read from the table after the last id this
// process has seen, in order. So a lost notification, a slow listener or a
// dropped connection delays events but never loses or reorders them:
// - a slow safety poll reads the table even when no notification came;
// - when the LISTEN connection drops (a database restart), it reconnects with
//   backoff, then catches up from the table, then tells onReconnect listeners
//   (live access re-checks open sessions' tokens);
// - while it is down, health() says so (/readyz answers 503).
import pg from "pg";
import { EVENTS_CHANNEL, lastEventId, readEventsAfter } from "./event-log.ts";
import { topicsOf, type StoredEvent, type Topic } from "./event-types.ts";

export type TailHealth = { ok: true } | { ok: false; code: "EVENTS_UNAVAILABLE"; message: string };

export type EventTail = {
  /** Connects and starts following from the newest committed event. */
  start(): Promise<void>;
  close(): Promise<void>;
  /** The id of the last event fanned out: every later event will reach current listeners. */
  position(): bigint;
  /** Calls `listener` with every event of `topic` from now on, in commit order. Returns the unsubscriber. */
  subscribe(topic: Topic, listener: (event: StoredEvent) => void): () => void;
  /** Calls `listener` with every event, whatever its topic (consumers of the whole log: webhooks). */
  subscribeAll(listener: (event: StoredEvent) => void): () => void;
  /** Called after each reconnect, once the gap has been filled from the table. */
  onReconnect(listener: () => Promise<void> | void): () => void;
  health(): TailHealth;
  /** Reads and fans out everything committed so far (resolves once that is done). */
  catchUp(): Promise<void>;
};

type Log = { warn(obj: object, msg: string): void; error(obj: object, msg: string): void; info(obj: object, msg: string): void };

/** The application_name of each process's LISTEN connection. */
export const TAIL_APPLICATION_NAME = "cabinet-event-tail";

const PAGE = 500;
const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 5_000;
const backoff = (attempt: number) => Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** attempt);

export function createEventTail(deps: { databaseUrl: string; pollIntervalMs: number; log: Log }): EventTail {
  const { log } = deps;
  const listeners = new Map<Topic, Set<(event: StoredEvent) => void>>();
  const reconnectListeners = new Set<() => Promise<void> | void>();
  const allListeners = new Set<(event: StoredEvent) => void>();
  let lastId = 0n;
  let started = false;
  let closed = false;
  let client: pg.Client | null = null;
  let downSince: Date | null = null;
  let lastError: string | undefined;
  let attempt = 0;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let poll: NodeJS.Timeout | undefined;
  // Connected again, but the gap is not filled yet.
  let resyncing = false;

  // Runs of drain() never overlap; a call made while one runs is covered by the next run.
  let chain: Promise<void> = Promise.resolve();
  let queued: Promise<void> | null = null;

  function fanOut(event: StoredEvent) {
    for (const topic of topicsOf(event)) {
      for (const listener of [...(listeners.get(topic) ?? [])]) {
        try {
          listener(event);
        } catch (err) {
          log.error({ err, eventId: String(event.id) }, "event listener failed");
        }
      }
    }
    for (const listener of [...allListeners]) {
      try {
        listener(event);
      } catch (err) {
        log.error({ err, eventId: String(event.id) }, "event listener failed");
      }
    }
  }

  async function drain() {
    if (!started || closed) return;
    for (;;) {
      // Read over the LISTEN connection itself: it is up exactly when the tail is.
      if (!client) throw new Error("the event log connection is down");
      const rows = await readEventsAfter(client, lastId, PAGE);
      for (const event of rows) {
        // Position first, synchronously with the fan-out: a subscriber that reads
        // position() after subscribing is owed exactly the events above it.
        lastId = event.id;
        fanOut(event);
      }
      if (rows.length < PAGE) return;
    }
  }

  function catchUp(): Promise<void> {
    if (queued) return queued;
    const run = chain.then(() => {
      queued = null;
      return drain();
    });
    queued = run;
    chain = run.catch(() => {});
    return run;
  }

  async function connect(): Promise<void> {
    // Named, so operators (and tests) can find it in pg_stat_activity.
    const next = new pg.Client({ connectionString: deps.databaseUrl, keepAlive: true, application_name: TAIL_APPLICATION_NAME });
    // Without these listeners a database restart would crash the process.
    next.on("error", (err) => lost(next, err));
    next.on("end", () => lost(next, new Error("connection closed")));
    next.on("notification", (msg) => {
      if (msg.channel === EVENTS_CHANNEL) catchUp().catch((err) => log.warn({ err }, "reading the event log failed"));
    });
    try {
      await next.connect();
      await next.query(`LISTEN ${EVENTS_CHANNEL}`);
    } catch (err) {
      next.removeAllListeners("end");
      await next.end().catch(() => {});
      throw err;
    }
    client = next;
  }

  function lost(which: pg.Client, err: Error) {
    if (which !== client) return;
    client = null;
    resyncing = false;
    downSince ??= new Date();
    lastError = err.message;
    log.warn({ err }, "event log connection lost; reconnecting");
    which.end().catch(() => {});
    scheduleReconnect();
  }

  function scheduleReconnect() {
    if (closed || reconnectTimer) return;
    const delay = backoff(attempt++);
    reconnectTimer = setTimeout(async () => {
      reconnectTimer = undefined;
      try {
        await connect();
      } catch (err) {
        lastError = (err as Error).message;
        return scheduleReconnect();
      }
      if (closed) return void (await client?.end().catch(() => {}));
      attempt = 0;
      await resync(client!);
    }, delay);
  }

  /** After a reconnect: fill the gap from the table, then let listeners re-check what they hold. */
  async function resync(connection: pg.Client) {
    resyncing = true;
    try {
      // The pool's connections may still be reconnecting too: retry while this connection lives.
      for (let i = 0; ; i++) {
        try {
          await catchUp();
          break;
        } catch (err) {
          if (closed || client !== connection) return;
          lastError = (err as Error).message;
          await new Promise((r) => setTimeout(r, backoff(i)));
        }
      }
      if (client !== connection) return;
      downSince = null;
      lastError = undefined;
      log.info({}, "event log connection restored");
      for (const listener of [...reconnectListeners]) {
        await Promise.resolve()
          .then(listener)
          .catch((err) => log.error({ err }, "event log reconnect listener failed"));
      }
    } finally {
      if (client === connection) resyncing = false;
    }
  }

  /** The safety net: reads the table, and proves the LISTEN connection still answers. */
  async function safetyPoll() {
    const current = client;
    if (current) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>(
        (_, reject) => (timer = setTimeout(() => reject(new Error("event log connection does not answer")), deps.pollIntervalMs)),
      );
      try {
        await Promise.race([current.query("SELECT 1"), timeout]);
      } catch (err) {
        lost(current, err as Error);
      } finally {
        clearTimeout(timer);
      }
    }
    if (client) await catchUp().catch((err) => log.warn({ err }, "reading the event log failed"));
  }

  return {
    async start() {
      await connect();
      // Listening before reading the position: nothing committed after it goes unnoticed.
      lastId = await lastEventId(client!);
      started = true;
      poll = setInterval(() => void safetyPoll(), deps.pollIntervalMs);
      poll.unref();
    },
    async close() {
      closed = true;
      clearInterval(poll);
      clearTimeout(reconnectTimer);
      const current = client;
      client = null;
      await current?.end().catch(() => {});
      await chain;
    },
    position: () => lastId,
    subscribe(topic, listener) {
      const set = listeners.get(topic) ?? new Set();
      set.add(listener);
      listeners.set(topic, set);
      return () => {
        set.delete(listener);
        if (!set.size && listeners.get(topic) === set) listeners.delete(topic);
      };
    },
    subscribeAll(listener) {
      allListeners.add(listener);
      return () => void allListeners.delete(listener);
    },
    onReconnect(listener) {
      reconnectListeners.add(listener);
      return () => void reconnectListeners.delete(listener);
    },
    health() {
      if ((client && !resyncing) || !started || closed) return { ok: true };
      return {
        ok: false,
        code: "EVENTS_UNAVAILABLE",
        message: `Live events are paused: the event log has been disconnected from the database since ${downSince?.toISOString()} (${lastError ?? "unknown error"}); reconnecting, and subscribers catch up from the log once it is back`,
      };
    },
    catchUp,
  };
}
