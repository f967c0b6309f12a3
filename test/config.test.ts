// Configuration: loadConfig's sections and defaults, and the README's
// Configuration table held to the settings declared in src/config.ts.
// On a README failure: `npm run --silent config:table -- --write`, then review.
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, describeSettings, loadConfig } from "../src/config.ts";
import { configTable } from "../scripts/config-table.ts";

type Row = { env: string; default: string; meaning: string };

/** The rows of the first table under "## Configuration", parsed by hand (not by the printer). */
function configurationRows(markdown: string): Row[] {
  const section = markdown.split(/^## Configuration$/m)[1]?.split(/^## /m)[0];
  if (!section) throw new Error('no "## Configuration" section');
  const table = section
    .split("\n")
    .filter((l) => l.startsWith("|"))
    .slice(2); // header, separator
  return table.map((line) => {
    const [variable = "", documented = "", meaning = "", ...extra] = line
      .split("|")
      .slice(1, -1)
      .map((c) => c.trim());
    expect(extra, `three cells: ${line}`).toEqual([]);
    const names = [...variable.matchAll(/`([A-Z0-9_]+)`/g)].map((m) => m[1]!);
    expect(names, `a row names exactly one variable: ${line}`).toHaveLength(1);
    return { env: names[0]!, default: documented, meaning };
  });
}

const squash = (s: string) => s.replace(/\s+/g, " ").trim();
/** "`10737418240` (10 GiB)" -> "10737418240": drop backticks and a trailing explanation. */
const bareDefault = (s: string) => squash(s.replace(/`/g, "").replace(/\s*\([^)]*\)$/, ""));

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
const rows = configurationRows(readme);
const declared = describeSettings();

describe("README Configuration table", () => {
  it("has a row for every declared variable, and no others", () => {
    expect(rows.map((r) => r.env).sort()).toEqual(declared.map((s) => s.env).sort());
  });

  it("names each variable once", () => {
    expect(new Set(rows.map((r) => r.env)).size).toBe(rows.length);
  });

  it.each(declared)("documents $env with its declared default and description", (s) => {
    const row = rows.find((r) => r.env === s.env);
    expect(row, `README row for ${s.env}`).toBeDefined();
    expect(squash(row!.default)).toBe(squash(s.documentedDefault));
    if (s.default !== undefined) expect(bareDefault(row!.default)).toBe(String(s.default));
    expect(squash(row!.meaning)).toBe(squash(s.description));
  });

  it("is what the printer prints", () => {
    // The printer's output parses back to the same rows as the README.
    expect(configurationRows(`## Configuration\n\n${configTable()}\n`)).toEqual(rows);
  });
});

describe("declared settings", () => {
  it("name each variable once, in UPPER_SNAKE_CASE, with a one-line description", () => {
    const envs = declared.map((s) => s.env);
    expect(new Set(envs).size).toBe(envs.length);
    for (const s of declared) {
      expect(s.env).toMatch(/^[A-Z][A-Z0-9_]*$/);
      expect(s.description.trim().length, s.env).toBeGreaterThan(0);
      expect(s.description, s.env).not.toMatch(/[\n|]/);
    }
  });

  it("document a literal default as that value", () => {
    for (const s of declared.filter((d) => d.default !== undefined)) {
      expect(bareDefault(s.documentedDefault), s.env).toBe(String(s.default));
    }
  });
});

describe("loadConfig", () => {
  it("gives every section its defaults with no environment at all", () => {
    const c = loadConfig({});
    expect(c).toEqual({
      http: { port: 4000, host: "0.0.0.0", publicUrl: undefined, corsOrigins: [] },
      data: { dir: path.resolve("./.data"), databaseUrl: undefined },
      storage: { s3: undefined, signingSecret: undefined },
      bootstrap: { token: undefined },
      limits: { defaultQuotaBytes: 10n * 1024n ** 3n, defaultMaxFileSizeBytes: 5n * 1024n ** 3n },
      presign: { defaultExpiresSeconds: 900, maxExpiresSeconds: 604_800 },
      processing: {
        imagesConcurrency: 2,
        documentsConcurrency: 2,
        mediaConcurrency: 1,
        maxInputPixels: 268_402_689,
        storeGps: false,
        transcription: undefined,
      },
      uploads: { abandonAfterSeconds: 900 },
      webhooks: { timeoutMs: 10_000, deliveryRetentionDays: 30 },
      search: { language: "simple" },
      import: { allowHosts: [], maxRedirects: 5, connectTimeoutMs: 5_000, readTimeoutMs: 15_000 },
      events: { retentionDays: 7, pollIntervalMs: 5_000 },
      conversations: { postLimit: 30, deltaLimit: 600, rateWindowSeconds: 10, agentChainDepth: 8, streamTimeoutSeconds: 120, dmMaxParticipants: 16 },
      attachments: {
        mimeTypes: [
          "image/png",
          "image/jpeg",
          "image/webp",
          "image/gif",
          "application/pdf",
          "text/csv",
          "text/plain",
          "application/json",
          "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ],
        uploadExpiresSeconds: 900,
        unboundTtlSeconds: 86_400,
        restoreDays: 7,
      },
      workers: { run: true },
      log: { level: "info" },
    });
  });

  it("reads each variable into its section", () => {
    const c = loadConfig({
      PORT: "8080",
      HOST: "127.0.0.1",
      PUBLIC_URL: "https://files.example.com//",
      DATA_DIR: "/var/lib/cabinet",
      DATABASE_URL: "postgresql://db/cabinet",
      S3_BUCKET: "b",
      S3_ENDPOINT: "http://minio:9000",
      S3_REGION: "eu-central-1",
      S3_ACCESS_KEY_ID: "id",
      S3_SECRET_ACCESS_KEY: "secret",
      S3_FORCE_PATH_STYLE: "yes",
      CABINET_SIGNING_SECRET: "s".repeat(32),
      CABINET_BOOTSTRAP_TOKEN: "t".repeat(16),
      DEFAULT_QUOTA_BYTES: "1000",
      DEFAULT_MAX_FILE_SIZE_BYTES: "100",
      PRESIGN_DEFAULT_EXPIRES_SECONDS: "60",
      PRESIGN_MAX_EXPIRES_SECONDS: "60",
      UPLOAD_ABANDON_AFTER_SECONDS: "0",
      RUN_WORKERS: "false",
      LOG_LEVEL: "debug",
    });
    expect(c.http).toEqual({ port: 8080, host: "127.0.0.1", publicUrl: "https://files.example.com", corsOrigins: [] });
    expect(c.data).toEqual({ dir: "/var/lib/cabinet", databaseUrl: "postgresql://db/cabinet" });
    expect(c.storage).toEqual({
      s3: { bucket: "b", endpoint: "http://minio:9000", region: "eu-central-1", accessKeyId: "id", secretAccessKey: "secret", forcePathStyle: true },
      signingSecret: "s".repeat(32),
    });
    expect(c.bootstrap.token).toBe("t".repeat(16));
    expect(c.limits).toEqual({ defaultQuotaBytes: 1000n, defaultMaxFileSizeBytes: 100n });
    expect(c.presign).toEqual({ defaultExpiresSeconds: 60, maxExpiresSeconds: 60 });
    expect(c.uploads.abandonAfterSeconds).toBe(0);
    expect(c.workers.run).toBe(false);
    expect(c.log.level).toBe("debug");
  });

  it("treats empty strings as unset", () => {
    expect(loadConfig({ PORT: "", S3_ENDPOINT: "", RUN_WORKERS: "" })).toMatchObject({
      http: { port: 4000 },
      storage: { s3: undefined },
      workers: { run: true },
    });
  });

  it("is frozen all the way down", () => {
    const c = loadConfig({ S3_BUCKET: "b", IMPORT_ALLOW_HOSTS: "a,b" });
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.http)).toBe(true);
    expect(Object.isFrozen(c.storage.s3)).toBe(true);
    expect(Object.isFrozen(c.import.allowHosts)).toBe(true);
    expect(() => ((c.presign as { maxExpiresSeconds: number }).maxExpiresSeconds = 1)).toThrow(TypeError);
  });

  it("names the variable of every invalid value", () => {
    const cases: Record<string, string> = {
      PORT: "70000",
      PUBLIC_URL: "not a url",
      S3_FORCE_PATH_STYLE: "maybe",
      CABINET_SIGNING_SECRET: "short",
      CABINET_BOOTSTRAP_TOKEN: "short",
      DEFAULT_QUOTA_BYTES: "0",
      PRESIGN_MAX_EXPIRES_SECONDS: "-5",
      UPLOAD_ABANDON_AFTER_SECONDS: "1.5",
      IMPORT_MAX_REDIRECTS: "21",
      LOG_LEVEL: "loud",
    };
    for (const [env, value] of Object.entries(cases)) {
      expect(() => loadConfig({ [env]: value }), env).toThrow(ConfigError);
      expect(() => loadConfig({ [env]: value }), env).toThrow(new RegExp(`^Invalid configuration:\\n  ${env}: `));
    }
  });

  it("keeps the cross-field checks", () => {
    expect(() => loadConfig({ S3_ENDPOINT: "http://minio:9000" })).toThrow("Invalid configuration:\n  S3_BUCKET: required when any S3_* setting is given");
    expect(() => loadConfig({ S3_ACCESS_KEY_ID: "id" })).toThrow(/S3_BUCKET: required/);
    // Region and path style alone do not switch to S3.
    expect(loadConfig({ S3_REGION: "eu-west-1", S3_FORCE_PATH_STYLE: "true" }).storage.s3).toBeUndefined();
    expect(() => loadConfig({ PRESIGN_DEFAULT_EXPIRES_SECONDS: "601", PRESIGN_MAX_EXPIRES_SECONDS: "600" })).toThrow(
      "Invalid configuration:\n  PRESIGN_DEFAULT_EXPIRES_SECONDS: must not exceed PRESIGN_MAX_EXPIRES_SECONDS",
    );
  });
});
