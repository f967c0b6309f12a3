// A bad document on graphql-ws is that operation's error, not the connection's:
// a syntax error, a validation error or a refused limit answers an `error`
// message for its id, while a sibling subscription on the same socket stays
// alive and keeps receiving. Uses the real graphql-ws client.
import { createClient, type Client } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { buildTestApp, eventually, type TestApp } from "./harness.ts";

let t: TestApp;
let client: Client;
let token: string;
let spaceId: string;
const closes: unknown[] = [];
beforeAll(async () => {
  t = await buildTestApp({ workers: false });
  const w = await t.factories.world();
  token = w.adminToken;
  spaceId = w.space.id;
  client = createClient({ url: t.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, lazy: false, connectionParams: { authorization: `Bearer ${token}` } });
  client.on("closed", (event) => closes.push(event));
});
afterAll(async () => {
  await client?.dispose();
  await t?.close();
});

type Outcome = { errors?: readonly { message: string }[]; nexts: unknown[]; completed: boolean };

/** Subscribes and records what the operation receives. */
function operation(query: string, variables?: Record<string, unknown>): Outcome {
  const outcome: Outcome = { nexts: [], completed: false };
  client.subscribe(
    { query, variables },
    {
      next: (value) => {
        outcome.nexts.push(value);
      },
      error: (e) => {
        outcome.errors = Array.isArray(e) ? e : [e as { message: string }];
      },
      complete: () => {
        outcome.completed = true;
      },
    },
  );
  return outcome;
}

async function createFolder(name: string) {
  const res = await t.gql(`mutation($s: ID!, $p: String!) { createFolder(input: { spaceId: $s, path: $p }) { id } }`, { s: spaceId, p: name }, token);
  expect(res.errors).toBeUndefined();
}

describe("graphql-ws: a bad operation fails alone", () => {
  it("answers each bad document with an error, and the good subscription keeps receiving", async () => {
    const good = operation(`subscription($s: ID!) { spaceEvents(spaceId: $s) { type name } }`, { s: spaceId });
    // graphql-ws has no "subscribed" ack: give the server a moment to register the listener.
    await new Promise((r) => setTimeout(r, 300));
    await createFolder("before");
    await eventually(() => good.nexts.length === 1);

    let deep = "id";
    for (let i = 0; i < 17; i++) deep = `parent { ${deep} }`;
    const bad = {
      syntax: operation(`subscription { spaceEvents(spaceId: `),
      validation: operation(`subscription { noSuchField }`),
      depthLimit: operation(`query($s: String!) { entry(spaceId: "x", path: $s) { ${deep} } }`, { s: "" }),
    };
    for (const [name, outcome] of Object.entries(bad)) {
      await eventually(() => outcome.errors, 5_000).catch(() => {
        throw new Error(`${name}: no error message (closes: ${JSON.stringify(closes)})`);
      });
      expect(outcome.nexts, name).toEqual([]);
    }
    expect(bad.syntax.errors?.[0]?.message).toMatch(/Syntax Error/);
    expect(bad.validation.errors?.[0]?.message).toMatch(/noSuchField/);
    expect(bad.depthLimit.errors?.[0]?.message).toMatch(/depth/i);

    await createFolder("after");
    await eventually(() => good.nexts.length === 2);
    expect(good.nexts).toEqual([{ data: { spaceEvents: { type: "CREATED", name: "before" } } }, { data: { spaceEvents: { type: "CREATED", name: "after" } } }]);
    expect(good.errors).toBeUndefined();
    expect(good.completed).toBe(false);
    expect(closes).toEqual([]);
  });

  it("refuses a query over the cost limit with LIMITS_REACHED, and still answers good operations afterwards", async () => {
    let selection = "name";
    for (let i = 0; i < 3; i++) selection = `... on Folder { children(first: $n) { edges { node { ${selection} } } } }`;
    const costly = operation(`query($s: ID!, $n: Int) { entry(spaceId: $s, path: "") { ${selection} } }`, { s: spaceId, n: 500 });
    await eventually(() => costly.completed || costly.errors);
    expect(costly.nexts).toMatchObject([{ errors: [{ extensions: { code: "LIMITS_REACHED", details: { reason: "QUERY_COST" } } }] }]);

    const viewer = operation(`{ viewer { isOrgAdmin } }`);
    await eventually(() => viewer.completed);
    expect(viewer.nexts).toEqual([{ data: { viewer: { isOrgAdmin: true } } }]);
    expect(closes).toEqual([]);
  });
});
