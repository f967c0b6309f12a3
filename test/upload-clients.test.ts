// The upload clients people use, unchanged: apollo-upload-client (with
// @apollo/client), @urql/core and @graphql-tools/executor-http send GraphQL
// multipart requests with an `Authorization: Bearer` header and no CSRF header.
// Each uploads through /graphql and the bytes are downloaded again. Without the
// bearer header (an anonymous, browser-forgeable request) CSRF prevention still
// refuses the same request (decision 46).
import { randomBytes } from "node:crypto";
import { ApolloClient, gql, InMemoryCache } from "@apollo/client";
import { buildHTTPExecutor } from "@graphql-tools/executor-http";
import { Client, fetchExchange } from "@urql/core";
import UploadHttpLink from "apollo-upload-client/UploadHttpLink.mjs";
import { parse } from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CSRF_HEADERS } from "../src/http/csrf.ts";
import { buildTestApp, type TestApp } from "./harness.ts";

const UPLOAD = `mutation Upload($input: UploadAssetInput!) {
  uploadAsset(input: $input) { id path size sha256 downloadUrl }
}`;

type Uploaded = { id: string; path: string; size: number; sha256: string; downloadUrl: string };

let t: TestApp;
let token: string;
let spaceId: string;
/** Header names of every request the clients sent, to show none carried a CSRF header. */
const sentHeaders: string[][] = [];

/** The global fetch, recording the request's header names. */
const recordingFetch: typeof fetch = async (input, init) => {
  sentHeaders.push([...new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined)).keys()]);
  return fetch(input, init);
};

beforeAll(async () => {
  t = await buildTestApp({ workers: false });
  const w = await t.factories.world();
  token = w.adminToken;
  spaceId = w.space.id;
});
afterAll(() => t?.close());

async function downloaded(url: string): Promise<Buffer> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}

function file(bytes: Buffer, name: string): File {
  return new File([new Uint8Array(bytes)], name, { type: "application/octet-stream" });
}

async function expectStored(uploaded: Uploaded | undefined, path: string, bytes: Buffer) {
  expect(uploaded).toMatchObject({ path, size: bytes.length });
  // Buffer.equals: vitest's deep equality walks 300 kB byte by byte (seconds).
  expect((await downloaded(uploaded!.downloadUrl)).equals(bytes)).toBe(true);
}

const noCsrfHeaderSent = () => {
  expect(sentHeaders.length).toBeGreaterThan(0);
  for (const names of sentHeaders) for (const h of CSRF_HEADERS) expect(names).not.toContain(h);
  sentHeaders.length = 0;
};

describe("apollo-upload-client with @apollo/client", () => {
  const client = (authorization?: string) =>
    new ApolloClient({
      cache: new InMemoryCache(),
      link: new UploadHttpLink({ uri: t.graphqlUrl, fetch: recordingFetch, headers: authorization ? { authorization } : {} }),
    });

  it("uploads with a bearer token and no CSRF header; the bytes come back", async () => {
    const bytes = randomBytes(300_000);
    const res = await client(`Bearer ${token}`).mutate<{ uploadAsset: Uploaded }>({
      mutation: gql(UPLOAD),
      variables: { input: { spaceId, path: "apollo/photo.bin", file: file(bytes, "photo.bin") } },
    });
    expect(res.error).toBeUndefined();
    await expectStored(res.data?.uploadAsset, "apollo/photo.bin", bytes);
    noCsrfHeaderSent();
  });

  it("the same request without a token is refused by CSRF prevention", async () => {
    const res = await client()
      .mutate({ mutation: gql(UPLOAD), variables: { input: { spaceId, path: "apollo/anon.bin", file: file(randomBytes(10), "anon.bin") } } })
      .catch((e: unknown) => ({ error: e }));
    expect(JSON.stringify(res.error)).toContain("CSRF_HEADER_MISSING");
    sentHeaders.length = 0;
  });
});

describe("@urql/core (fetchExchange's multipart support)", () => {
  const client = (authorization?: string) =>
    new Client({
      url: t.graphqlUrl,
      exchanges: [fetchExchange],
      fetch: recordingFetch,
      fetchOptions: { headers: authorization ? { authorization } : {} },
    });

  it("uploads with a bearer token and no CSRF header; the bytes come back", async () => {
    const bytes = randomBytes(300_000);
    const res = await client(`Bearer ${token}`)
      .mutation<{ uploadAsset: Uploaded }>(UPLOAD, { input: { spaceId, path: "urql/photo.bin", file: file(bytes, "photo.bin") } })
      .toPromise();
    expect(res.error).toBeUndefined();
    await expectStored(res.data?.uploadAsset, "urql/photo.bin", bytes);
    noCsrfHeaderSent();
  });

  it("the same request without a token is refused by CSRF prevention", async () => {
    const res = await client()
      .mutation(UPLOAD, { input: { spaceId, path: "urql/anon.bin", file: file(randomBytes(10), "anon.bin") } })
      .toPromise();
    expect(res.error?.graphQLErrors[0]?.extensions.code).toBe("CSRF_HEADER_MISSING");
    expect(res.error?.response?.status).toBe(403);
    sentHeaders.length = 0;
  });
});

describe("@graphql-tools/executor-http", () => {
  // Its own fetch (it builds a FormData ponyfill that only its fetch serializes), so its headers are not recorded.
  const executor = (authorization?: string) => buildHTTPExecutor({ endpoint: t.graphqlUrl, headers: authorization ? { authorization } : {} });

  it("uploads with a bearer token and no CSRF header; the bytes come back", async () => {
    const bytes = randomBytes(300_000);
    const res = (await executor(`Bearer ${token}`)({
      document: parse(UPLOAD),
      variables: { input: { spaceId, path: "tools/photo.bin", file: file(bytes, "photo.bin") } },
    })) as { data?: { uploadAsset: Uploaded }; errors?: unknown[] };
    expect(res.errors).toBeUndefined();
    await expectStored(res.data?.uploadAsset, "tools/photo.bin", bytes);
  });

  it("the same request without a token is refused by CSRF prevention", async () => {
    const res = (await executor()({
      document: parse(UPLOAD),
      variables: { input: { spaceId, path: "tools/anon.bin", file: file(randomBytes(10), "anon.bin") } },
    })) as { errors?: { extensions?: { code?: string } }[] };
    expect(res.errors?.[0]?.extensions?.code).toBe("CSRF_HEADER_MISSING");
    sentHeaders.length = 0;
  });
});

it("nothing was stored for the refused requests", async () => {
  const names = (await t.deps.prisma.entry.findMany({ where: { spaceId, kind: "FILE" }, select: { name: true } })).map((e) => e.name).sort();
  expect(names).toEqual(["photo.bin", "photo.bin", "photo.bin"]);
});
