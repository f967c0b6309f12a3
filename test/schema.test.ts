// schema.graphql is the committed, printed schema. Regenerate with `npm run schema:print`.
import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import { printedSchema } from "../scripts/print-schema.ts";

it("schema.graphql matches the schema the code builds", () => {
  const committed = readFileSync(new URL("../schema.graphql", import.meta.url), "utf8");
  // On failure: run `npm run schema:print` and commit schema.graphql.
  expect(printedSchema()).toBe(committed);
});
