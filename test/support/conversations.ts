// Helpers for the conversation tests: GraphQL calls as a given token, and
// recording conversationEvents / roomEvents / agentEvents over graphql-ws.
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";
import { eventually, type GraphQLResponse, type TestApp } from "../harness.ts";

export type ConvEvent = {
  cursor: string;
  type: string;
  roomId: string;
  conversationId: string | null;
  messageId: string | null;
  seq: number | null;
  authorId: string | null;
  text: string | null;
  delta: string | null;
  status: string | null;
  interrupted: boolean | null;
  triggers: string[] | null;
  suppressed: { accountId: string; reason: string }[] | null;
  chainDepth: number | null;
  accountId: string | null;
};

export const EVENT_FIELDS =
  "cursor type roomId conversationId messageId seq authorId text delta status interrupted triggers suppressed { accountId reason } chainDepth accountId";

export async function call<T = Record<string, unknown>>(
  graphqlUrl: string,
  token: string | undefined,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<GraphQLResponse<T> & { status: number; headers: Headers }> {
  const res = await fetch(graphqlUrl, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return { ...((await res.json()) as GraphQLResponse<T>), status: res.status, headers: res.headers };
}

/** Data of a call that must succeed. */
export async function ok<T = Record<string, unknown>>(graphqlUrl: string, token: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const res = await call<T>(graphqlUrl, token, query, variables);
  if (res.errors) throw new Error(`${query.slice(0, 60)}: ${JSON.stringify(res.errors)}`);
  return res.data as T;
}

export function createWsClients() {
  const clients: Client[] = [];
  return {
    client(url: string, token: string) {
      const client = createClient({ url, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${token}` }, retryAttempts: 0, lazy: true });
      clients.push(client);
      return client;
    },
    dispose: () => Promise.all(clients.map((c) => c.dispose())),
  };
}

export type Recording = ReturnType<typeof record>;

/** One subscription (`field(args)`), recording events, errors and completion. */
export function record(client: Client, field: string, args: Record<string, unknown>) {
  const events: ConvEvent[] = [];
  const errors: { message?: string; extensions?: { code?: string } }[] = [];
  let completed = false;
  const decl = Object.keys(args)
    .map((k) => `$${k}: ${k === "types" ? "[String!]" : k === "after" ? "String" : "ID!"}`)
    .join(", ");
  const pass = Object.keys(args)
    .map((k) => `${k}: $${k}`)
    .join(", ");
  const dispose = client.subscribe<Record<string, ConvEvent>>(
    { query: `subscription(${decl}) { ${field}(${pass}) { ${EVENT_FIELDS} } }`, variables: args },
    {
      next: (r) => (r.errors ? errors.push(...(r.errors as never[])) : events.push(r.data![field]!)),
      error: (e) => errors.push(...(Array.isArray(e) ? e : [e as never])),
      complete: () => (completed = true),
    },
  );
  return {
    events,
    errors,
    dispose,
    completed: () => completed,
    of: (type: string) => events.filter((e) => e.type === type),
    until: (n: number, type?: string, timeoutMs = 20_000) =>
      eventually(() => (type ? events.filter((e) => e.type === type).length : events.length) >= n, timeoutMs, 10),
  };
}

/** A world for conversation tests: users and an agent with conversation rights in the space. */
export async function conversationWorld(t: TestApp) {
  const w = await t.factories.world();
  const perms = ["conversations:read", "conversations:write"] as const;
  const user = async () => {
    const m = await t.factories.member(w.org.id, w.space.id, [...perms]);
    return { id: m.account.id, token: m.token };
  };
  const agent = async (name = "agent") => {
    const a = await t.factories.account(w.org.id, { kind: "SERVICE", name });
    await t.factories.grant(a.id, w.space.id, [...perms]);
    return { id: a.id, token: (await t.factories.token(a.id)).secret };
  };
  return { ...w, user, agent };
}
