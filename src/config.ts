// The only reader of process.env. Everything else receives a frozen Config.
import path from "node:path";
import { z } from "zod";

const bool = z
  .enum(["true", "false", "1", "0", "yes", "no"])
  .transform((v) => v === "true" || v === "1" || v === "yes");

const bytes = z.coerce.number().int().positive();

const EnvSchema = z.object({
  NODE_ENV: z.string().default("development"),
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  HOST: z.string().default("0.0.0.0"),
  /** Base URL clients use to reach this server; presigned disk-store URLs are built on it. */
  PUBLIC_URL: z.string().url().optional(),
  DATA_DIR: z.string().default("./.data"),
  DATABASE_URL: z.string().optional(),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),

  S3_BUCKET: z.string().optional(),
  S3_ENDPOINT: z.string().url().optional(),
  S3_REGION: z.string().default("us-east-1"),
  S3_ACCESS_KEY_ID: z.string().optional(),
  S3_SECRET_ACCESS_KEY: z.string().optional(),
  S3_FORCE_PATH_STYLE: bool.default(false),

  CABINET_BOOTSTRAP_TOKEN: z.string().min(16).optional(),
  /** HMAC key for disk-store URLs. Generated and kept in DATA_DIR when unset. */
  CABINET_SIGNING_SECRET: z.string().min(32).optional(),
  DEFAULT_QUOTA_BYTES: bytes.default(10 * 1024 ** 3),
  DEFAULT_MAX_FILE_SIZE_BYTES: bytes.default(5 * 1024 ** 3),
  PRESIGN_DEFAULT_EXPIRES_SECONDS: z.coerce.number().int().positive().default(900),
  PRESIGN_MAX_EXPIRES_SECONDS: z.coerce.number().int().positive().default(7 * 24 * 3600),
  /** A two-stage upload whose URL expired this long ago without bytes is abandoned. */
  UPLOAD_ABANDON_AFTER_SECONDS: z.coerce.number().int().min(0).default(900),
  /** Run pg-boss workers in this process (turn off for API-only replicas). */
  RUN_WORKERS: bool.default(true),
  /** Hosts (exact names or IP literals, comma-separated) URL imports may reach even when they resolve to private or loopback addresses. */
  IMPORT_ALLOW_HOSTS: z.string().default(""),
  IMPORT_MAX_REDIRECTS: z.coerce.number().int().min(0).max(20).default(5),
  /** Per hop: resolving the host and opening the connection. */
  IMPORT_TIMEOUT_MS: z.coerce.number().int().positive().default(5_000),
  /** Longest silence from a connected server before the import fails. */
  IMPORT_READ_TIMEOUT_MS: z.coerce.number().int().positive().default(15_000),
});

export type S3Config = {
  bucket: string;
  endpoint?: string;
  region: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  forcePathStyle: boolean;
};

export type Config = Readonly<{
  env: string;
  port: number;
  host: string;
  publicUrl?: string;
  dataDir: string;
  databaseUrl?: string;
  logLevel: z.infer<typeof EnvSchema>["LOG_LEVEL"];
  /** Set when any S3 setting is present; otherwise the local-disk store is used. */
  s3?: S3Config;
  bootstrapToken?: string;
  signingSecret?: string;
  defaultQuotaBytes: bigint;
  defaultMaxFileSizeBytes: bigint;
  presign: { defaultExpiresSeconds: number; maxExpiresSeconds: number };
  uploadAbandonAfterSeconds: number;
  runWorkers: boolean;
  importAllowHosts: readonly string[];
  importMaxRedirects: number;
  importConnectTimeoutMs: number;
  importReadTimeoutMs: number;
}>;

export class ConfigError extends Error {}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // Empty strings mean "unset": docker-compose and shells often export VAR= .
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = EnvSchema.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join("\n")}`);
  }
  const e = parsed.data;
  const anyS3 = [e.S3_BUCKET, e.S3_ENDPOINT, e.S3_ACCESS_KEY_ID, e.S3_SECRET_ACCESS_KEY].some(Boolean);
  if (anyS3 && !e.S3_BUCKET) throw new ConfigError("Invalid configuration:\n  S3_BUCKET: required when any S3_* setting is given");
  if (e.PRESIGN_DEFAULT_EXPIRES_SECONDS > e.PRESIGN_MAX_EXPIRES_SECONDS) {
    throw new ConfigError("Invalid configuration:\n  PRESIGN_DEFAULT_EXPIRES_SECONDS: must not exceed PRESIGN_MAX_EXPIRES_SECONDS");
  }
  return Object.freeze({
    env: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    publicUrl: e.PUBLIC_URL?.replace(/\/+$/, ""),
    dataDir: path.resolve(e.DATA_DIR),
    databaseUrl: e.DATABASE_URL,
    logLevel: e.LOG_LEVEL,
    s3: e.S3_BUCKET
      ? {
          bucket: e.S3_BUCKET,
          endpoint: e.S3_ENDPOINT,
          region: e.S3_REGION,
          accessKeyId: e.S3_ACCESS_KEY_ID,
          secretAccessKey: e.S3_SECRET_ACCESS_KEY,
          forcePathStyle: e.S3_FORCE_PATH_STYLE,
        }
      : undefined,
    bootstrapToken: e.CABINET_BOOTSTRAP_TOKEN,
    signingSecret: e.CABINET_SIGNING_SECRET,
    defaultQuotaBytes: BigInt(e.DEFAULT_QUOTA_BYTES),
    defaultMaxFileSizeBytes: BigInt(e.DEFAULT_MAX_FILE_SIZE_BYTES),
    presign: {
      defaultExpiresSeconds: e.PRESIGN_DEFAULT_EXPIRES_SECONDS,
      maxExpiresSeconds: e.PRESIGN_MAX_EXPIRES_SECONDS,
    },
    uploadAbandonAfterSeconds: e.UPLOAD_ABANDON_AFTER_SECONDS,
    runWorkers: e.RUN_WORKERS,
    importAllowHosts: Object.freeze(e.IMPORT_ALLOW_HOSTS.split(",").map((h) => h.trim()).filter(Boolean)),
    importMaxRedirects: e.IMPORT_MAX_REDIRECTS,
    importConnectTimeoutMs: e.IMPORT_TIMEOUT_MS,
    importReadTimeoutMs: e.IMPORT_READ_TIMEOUT_MS,
  });
}
