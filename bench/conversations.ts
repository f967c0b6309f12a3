// Conversation benchmark, two figures, each against a baseline measured
// interleaved in the same run on the same server:
// 1. Delivery: 1,000 graphql-ws subscribers (one socket each) of one
//    conversation; time from sending postMessage to each subscriber receiving
//    the message, p99 over every delivery (goal: <= 100 ms on loopback).
//    Baseline: the same 1,000 sockets also subscribe spaceEvents, and a
//    createFolder is delivered to them the same way (the event log's own path).
//    ratio = p99(conversation) / p99(spaceEvents).
// 2. Throughput: posts/s of one process, CONCURRENCY clients each posting into
//    its own conversation, vs createFolder/s (also one event-logged write per
//    request) with the same concurrency, in alternating windows.
//    ratio = posts/s / folders/s.
//
//   npx tsx bench/conversations.ts      BENCH_SUBSCRIBERS=1000 BENCH_ROUNDS=20 BENCH_WINDOW_MS=3000
// Prints a report and a final JSON line; fails when the delivery p99 is over
// the goal, or a subscriber missed or reordered a message.
import type { Client } from "graphql-ws";
import { log, ms, openSubscribers, round, runBench, stats } from "./_support.ts";

const SUBSCRIBERS = positiveInt(process.env.BENCH_SUBSCRIBERS, 1000);
const ROUNDS = positiveInt(process.env.BENCH_ROUNDS, 20);
const WINDOW_MS = positiveInt(process.env.BENCH_WINDOW_MS, 3000);
const WINDOWS = positiveInt(process.env.BENCH_WINDOWS, 3);
const CONCURRENCY = positiveInt(process.env.BENCH_CONCURRENCY, 8);
const GOAL_P99_MS = 100;

function positiveInt(raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`expected a positive integer, got "${raw}"`);
  return n;
}

const p99 = (samples: number[]) => {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(0.99 * s.length) - 1)]!;
};

await runBench(
  "conversations",
  async (env, summary) => {
    const room = await env.gql<{ createRoom: { id: string } }>(`mutation($s: ID!) { createRoom(input: { spaceId: $s, name: "bench" }) { id } }`, {
      s: env.spaceId,
    });
    const newConversation = async (title: string) =>
      (
        await env.gql<{ createConversation: { id: string } }>(`mutation($r: ID!, $t: String) { createConversation(input: { roomId: $r, title: $t }) { id } }`, {
          r: room.createRoom.id,
          t: title,
        })
      ).createConversation.id;
    const conv = await newConversation("delivery");

    // --- 1. delivery -------------------------------------------------------
    // Each subscriber records when each text / folder name arrived.
    const arrivals = { message: new Map<string, number[]>(), folder: new Map<string, number[]>() };
    const seqsBySubscriber: number[][] = [];
    const clients: Client[] = [];
    const t0 = performance.now();
    let live = 0;
    const subscribeBoth = (client: Client, seqs: number[]) => {
      client.subscribe<{ conversationEvents: { text: string; seq: number } }>(
        { query: `subscription($c: ID!) { conversationEvents(conversationId: $c) { cursor text seq } }`, variables: { c: conv } },
        {
          next: (r) => {
            const e = r.data!.conversationEvents;
            seqs.push(e.seq);
            const list = arrivals.message.get(e.text) ?? [];
            list.push(performance.now());
            arrivals.message.set(e.text, list);
          },
          error: (e) => log(`! subscriber error ${String((e as Error)?.message ?? JSON.stringify(e)).slice(0, 200)}`),
          complete: () => {},
        },
      );
      client.subscribe<{ spaceEvents: { name: string } }>(
        { query: `subscription($s: ID!) { spaceEvents(spaceId: $s) { cursor name } }`, variables: { s: env.spaceId } },
        {
          next: (r) => {
            const list = arrivals.folder.get(r.data!.spaceEvents.name) ?? [];
            list.push(performance.now());
            arrivals.folder.set(r.data!.spaceEvents.name, list);
          },
          error: () => {},
          complete: () => {},
        },
      );
    };
    clients.push(
      ...(await openSubscribers(env, SUBSCRIBERS, (client) => {
        const seqs: number[] = [];
        seqsBySubscriber.push(seqs);
        subscribeBoth(client, seqs);
      })),
    );
    const post = (text: string) =>
      env.gql(`mutation($c: ID!, $t: String!) { postMessage(input: { conversationId: $c, text: $t }) { seq } }`, { c: conv, t: text });
    const folder = (name: string) =>
      env.gql(`mutation($s: ID!, $p: String!) { createFolder(input: { spaceId: $s, path: $p }) { id } }`, { s: env.spaceId, p: name });
    const waitAll = async (map: Map<string, number[]>, key: string, timeoutMs = 30_000) => {
      const deadline = performance.now() + timeoutMs;
      while ((map.get(key)?.length ?? 0) < SUBSCRIBERS) {
        if (performance.now() > deadline) throw new Error(`${key}: ${map.get(key)?.length ?? 0} of ${SUBSCRIBERS} deliveries within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 2));
      }
    };
    // Every subscription live: probes until all sockets received one of each.
    for (let probe = 0; ; probe++) {
      await post(`probe-${probe}`);
      await folder(`probe-${probe}`);
      await new Promise((r) => setTimeout(r, 200));
      if ((arrivals.message.get(`probe-${probe}`)?.length ?? 0) === SUBSCRIBERS && (arrivals.folder.get(`probe-${probe}`)?.length ?? 0) === SUBSCRIBERS) break;
      if (probe > 200) throw new Error("subscriptions did not all go live");
    }
    live = performance.now() - t0;
    log(`  ${SUBSCRIBERS} sockets × 2 subscriptions live in ${(live / 1000).toFixed(1)} s`);

    const conversation: number[] = [];
    const baseline: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const pair: [string, () => Promise<unknown>, Map<string, number[]>, number[]][] = [
        [`m-${r}`, () => post(`m-${r}`), arrivals.message, conversation],
        [`f-${r}`, () => folder(`f-${r}`), arrivals.folder, baseline],
      ];
      // Alternate which goes first, so neither always follows the other's tail.
      if (r % 2) pair.reverse();
      for (const [key, send, map, into] of pair) {
        const start = performance.now();
        await send();
        await waitAll(map, key);
        for (const at of map.get(key)!) into.push(at - start);
      }
    }
    await Promise.all(clients.map((c) => c.dispose()));
    const ordered = seqsBySubscriber.every((s) => s.every((v, i) => i === 0 || v === s[i - 1]! + 1));
    const convP99 = p99(conversation);
    const baseP99 = p99(baseline);
    const convStats = stats(conversation);
    const baseStats = stats(baseline);
    log(`  delivery to ${SUBSCRIBERS} subscribers, ${ROUNDS} rounds each:`);
    log(`    conversationEvents  median ${ms(convStats.median)}  p99 ${ms(convP99)}  max ${ms(convStats.max)}`);
    log(`    spaceEvents (base)  median ${ms(baseStats.median)}  p99 ${ms(baseP99)}  max ${ms(baseStats.max)}`);
    log(`    ratio p99 ${round(convP99 / baseP99)}; every subscriber got every message in seq order: ${ordered}`);

    // --- 2. throughput -----------------------------------------------------
    const convs = await Promise.all(Array.from({ length: CONCURRENCY }, (_, i) => newConversation(`throughput-${i}`)));
    let n = 0;
    const windowOf = async (kind: "post" | "folder"): Promise<number> => {
      let done = 0;
      const end = performance.now() + WINDOW_MS;
      const start = performance.now();
      await Promise.all(
        convs.map(async (c, worker) => {
          while (performance.now() < end) {
            const k = n++;
            if (kind === "post")
              await env.gql(`mutation($c: ID!, $t: String!) { postMessage(input: { conversationId: $c, text: $t }) { seq } }`, { c, t: `t-${k}` });
            else await folder(`tp-${worker}-${k}`);
            done++;
          }
        }),
      );
      return done / ((performance.now() - start) / 1000);
    };
    await windowOf("post"); // warm-up
    const posts: number[] = [];
    const folders: number[] = [];
    for (let i = 0; i < WINDOWS; i++) {
      if (i % 2) {
        folders.push(await windowOf("folder"));
        posts.push(await windowOf("post"));
      } else {
        posts.push(await windowOf("post"));
        folders.push(await windowOf("folder"));
      }
    }
    const postsPerSecond = stats(posts).median;
    const foldersPerSecond = stats(folders).median;
    log(`  throughput, ${CONCURRENCY} concurrent clients, ${WINDOWS} windows of ${WINDOW_MS} ms each:`);
    log(`    postMessage   ${postsPerSecond.toFixed(0)}/s   (windows: ${posts.map((p) => p.toFixed(0)).join(", ")})`);
    log(`    createFolder  ${foldersPerSecond.toFixed(0)}/s   (windows: ${folders.map((p) => p.toFixed(0)).join(", ")})`);
    log(`    ratio ${round(postsPerSecond / foldersPerSecond)}`);

    Object.assign(summary, {
      subscribers: SUBSCRIBERS,
      rounds: ROUNDS,
      deliveryP99Ms: round(convP99),
      baselineP99Ms: round(baseP99),
      deliveryRatio: round(convP99 / baseP99),
      deliveryMedianMs: round(convStats.median),
      ordered,
      postsPerSecond: round(postsPerSecond, 1),
      foldersPerSecond: round(foldersPerSecond, 1),
      throughputRatio: round(postsPerSecond / foldersPerSecond),
      goalP99Ms: GOAL_P99_MS,
    });
    return ordered && convP99 <= GOAL_P99_MS;
  },
  // Rate limits off the way for a throughput measurement.
  { env: { CONVERSATION_POST_LIMIT: "100000000", CONVERSATION_RATE_WINDOW_SECONDS: "1" } },
);
