// Writes schema.graphql, the committed printed schema (test/schema.test.ts fails when it is stale).
import { writeFileSync } from "node:fs";
import { printSchema } from "graphql";
import { schema } from "../src/graphql/schema.ts";

export const printedSchema = () => `${printSchema(schema)}\n`;

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(new URL("../schema.graphql", import.meta.url), printedSchema());
  console.log("wrote schema.graphql");
}
