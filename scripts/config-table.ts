// Prints the README's Configuration table from the settings declared in
// src/config.ts: `npm run --silent config:table`. With `--write` it replaces the
// table in README.md in place. test/config.test.ts fails when they drift apart.
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describeSettings } from "../src/config.ts";

const README = fileURLToPath(new URL("../README.md", import.meta.url));
const HEADER = "| Variable | Default | Meaning |";

export function configTable(): string {
  const rows = describeSettings().map((s) => `| \`${s.env}\` | ${s.documentedDefault} | ${s.description} |`);
  return [HEADER, "|---|---|---|", ...rows].join("\n");
}

/** README text with its Configuration table (header to the first non-table line) replaced. */
export function withConfigTable(readme: string): string {
  const lines = readme.split("\n");
  const start = lines.indexOf(HEADER);
  if (start < 0) throw new Error(`README.md has no line "${HEADER}"`);
  let end = start;
  while (lines[end]?.startsWith("|")) end++;
  return [...lines.slice(0, start), configTable(), ...lines.slice(end)].join("\n");
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv.includes("--write")) writeFileSync(README, withConfigTable(readFileSync(README, "utf8")));
  else process.stdout.write(`${configTable()}\n`);
}
