// Small-request throughput against the bare stack (issue 11, goals 1 and 2).
// Baseline, in the same process and run: graphql-yoga inside Fastify answering
// `{ hello }`. Measured against it, each with 10 keep-alive connections driven by
// a load generator in its own process (bench/_load.ts):
//   - `{ viewer }` with a bearer token (authentication is one statement);
//   - a GraphQL listing of 100 files with name, size, mimeType and downloadUrl;
//   - the REST listing of the same folder.
// Rounds are interleaved (baseline, viewer, GraphQL list, REST list, repeat) and
// each figure is the median of the rounds, because these machines are shared.
//
//   npx tsx bench/small-requests.ts        BENCH_SECONDS=5 BENCH_ROUNDS=5 npx tsx bench/small-requests.ts
//
// Prints req/s, p99 and the ratio to the baseline per measure and a final JSON
// line; exits 1 when a goal is missed or a request failed.
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Fastify from "fastify";
import { createSchema, createYoga } from "graphql-yoga";
import { freePort } from "../src/free-port.ts";
import { log, round, runBench, stats, type BenchEnv } from "./_support.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = 10;
const FILES = 100;
const GOALS = { viewer: 0.6, graphqlList: 0.25 } as const;
const LOAD = path.join(path.dirname(fileURLToPath(import.meta.url)), "_load.ts");

type LoadSpec = { url: string; method?: string; headers?: Record<string, string>; body?: string };
type LoadResult = { requests: number; rps: number; p50Ms: number; p99Ms: number; errors: number; firstBody?: string };

function load(spec: LoadSpec): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", LOAD, JSON.stringify({ ...spec, connections: CONNECTIONS, seconds: SECONDS })], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c));
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve(JSON.parse(out) as LoadResult) : reject(new Error(`load generator exited ${code}`))));
  });
}

async function startBaseline() {
  const app = Fastify();
  const yoga = createYoga({
    schema: createSchema({ typeDefs: "type Query { hello: String! }", resolvers: { Query: { hello: () => "world" } } }),
    logging: false,
  });
  app.route({ url: "/graphql", method: ["GET", "POST"], handler: (req, reply) => yoga.handleNodeRequestAndResponse(req, reply, {}) });
  const port = await freePort();
  await app.listen({ port, host: "127.0.0.1" });
  return { url: `http://127.0.0.1:${port}/graphql`, stop: () => app.close() };
}

async function seedFolder(env: BenchEnv) {
  for (let i = 0; i < FILES; i++) {
    const pathId = Buffer.from(`list/file-${String(i).padStart(3, "0")}.txt`).toString("base64url");
    const res = await fetch(`${env.url}/api/v1/space/${env.spaceId}/storage/${pathId}/upload`, {
      method: "POST",
      headers: { authorization: `Bearer ${env.token}`, "content-type": "text/plain" },
      body: `file ${i}\n`,
    });
    if (res.status !== 200) throw new Error(`seeding upload ${i}: ${res.status} ${await res.text()}`);
  }
}

await runBench("small-requests", async (env, summary) => {
  const baseline = await startBaseline();
  try {
    await seedFolder(env);
    const json = { "content-type": "application/json" };
    const auth = { ...json, authorization: `Bearer ${env.token}` };
    const gql = (url: string, headers: Record<string, string>, query: string, variables?: object): LoadSpec => ({
      url,
      method: "POST",
      headers,
      body: JSON.stringify({ query, variables }),
    });
    const measures: Record<string, LoadSpec> = {
      baseline: gql(baseline.url, json, "{ hello }"),
      viewer: gql(`${env.url}/graphql`, auth, "{ viewer { accountId } }"),
      graphqlList: gql(
        `${env.url}/graphql`,
        auth,
        `query($spaceId: ID!) { entry(spaceId: $spaceId, path: "list") { ... on Folder { children(first: 100) { edges { node { name ... on Asset { size mimeType downloadUrl } } } } } } }`,
        { spaceId: env.spaceId },
      ),
      restList: { url: `${env.url}/api/v1/space/${env.spaceId}/storage?path=list&first=100`, headers: { authorization: `Bearer ${env.token}` } },
    };
    // BENCH_ONLY=viewer (comma-separated) measures only those, beside the baseline (for profiling).
    const only = process.env.BENCH_ONLY?.split(",");
    if (only) for (const name of Object.keys(measures)) if (name !== "baseline" && !only.includes(name)) delete measures[name];
    const results: Record<string, LoadResult[]> = Object.fromEntries(Object.keys(measures).map((k) => [k, []]));
    for (let round_ = 0; round_ < ROUNDS; round_++) {
      for (const [name, spec] of Object.entries(measures)) results[name]!.push(await load(spec));
    }
    // Each answer must be the real one, not an error with status 200.
    const first = (name: string) => results[name]?.[0]?.firstBody ?? "";
    const answersOk = first("viewer").includes("accountId") && first("graphqlList").includes("downloadUrl") && first("restList").includes("file-000.txt");
    const rps = (name: string) => stats(results[name]!.map((r) => r.rps)).median;
    const p99 = (name: string) => stats(results[name]!.map((r) => r.p99Ms)).median;
    const errors = Object.values(results)
      .flat()
      .reduce((n, r) => n + r.errors, 0);
    const base = rps("baseline");
    log(`  baseline yoga-in-Fastify { hello }   ${round(base, 0)} req/s  p99 ${round(p99("baseline"), 1)} ms`);
    const ratios: Record<string, number> = {};
    for (const name of Object.keys(measures).filter((k) => k !== "baseline")) {
      ratios[name] = round(rps(name) / base, 3);
      log(`  ${name.padEnd(36)} ${round(rps(name), 0)} req/s  p99 ${round(p99(name), 1)} ms  ratio ${ratios[name]}`);
    }
    if (only) return errors === 0; // a partial run judges no goals
    const restAtLeastGraphql = rps("restList") >= rps("graphqlList");
    log(`  REST list / GraphQL list: ${round(rps("restList") / rps("graphqlList"), 2)} (goal >= 1)`);
    const goalsMet = ratios.viewer! >= GOALS.viewer && ratios.graphqlList! >= GOALS.graphqlList && restAtLeastGraphql;
    Object.assign(summary, {
      connections: CONNECTIONS,
      seconds: SECONDS,
      rounds: ROUNDS,
      baselineRps: round(base, 0),
      rps: Object.fromEntries(Object.keys(measures).map((k) => [k, round(rps(k), 0)])),
      p99Ms: Object.fromEntries(Object.keys(measures).map((k) => [k, round(p99(k), 1)])),
      ratios,
      goals: GOALS,
      errors,
      answersOk,
    });
    return goalsMet && errors === 0 && answersOk;
  } finally {
    await baseline.stop();
  }
});
