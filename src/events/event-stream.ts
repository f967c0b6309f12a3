// One subscriber's stream of a topic: stored events after a cursor, then live
// ones, through one path, so nothing is missed and nothing repeated:
//   1. subscribe to the tail's fan-out and buffer what arrives;
//   2. note the tail's position P: every event above P will reach the buffer;
//   3. replay the stored events with cursor < id <= P from the table;
//   4. drain the buffer, skipping ids already sent.
// Without a cursor the stream starts at P (live from now).
//
// A hand-written iterator rather than an async generator: return() must end
// a stream that is waiting for its next event at once (a generator would wait
// for that event), or unsubscribed clients would stay registered.
import { AppError } from "../errors.ts";
import type { EventTail } from "./event-tail.ts";
import type { StoredEvent, Topic } from "./event-types.ts";

/** The last item of a stream that ends with an error (access revoked, cursor expired mid-replay). */
export type StreamEnd = { end: AppError };

export type StreamItem = StoredEvent | StreamEnd;

export const isStreamEnd = (item: StreamItem): item is StreamEnd => "end" in item;

/**
 * What to do with an event, decided in order (the stream waits for it): send
 * it, skip it, or end the stream with an error.
 */
export type Decide = (event: StoredEvent) => Promise<"send" | "skip" | AppError> | "send" | "skip" | AppError;

export type EventStream = AsyncIterableIterator<StreamItem> & { return(): Promise<IteratorReturnResult<undefined>> };

const REPLAY_PAGE = 200;

export function openEventStream(options: {
  tail: EventTail;
  /** One topic, or several (an event on more than one of them is sent once). */
  topic: Topic | readonly Topic[];
  /** The cursor's id: replay what came after it. Null: live from now. */
  after: bigint | null;
  /** Stored events of the topic with afterId < id <= upTo, in order, at most `limit`. */
  replay: (afterId: bigint, upTo: bigint, limit: number) => Promise<StoredEvent[]>;
  decide: Decide;
}): EventStream {
  const { tail, replay, decide } = options;
  const done: IteratorReturnResult<undefined> = { done: true, value: undefined };
  const live: StoredEvent[] = [];
  let wake: (() => void) | undefined;
  const push = (event: StoredEvent) => {
    live.push(event);
    wake?.();
  };
  // The tail fans an event out to its topics one after another, synchronously:
  // events of several topics still arrive here in commit order (duplicates are skipped by id below).
  const unsubscribers = (Array.isArray(options.topic) ? options.topic : [options.topic]).map((topic) => tail.subscribe(topic, push));
  const unsubscribe = () => {
    for (const u of unsubscribers) u();
  };
  const upTo = tail.position();
  let sent = options.after ?? upTo;
  let replaying = options.after !== null && options.after < upTo;
  const replayed: StoredEvent[] = [];
  let finished = false;

  function finish() {
    if (finished) return;
    finished = true;
    unsubscribe();
    live.length = 0;
    wake?.();
  }

  /** The next event to consider, or null once the stream is finished. */
  async function nextEvent(): Promise<StoredEvent | null> {
    for (;;) {
      if (finished) return null;
      const stored = replayed.shift();
      if (stored) return stored;
      if (replaying) {
        const page = await replay(sent, upTo, REPLAY_PAGE);
        if (page.length < REPLAY_PAGE) replaying = false;
        replayed.push(...page);
        continue;
      }
      const event = live.shift();
      if (event) {
        if (event.id > sent) return event;
        continue;
      }
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  }

  const stream: EventStream = {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next() {
      try {
        for (;;) {
          const event = await nextEvent();
          if (!event) return done;
          sent = event.id;
          const decision = await decide(event);
          if (finished) return done;
          if (decision === "skip") continue;
          if (decision === "send") return { done: false, value: event };
          finish();
          return { done: false, value: { end: decision } };
        }
      } catch (e) {
        finish();
        // Ending with an error the client can act on (resume from its last cursor)
        // rather than throwing, which graphql-ws would answer by closing the whole socket.
        const end =
          e instanceof AppError
            ? e
            : new AppError("INTERNAL_SERVER_ERROR", "The event stream failed; subscribe again with your last cursor", undefined, { cause: e });
        return { done: false, value: { end } };
      }
    },
    async return() {
      finish();
      return done;
    },
  };
  return stream;
}
