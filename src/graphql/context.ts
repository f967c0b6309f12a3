// Per-request (or per-WebSocket-connection) GraphQL context. Authentication is
// lazy and memoized: `viewer()` resolves the bearer token on first use and
// throws UNAUTHENTICATED when there is none or it is not valid.
import type DataLoader from "dataloader";
import type { PrismaClient } from "../db/prisma.ts";
import { authenticate, bearerToken, type Viewer } from "../access/viewer.ts";
import { errors } from "../errors.ts";
import type { Deps } from "../deps.ts";
import { createListingLoader, type ListingRequest, type ListingRow } from "../modules/entry/entry-listing.ts";
import { createPathLoader } from "../modules/entry/entry-tree.sql.ts";

export type Context = {
  requestId: string;
  prisma: PrismaClient;
  deps: Deps;
  /** The authenticated caller; throws UNAUTHENTICATED when there is none. */
  viewer(): Promise<Viewer>;
  loaders: {
    path: DataLoader<string, string | null>;
    listing: DataLoader<ListingRequest, ListingRow[], string>;
    /** Per selection (GraphQL field node): loads entry rows with that selection's Prisma query. */
    entriesBySelection: WeakMap<object, DataLoader<string, unknown>>;
  };
};

export function createContext(deps: Deps, input: { authorization: string | undefined; requestId: string }): Context {
  let viewer: Promise<Viewer> | undefined;
  return {
    requestId: input.requestId,
    prisma: deps.prisma,
    deps,
    viewer() {
      viewer ??= Promise.resolve()
        .then(() => authenticate(deps.prisma, bearerToken(input.authorization)))
        .then((v) => {
          if (!v) throw errors.unauthenticated();
          return v;
        });
      return viewer;
    },
    loaders: {
      path: createPathLoader(deps.prisma),
      listing: createListingLoader(deps.prisma),
      entriesBySelection: new WeakMap(),
    },
  };
}
