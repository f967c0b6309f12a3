// GraphQL multipart uploads (https://github.com/jaydenseric/graphql-multipart-request-spec)
// sent with fetch + FormData, as a browser or apollo-upload-client would.
import { print } from "graphql";
import type { GraphQLResponse } from "../harness.ts";
import { UploadAssetDocument, type UploadAssetMutation } from "../generated/graphql.ts";

export type UploadArgs = {
  spaceId: string;
  path: string;
  body: Blob | Buffer | string;
  fileName?: string;
  /** Type of the multipart part. */
  type?: string;
  mimeType?: string;
  createParents?: boolean;
  token?: string;
  csrf?: boolean;
};

export async function uploadAsset(graphqlUrl: string, args: UploadArgs): Promise<GraphQLResponse<UploadAssetMutation>> {
  const form = new FormData();
  form.set(
    "operations",
    JSON.stringify({
      query: print(UploadAssetDocument),
      variables: { input: { spaceId: args.spaceId, path: args.path, file: null, mimeType: args.mimeType, createParents: args.createParents } },
    }),
  );
  form.set("map", JSON.stringify({ "0": ["variables.input.file"] }));
  const blob =
    args.body instanceof Blob
      ? args.body
      : new Blob([typeof args.body === "string" ? args.body : new Uint8Array(args.body)], { type: args.type ?? "application/octet-stream" });
  form.set("0", blob, args.fileName ?? args.path.split("/").pop());
  const res = await fetch(graphqlUrl, {
    method: "POST",
    headers: {
      ...(args.csrf === false ? {} : { "x-graphql-yoga-csrf": "1" }),
      ...(args.token ? { authorization: `Bearer ${args.token}` } : {}),
    },
    body: form,
  });
  const text = await res.text();
  try {
    return JSON.parse(text) as GraphQLResponse<UploadAssetMutation>;
  } catch {
    throw new Error(`non-JSON response ${res.status}: ${text.slice(0, 200)}`);
  }
}
