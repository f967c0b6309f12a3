// Imports every module's GraphQL file (each registers its types on the builder), then builds.
import { builder } from "./builder.ts";
import "../modules/organization/organization.graphql.ts";
import "../modules/account/account.graphql.ts";
import "../modules/space/space.graphql.ts";
import "../modules/entry/entry.graphql.ts";
import "../modules/asset/asset.graphql.ts";
import "../modules/grant/grant.graphql.ts";
import "../modules/node/node.graphql.ts";

export const schema = builder.toSchema({ sortSchema: true });
