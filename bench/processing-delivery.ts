// Processing status delivery (issue 12, point 8): a step change reaches 1,000
// graphql-ws subscribers of `assetProcessing` (one socket each); time from
// sending reprocessAsset (whose transaction records the step's QUEUED change)
// to each subscriber receiving it, p99 over every delivery (goal: <= 100 ms on
// loopback). Baseline, interleaved on the same sockets and server: the same
// subscribers also follow spaceEvents, and a createFolder is delivered to them
// (the event log's own path). ratio = p99(assetProcessing) / p99(spaceEvents).
// No workers run here, so each round's only processing event is that QUEUED.
//
//   npx tsx bench/processing-delivery.ts      BENCH_SUBSCRIBERS=1000 BENCH_ROUNDS=10
import { log, ms, openSubscribers, round, runBench, stats } from "./_support.ts";

const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10);
const GOAL_P99_MS = 100;

const p99 = (samples: number[]) => {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(0.99 * s.length) - 1)]!;
};

await runBench("processing-delivery", async (env, summary) => {
  const pathId = Buffer.from("notes/status.txt").toString("base64url");
  const uploaded = await fetch(`${env.url}/api/v1/space/${env.spaceId}/storage/${pathId}/upload`, {
    method: "POST",
    headers: { authorization: `Bearer ${env.token}`, "content-type": "text/plain" },
    body: "processing status\n",
  });
  const assetId = ((await uploaded.json()) as { id: string }).id;

  // Arrival times per key: "p<round>" for the processing change, "f<round>" for the folder.
  const arrivals = new Map<string, number[]>();
  let processingKey = "probe";
  const arrived = (key: string) => {
    const list = arrivals.get(key) ?? [];
    list.push(performance.now());
    arrivals.set(key, list);
  };
  const t0 = performance.now();
  const clients = await openSubscribers(env, SUBSCRIBERS, (client) => {
    client.subscribe(
      {
        query: `subscription($s: ID!, $a: ID!) { assetProcessing(spaceId: $s, assetId: $a) { cursor step { name status } } }`,
        variables: { s: env.spaceId, a: assetId },
      },
      { next: () => arrived(processingKey), error: (e) => log(`! subscriber error ${JSON.stringify(e).slice(0, 200)}`), complete: () => {} },
    );
    client.subscribe<{ spaceEvents: { name: string } }>(
      { query: `subscription($s: ID!) { spaceEvents(spaceId: $s) { cursor name } }`, variables: { s: env.spaceId } },
      { next: (r) => arrived(`f:${r.data!.spaceEvents.name}`), error: () => {}, complete: () => {} },
    );
  });
  const reprocess = () => env.gql(`mutation($a: ID!) { reprocessAsset(id: $a) { id } }`, { a: assetId });
  const folder = (name: string) =>
    env.gql(`mutation($s: ID!, $p: String!) { createFolder(input: { spaceId: $s, path: $p }) { id } }`, { s: env.spaceId, p: name });
  const waitAll = async (key: string, timeoutMs = 30_000) => {
    const deadline = performance.now() + timeoutMs;
    while ((arrivals.get(key)?.length ?? 0) < SUBSCRIBERS) {
      if (performance.now() > deadline) throw new Error(`${key}: ${arrivals.get(key)?.length ?? 0} of ${SUBSCRIBERS} deliveries within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 2));
    }
  };
  // Every subscription live: probes until all sockets received one of each.
  for (let probe = 0; ; probe++) {
    processingKey = `probe-${probe}`;
    await reprocess();
    await folder(`probe-${probe}`);
    await new Promise((r) => setTimeout(r, 300));
    if ((arrivals.get(processingKey)?.length ?? 0) >= SUBSCRIBERS && (arrivals.get(`f:probe-${probe}`)?.length ?? 0) === SUBSCRIBERS) break;
    if (probe > 100) throw new Error("subscriptions did not all go live");
  }
  log(`  ${SUBSCRIBERS} sockets × 2 subscriptions live in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const processing: number[] = [];
  const baseline: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const pair: [string, () => Promise<unknown>, number[]][] = [
      [`p${r}`, () => reprocess(), processing],
      [`f:f${r}`, () => folder(`f${r}`), baseline],
    ];
    if (r % 2) pair.reverse();
    for (const [key, send, into] of pair) {
      if (key.startsWith("p")) processingKey = key;
      const start = performance.now();
      await send();
      await waitAll(key);
      for (const at of arrivals.get(key)!) into.push(at - start);
    }
  }
  await Promise.all(clients.map((c) => c.dispose()));
  const pP99 = p99(processing);
  const bP99 = p99(baseline);
  log(`  delivery to ${SUBSCRIBERS} subscribers, ${ROUNDS} rounds each:`);
  log(`    assetProcessing     median ${ms(stats(processing).median)}  p99 ${ms(pP99)}`);
  log(`    spaceEvents (base)  median ${ms(stats(baseline).median)}  p99 ${ms(bP99)}`);
  log(`    ratio p99 ${round(pP99 / bP99)} (goal: p99 <= ${GOAL_P99_MS} ms)`);
  Object.assign(summary, {
    subscribers: SUBSCRIBERS,
    rounds: ROUNDS,
    deliveryP99Ms: round(pP99),
    baselineP99Ms: round(bP99),
    ratio: round(pP99 / bP99),
    goalP99Ms: GOAL_P99_MS,
  });
  return pP99 <= GOAL_P99_MS;
});
