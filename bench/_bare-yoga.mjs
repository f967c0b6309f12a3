// The baseline of bench/startup.ts: a bare graphql-yoga server on node:http, one field,
// started the same way as Cabinet's compiled server (`node <file>.js`, PORT from the env).
import { createServer } from "node:http";
import { createSchema, createYoga } from "graphql-yoga";

const yoga = createYoga({ schema: createSchema({ typeDefs: "type Query { hello: String }", resolvers: { Query: { hello: () => "world" } } }) });
createServer(yoga).listen(Number(process.env.PORT), "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));
