// What a small request costs the database: authentication is one statement
// (decision 50), so `{ viewer }` is exactly one, whatever grants the account holds.
import { afterAll, beforeAll, expect, it } from "vitest";
import { buildTestApp, type TestApp } from "./harness.ts";

const sql: string[] = [];
let t: TestApp;
let w: Awaited<ReturnType<TestApp["factories"]["world"]>>;
beforeAll(async () => {
  t = await buildTestApp({ sqlLog: sql, workers: false });
  w = await t.factories.world();
});
afterAll(() => t?.close());

async function viewer(token: string) {
  const res = await fetch(t.graphqlUrl, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: "{ viewer { accountId isOrgAdmin grants { spaceId permissions } } }" }),
  });
  return (await res.json()) as { data?: { viewer: { accountId: string; grants: { spaceId: string; permissions: string[] }[] } }; errors?: unknown[] };
}

it("{ viewer } costs one statement, with the account's grants in it", async () => {
  const other = await t.factories.space(w.org.id, "Other");
  const member = await t.factories.member(w.org.id, w.space.id, ["assets:read"]);
  await t.factories.grant(member.account.id, other.id, ["assets:read", "assets:create"]);
  sql.length = 0;
  const answer = await viewer(member.token);
  expect(sql).toHaveLength(1);
  expect(answer.data?.viewer.accountId).toBe(member.account.id);
  expect(answer.data?.viewer.grants.sort((a, b) => a.spaceId.localeCompare(b.spaceId))).toEqual(
    [
      { spaceId: w.space.id, permissions: ["assets:read"] },
      { spaceId: other.id, permissions: ["assets:create", "assets:read"] },
    ].sort((a, b) => a.spaceId.localeCompare(b.spaceId)),
  );
});

it("an account without grants gets an empty list from the same statement", async () => {
  const loner = await t.factories.account(w.org.id);
  const { secret } = await t.factories.token(loner.id);
  sql.length = 0;
  const answer = await viewer(secret);
  expect(sql).toHaveLength(1);
  expect(answer.data?.viewer.grants).toEqual([]);
});
