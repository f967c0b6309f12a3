// Typed publish/subscribe over Postgres LISTEN/NOTIFY, so every API process sees
// the events any process publishes. Payloads stay small (ids and names): NOTIFY
// caps a payload at 8000 bytes. The transport is a yoga-compatible EventTarget
// (like @graphql-yoga/redis-event-target), wrapped by yoga's typed createPubSub.
import { createPubSub, type PubSub } from "graphql-yoga";
import pg from "pg";

export type SpaceEvent = {
  type: "CREATED" | "UPDATED" | "MOVED" | "DELETED";
  spaceId: string;
  entryId: string;
  parentId: string | null;
  name: string;
  kind: "FOLDER" | "FILE";
  at: string;
};

/** A token was revoked: connections authenticated with it must end. */
export type TokenRevokedEvent = { tokenId: string; accountId: string };

/** An account lost some or all of its permissions on a space: its live subscriptions must re-authorize. */
export type GrantRevokedEvent = { accountId: string; spaceId: string };

/**
 * topic -> [routing id, payload]. Subscribers name the id they care about.
 * Topics without a routing id are broadcasts every subscriber receives.
 */
export type Topics = {
  "space.events": [spaceId: string, payload: SpaceEvent];
  "token.revoked": [payload: TokenRevokedEvent];
  "grant.revoked": [payload: GrantRevokedEvent];
};

export type CabinetPubSub = PubSub<Topics> & { close(): Promise<void> };

const CHANNEL = "cabinet_events";

type Envelope = { topic: string; payload: unknown };

export async function createPostgresPubSub(databaseUrl: string, log?: (msg: string, e?: unknown) => void): Promise<CabinetPubSub> {
  const listener = new pg.Client({ connectionString: databaseUrl });
  const publisher = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  const local = new EventTarget();

  listener.on("notification", (msg) => {
    if (msg.channel !== CHANNEL || !msg.payload) return;
    try {
      const { topic, payload } = JSON.parse(msg.payload) as Envelope;
      local.dispatchEvent(new CustomEvent(topic, { detail: payload }));
    } catch (e) {
      log?.("dropping malformed pubsub payload", e);
    }
  });
  // Without listeners, a database restart or shutdown would crash the process.
  listener.on("error", (e) => log?.("pubsub listener error", e));
  publisher.on("error", (e) => log?.("pubsub publisher pool error", e));
  await listener.connect();
  await listener.query(`LISTEN ${CHANNEL}`);

  // Yoga's pubsub hands us CustomEvents; we ship them through NOTIFY and re-dispatch
  // them locally only when Postgres echoes them back, so ordering is the same everywhere.
  const eventTarget = {
    addEventListener: local.addEventListener.bind(local),
    removeEventListener: local.removeEventListener.bind(local),
    dispatchEvent(event: Event) {
      const detail = (event as CustomEvent).detail;
      const body = JSON.stringify({ topic: event.type, payload: detail } satisfies Envelope);
      publisher.query("SELECT pg_notify($1, $2)", [CHANNEL, body]).catch((e) => log?.("pubsub publish failed", e));
      return true;
    },
  };

  const pubsub = createPubSub<Topics>({ eventTarget: eventTarget as never });
  return Object.assign(pubsub, {
    async close() {
      await listener.end().catch(() => {});
      await publisher.end().catch(() => {});
    },
  });
}
