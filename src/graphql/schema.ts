// Imports every module's GraphQL file (each registers its types on the builder,
// and its node(id) loader), then builds and checks every Node type has a loader.
import { assertNodeLoadersComplete } from "../modules/node/node-registry.ts";
import { builder } from "./builder.ts";
import "../modules/organization/organization.graphql.ts";
import "../modules/account/account.graphql.ts";
import "../modules/space/space.graphql.ts";
import "../modules/entry/entry.graphql.ts";
import "../modules/search/search.graphql.ts";
import "../modules/asset/asset.graphql.ts";
import "../modules/processing/processing.graphql.ts";
import "../modules/grant/grant.graphql.ts";
import "../modules/room/room.graphql.ts";
import "../modules/conversation/conversation.graphql.ts";
import "../modules/message/message.graphql.ts";
import "../modules/attachment/attachment.graphql.ts";
import "../modules/webhook/webhook.graphql.ts";
import "../modules/node/node.graphql.ts";

export const schema = builder.toSchema({ sortSchema: true });
assertNodeLoadersComplete(schema);
