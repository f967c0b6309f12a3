// Seeded fuzzing over real HTTP: schema-driven GraphQL documents filled with
// hostile values (NUL, huge strings, deep JSON, far dates, junk ids and
// cursors, bidi text, wrong types), a few malformed GraphQL-over-HTTP requests,
// and hostile REST requests. Whatever comes back must be a 4xx or 2xx, and
// every error must carry a code (and none may be INTERNAL_SERVER_ERROR).
// FUZZ_SEED=<n> replays another sequence; the seed in use is printed.
// FUZZ_DEBUG=1 prints every request with the start of its answer.
// Each test takes about 5 s on an idle 2-core machine; the timeout leaves room
// for a machine busy with other test files.
import { afterAll, beforeAll, expect, it } from "vitest";
import { schema } from "../src/graphql/schema.ts";
import { buildTestApp, type TestApp } from "./harness.ts";
import { createRandom, deepJson, generateDocument, type KnownIds, type Random } from "./support/fuzz.ts";
import { uploadAsset } from "./support/upload.ts";

const SEED = Number(process.env.FUZZ_SEED ?? 20_251_122);
const GRAPHQL_REQUESTS = 1_200;
const REST_REQUESTS = 400;

let t: TestApp;
let known: KnownIds;
let tokens: { admin: string; member: string };
let spaceId: string;

beforeAll(async () => {
  t = await buildTestApp({ workers: false });
  const w = await t.factories.world();
  spaceId = w.space.id;
  const member = await t.factories.member(w.org.id, w.space.id, ["assets:read"]);
  // A token the fuzzer may revoke without cutting off its own requests.
  const spare = await t.factories.token(member.account.id);
  tokens = { admin: w.adminToken, member: member.token };
  for (const path of ["docs/a.txt", "docs/b.txt", "top.bin"]) {
    const up = await uploadAsset(t.graphqlUrl, { token: w.adminToken, spaceId, path, body: `content of ${path}`, createParents: true });
    expect(up.errors).toBeUndefined();
  }
  const other = await t.factories.space(w.org.id, "Other space");
  const entries = await t.deps.prisma.entry.findMany({ select: { id: true } });
  known = {
    spaces: [spaceId, other.id],
    entries: entries.map((e) => e.id),
    accounts: [w.admin.id, member.account.id],
    tokens: [spare.id],
    other: [w.org.id],
  };
  console.log(`fuzz seed: ${SEED} (FUZZ_SEED=${SEED} replays it)`);
});
afterAll(() => t?.close());

type Failure = { request: string; status: number; body: string };

function authorization(r: Random): Record<string, string> {
  const roll = r.next();
  if (roll < 0.55) return { authorization: `Bearer ${tokens.admin}` };
  if (roll < 0.75) return { authorization: `Bearer ${tokens.member}` };
  if (roll < 0.85) return {};
  if (roll < 0.95) return { authorization: "Bearer cab_notarealtoken" };
  return { authorization: r.pick(["Basic YTpi", "Bearer", "Bearer \u00e9", "x".repeat(5000)]) };
}

/** What is wrong with a GraphQL answer, or null when it is fine. */
function graphqlProblem(status: number, body: string): string | null {
  if (status >= 500) return `status ${status}`;
  let json: { errors?: { extensions?: { code?: unknown } }[]; error?: { code?: unknown } };
  try {
    json = JSON.parse(body);
  } catch {
    return "not JSON";
  }
  // Fastify's own refusals before yoga (body too large, unreadable JSON) answer in the REST shape.
  if (json.error) return typeof json.error.code === "string" ? null : "error without code";
  for (const e of json.errors ?? []) {
    if (typeof e.extensions?.code !== "string") return "error without code";
    if (e.extensions.code === "INTERNAL_SERVER_ERROR") return "INTERNAL_SERVER_ERROR";
  }
  if (/Did you mean/.test(body)) return "leaks a suggestion";
  return status >= 400 && !json.errors?.length ? `status ${status} without errors` : null;
}

/** Malformed GraphQL-over-HTTP requests, built from the same random sequence. */
function malformedGraphqlRequest(r: Random): { url: string; init: RequestInit } {
  const url = t.graphqlUrl;
  const json = { "content-type": "application/json", ...authorization(r) };
  switch (r.int(9)) {
    case 0:
      return { url: `${url}?query=${encodeURIComponent("{ viewer { accountId } }")}`, init: { headers: authorization(r) } };
    case 1:
      return {
        url: `${url}?query=${encodeURIComponent('mutation { createSpace(input: {name: "x"}) { id } }')}`,
        init: { headers: { ...authorization(r), "x-graphql-yoga-csrf": "1" } },
      };
    case 2:
      return { url, init: { method: "POST", headers: json, body: "{ not json" } };
    case 3:
      return { url, init: { method: "POST", headers: json, body: JSON.stringify({ query: 42 }) } };
    case 4:
      return { url, init: { method: "POST", headers: json, body: JSON.stringify({ variables: {} }) } };
    case 5:
      return { url, init: { method: "POST", headers: json, body: JSON.stringify([{ query: "{ __typename }" }]) } };
    case 6:
      return { url, init: { method: "POST", headers: { "content-type": "text/plain" }, body: "{ __typename }" } };
    case 7:
      return { url, init: { method: "PUT", headers: json, body: JSON.stringify({ query: "{ __typename }" }) } };
    default:
      return { url, init: { method: "POST", headers: json, body: JSON.stringify({ query: "{ __typename }", variables: deepJson(100) }) } };
  }
}

/** A request the fuzzer sends, and what is wrong with its answer (null when nothing). */
type FuzzRequest = { url: string; init: RequestInit; check: (status: number, body: string) => string | null };

/**
 * Sends the requests (generated up front, so the sequence depends only on the
 * seed) a few at a time, and returns the first failures.
 */
async function send(requests: FuzzRequest[], concurrency = 4): Promise<Failure[]> {
  const failures: Failure[] = [];
  let next = 0;
  const worker = async () => {
    while (next < requests.length) {
      const i = next++;
      const { url, init, check } = requests[i]!;
      const res = await fetch(url, init);
      const body = await res.text();
      if (process.env.FUZZ_DEBUG) console.log(`#${i} ${res.status} ${body.slice(0, 160)} <- ${String(init.body ?? url).slice(0, 160)}`);
      const problem = check(res.status, body);
      if (problem)
        failures.push({
          request: `#${i} ${problem}: ${init.method ?? "GET"} ${url.slice(0, 200)} ${String(init.body ?? "").slice(0, 600)}`,
          status: res.status,
          body: body.slice(0, 600),
        });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return failures.sort((a, b) => a.request.localeCompare(b.request)).slice(0, 5);
}

it(`answers ${GRAPHQL_REQUESTS} schema-driven GraphQL requests with coded 4xx/2xx, never a 5xx`, async () => {
  const r = createRandom(SEED);
  const requests: FuzzRequest[] = [];
  for (let i = 0; i < GRAPHQL_REQUESTS; i++) {
    if (r.chance(0.05)) {
      requests.push({ ...malformedGraphqlRequest(r), check: graphqlProblem });
      continue;
    }
    const { query, variables } = generateDocument(r, schema, known);
    requests.push({
      url: t.graphqlUrl,
      init: {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/graphql-response+json, application/json", ...authorization(r) },
        body: JSON.stringify({ query, variables }),
      },
      check: graphqlProblem,
    });
  }
  expect(await send(requests)).toEqual([]);
}, 120_000);

const b64 = (s: string) => Buffer.from(s).toString("base64url");

function restRequest(r: Random): { url: string; init: RequestInit } {
  const space = r.pick([
    spaceId,
    spaceId,
    known.spaces[1]!,
    "spc_00000000000000000000000000",
    "%00",
    encodeURIComponent("\u202Espc"),
    "x".repeat(3000),
    "%E2%80%AE",
  ]);
  const pathId = r.pick([
    b64("docs/a.txt"),
    b64("docs"),
    b64("fresh/new.txt"),
    b64(`f/${r.int(1000)}.txt`),
    b64("a/b\u0000c"),
    b64("invoice\u202Etxt.exe"),
    b64(".."),
    "not*base64!",
    "%00",
    "YR",
    b64("é".repeat(200)),
    "A".repeat(8000),
    Buffer.from("docs/a.txt").toString("base64"),
    encodeURIComponent("a+b/c=="),
  ]);
  const base = `${t.url}/api/v1/space/${space}/storage`;
  const headers = authorization(r);
  const cursor = r.pick(["junk", b64(JSON.stringify(["FILE", "abc", "ent_x"])), b64(JSON.stringify(["FILE", "a\u0000", "ent_x"])), "%00", ""]);
  const query = r.pick([
    "",
    "?expiresIn=-1",
    "?expiresIn=99999999999",
    "?expiresIn=abc",
    "?disposition=evil",
    "?disposition=inline",
    `?after=${encodeURIComponent(cursor)}`,
    `?after=${encodeURIComponent(cursor)}&orderBy=SIZE`,
    `?after=${encodeURIComponent(cursor)}&orderBy=UPDATED_AT`,
    "?first=0",
    "?first=-5",
    "?first=501",
    "?first=1e3",
    "?path=%00",
    "?path=docs",
    `?path=${encodeURIComponent("a\u202Eb")}`,
    "?orderBy=NOPE",
    "?direction=UP",
    "?path=docs&first=1",
  ]);
  const json = (body: unknown) => ({ method: "POST", headers: { ...headers, "content-type": "application/json" }, body: JSON.stringify(body) });
  switch (r.int(9)) {
    case 0:
      return {
        url: `${base}/${pathId}${query}`,
        init: { headers: { ...headers, ...(r.chance(0.5) ? { accept: "application/json" } : {}) }, redirect: "manual" },
      };
    case 1:
      return { url: `${base}${query}`, init: { headers } };
    case 2:
      return { url: `${base}/${pathId}`, init: { method: "DELETE", headers } };
    case 3:
      return { url: `${base}/${pathId}/complete`, init: { method: "POST", headers } };
    case 4: {
      const type = r.pick(["text/plain", "image/png", "", `a/${"b".repeat(300)}`, "x".repeat(300), "text/html", "not a type", "\u0000", 5]);
      const size = r.pick([1, 0, -1, 2 ** 53, 1.5, "10", 1e21]);
      const meta = r.pick([undefined, { a: 1 }, deepJson(40), deepJson(29), { "k\u0000": 1 }, { v: "\u0000" }, "x".repeat(20_000), [1, 2]]);
      return { url: `${base}/${pathId}/upload`, init: json({ file: { type, size, meta, sha256: r.pick([undefined, "zz", "0".repeat(64)]) } }) };
    }
    case 5: {
      const file = r.pick([
        "data:text/plain;base64,aGk=",
        "data:text/plain;base64,!!",
        "data:,",
        "http://127.0.0.1:1/x",
        "ftp://x/y",
        "",
        42,
        null,
        ["x"],
        { nested: deepJson(50) },
        "data:\u0000;base64,aGk=",
      ]);
      return { url: `${base}/${pathId}/upload`, init: json({ file }) };
    }
    case 6:
      return {
        url: `${base}/${pathId}/upload`,
        init: {
          method: "POST",
          headers: { ...headers, "content-type": "application/json" },
          body: r.pick(["{ not json", JSON.stringify(deepJson(100)), "[]", "null", '"x"', '{"file":"\\u0000"}']),
        },
      };
    case 7: {
      const type = r.pick(["text/plain", "image/png", "application/x-\u00e9", `text/${"p".repeat(300)}`, "*/*", "text/html"]);
      return {
        url: `${base}/${pathId}/upload`,
        init: { method: "POST", headers: { ...headers, "content-type": type }, body: r.pick(["hello", "<!doctype html><script>1</script>", "\u0000\u0001"]) },
      };
    }
    default:
      return {
        url: `${t.url}/api/v1/${r.pick(["space", "nope", "space/x", `space/${space}/storage/${pathId}/nope`])}`,
        init: { method: r.pick(["PUT", "PATCH", "GET"]), headers },
      };
  }
}

/** What is wrong with a REST answer: a 5xx, or an error that is not `{ error: { code } }`. */
function restProblem(status: number, body: string): string | null {
  if (status >= 500) return `status ${status}`;
  if (status < 400) return null;
  try {
    const code = (JSON.parse(body) as { error?: { code?: unknown } }).error?.code;
    if (typeof code !== "string") return "error without code";
    return code === "INTERNAL_SERVER_ERROR" ? code : null;
  } catch {
    return "not JSON";
  }
}

it(`answers ${REST_REQUESTS} hostile REST requests with coded 4xx/2xx/3xx, never a 5xx`, async () => {
  const r = createRandom(SEED + 1);
  const requests = Array.from({ length: REST_REQUESTS }, () => ({ ...restRequest(r), check: restProblem }));
  expect(await send(requests)).toEqual([]);
}, 120_000);
