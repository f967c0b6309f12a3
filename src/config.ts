// The only reader of process.env. Everything else receives a frozen Config.
//
// Settings are declared in sections. Each setting names its variable once, with
// its schema, default and the one-line description the README's Configuration
// table shows (test/config.test.ts holds the README to these declarations;
// `npm run --silent config:table` prints the table). A section's `build` turns
// its parsed values into the shape code reads as `config.<section>`. Adding a
// section means adding one block to `sections` below.
import path from "node:path";
import { z } from "zod";

const bool = z.enum(["true", "false", "1", "0", "yes", "no"]).transform((v) => v === "true" || v === "1" || v === "yes");

const bytes = z.coerce.number().int().positive();
const seconds = z.coerce.number().int().positive();
const millis = z.coerce.number().int().positive();

type Setting<S extends z.ZodType = z.ZodType> = {
  env: string;
  /** Applied to the raw string; already carries the default or `.optional()`. */
  schema: S;
  default?: unknown;
  /** The README's Default cell: the literal default in backticks unless given. */
  documentedDefault: string;
  description: string;
};

type SettingDoc = { description: string; documentedDefault?: string };

/** A setting with a literal default. */
function setting<T extends z.ZodType>(env: string, schema: T, doc: SettingDoc & { default: z.output<T> }): Setting<z.ZodDefault<T>>;
/** A setting that may stay unset; say in documentedDefault what happens then. */
function setting<T extends z.ZodType>(env: string, schema: T, doc: SettingDoc & { documentedDefault: string }): Setting<z.ZodOptional<T>>;
function setting(env: string, schema: z.ZodType, doc: SettingDoc & { default?: unknown }): Setting {
  const hasDefault = "default" in doc;
  return {
    env,
    schema: hasDefault ? schema.default(doc.default as never) : schema.optional(),
    default: doc.default,
    documentedDefault: doc.documentedDefault ?? `\`${String(doc.default)}\``,
    description: doc.description,
  };
}

type Settings = Record<string, Setting>;
type Values<S extends Settings> = { [K in keyof S]: z.output<S[K]["schema"]> };
type Section<S extends Settings = Settings, R = unknown> = { settings: S; build: (values: Values<S>) => R };

function section<S extends Settings, R = Values<S>>(settings: S, build?: (values: Values<S>) => R): Section<S, R> {
  return { settings, build: build ?? ((values) => values as unknown as R) };
}

export class ConfigError extends Error {}

/** A cross-field check failed: the same message shape as a schema error. */
function invalid(env: string, message: string): never {
  throw new ConfigError(`Invalid configuration:\n  ${env}: ${message}`);
}

/** CORS_ORIGINS: exact origins, as a browser writes them in its Origin header. */
function parseOrigins(raw: string): readonly string[] {
  const origins = raw
    .split(",")
    .map((o) => o.trim())
    .filter(Boolean);
  for (const origin of origins) {
    let parsed: string | undefined;
    try {
      const url = new URL(origin);
      if (url.protocol === "http:" || url.protocol === "https:") parsed = url.origin;
    } catch {}
    if (parsed !== origin) {
      invalid(
        "CORS_ORIGINS",
        `${JSON.stringify(origin)} is not an exact origin${parsed ? ` (write ${JSON.stringify(parsed)})` : " (http(s)://host[:port], no path)"}`,
      );
    }
  }
  return origins;
}

export type S3Config = {
  bucket: string;
  endpoint?: string;
  region: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  forcePathStyle: boolean;
};

// Order matters twice: the README table follows it, and cross-field checks run
// in it (after every variable passed its own schema).
const sections = {
  http: section(
    {
      port: setting("PORT", z.coerce.number().int().min(0).max(65535), {
        default: 4000,
        description: "HTTP port (GraphQL, WebSocket, REST and blob routes all share it)",
      }),
      host: setting("HOST", z.string(), { default: "0.0.0.0", description: "Interface to listen on" }),
      publicUrl: setting("PUBLIC_URL", z.string().url(), {
        documentedDefault: "`http://localhost:$PORT`", // filled in by runtime.ts
        description: "Base URL clients use to reach the server; disk-store download URLs are built on it. Set it behind a proxy.",
      }),
      corsOrigins: setting("CORS_ORIGINS", z.string(), {
        documentedDefault: "*(none)*",
        description:
          "Comma-separated exact origins (`https://app.example.com`, scheme and host, port if not the default) whose web pages may call /graphql, /api/v1 and the disk store's /blobs (CORS, preflights included). Other origins get no CORS headers",
      }),
    },
    ({ corsOrigins, ...v }) => ({ ...v, publicUrl: v.publicUrl?.replace(/\/+$/, ""), corsOrigins: parseOrigins(corsOrigins ?? "") }),
  ),

  data: section(
    {
      dir: setting("DATA_DIR", z.string(), {
        default: "./.data",
        description: "Embedded PostgreSQL cluster (`postgres/`), local blobs (`blobs/`), generated signing secret",
      }),
      databaseUrl: setting("DATABASE_URL", z.string(), {
        documentedDefault: "*(embedded)*",
        description: "PostgreSQL connection URL. When set, no embedded database is started. Migrations are applied at start either way.",
      }),
    },
    (v) => ({ ...v, dir: path.resolve(v.dir) }),
  ),

  storage: section(
    {
      bucket: setting("S3_BUCKET", z.string(), {
        documentedDefault: "*(local disk)*",
        description: "Bucket name. Setting any `S3_*` variable switches to the S3 store and makes this required.",
      }),
      endpoint: setting("S3_ENDPOINT", z.string().url(), {
        documentedDefault: "AWS",
        description: "Endpoint for MinIO, R2, Ceph… (e.g. `http://localhost:9000`)",
      }),
      region: setting("S3_REGION", z.string(), { default: "us-east-1", description: "Region" }),
      accessKeyId: setting("S3_ACCESS_KEY_ID", z.string(), {
        documentedDefault: "SDK default chain",
        description: "Access key ID (used together with `S3_SECRET_ACCESS_KEY`)",
      }),
      secretAccessKey: setting("S3_SECRET_ACCESS_KEY", z.string(), {
        documentedDefault: "SDK default chain",
        description: "Secret access key (used together with `S3_ACCESS_KEY_ID`)",
      }),
      forcePathStyle: setting("S3_FORCE_PATH_STYLE", bool, {
        default: false,
        description: "`true` for MinIO and most self-hosted stores",
      }),
      signingSecret: setting("CABINET_SIGNING_SECRET", z.string().min(32), {
        documentedDefault: "generated in `DATA_DIR/signing-secret`",
        description: "HMAC key (32+ chars) for the disk store's presigned URLs. Give every replica the same one.",
      }),
    },
    ({ signingSecret, bucket, ...s3 }) => {
      const anyS3 = [bucket, s3.endpoint, s3.accessKeyId, s3.secretAccessKey].some(Boolean);
      if (anyS3 && !bucket) invalid("S3_BUCKET", "required when any S3_* setting is given");
      // Set when any S3 setting is present; otherwise the local-disk store is used.
      const s3Config: S3Config | undefined = bucket ? { bucket, ...s3 } : undefined;
      return { s3: s3Config, signingSecret };
    },
  ),

  bootstrap: section({
    token: setting("CABINET_BOOTSTRAP_TOKEN", z.string().min(16), {
      documentedDefault: "*(generated)*",
      description:
        "When set and no admin exists yet, this string (16+ chars) becomes the first organization-admin token. Without it the first start generates one and prints it once.",
    }),
  }),

  limits: section(
    {
      defaultQuotaBytes: setting("DEFAULT_QUOTA_BYTES", bytes, {
        default: 10 * 1024 ** 3,
        documentedDefault: "`10737418240` (10 GiB)",
        description: "Storage quota of newly created organizations",
      }),
      defaultMaxFileSizeBytes: setting("DEFAULT_MAX_FILE_SIZE_BYTES", bytes, {
        default: 5 * 1024 ** 3,
        documentedDefault: "`5368709120` (5 GiB)",
        description: "Largest single file for newly created organizations",
      }),
    },
    (v) => ({ defaultQuotaBytes: BigInt(v.defaultQuotaBytes), defaultMaxFileSizeBytes: BigInt(v.defaultMaxFileSizeBytes) }),
  ),

  presign: section(
    {
      defaultExpiresSeconds: setting("PRESIGN_DEFAULT_EXPIRES_SECONDS", seconds, {
        default: 900,
        description: "Lifetime of a download URL when the client does not ask for one",
      }),
      maxExpiresSeconds: setting("PRESIGN_MAX_EXPIRES_SECONDS", seconds, {
        default: 7 * 24 * 3600,
        description: "Longest lifetime a client may ask for",
      }),
    },
    (v) => {
      if (v.defaultExpiresSeconds > v.maxExpiresSeconds) {
        invalid("PRESIGN_DEFAULT_EXPIRES_SECONDS", "must not exceed PRESIGN_MAX_EXPIRES_SECONDS");
      }
      return v;
    },
  ),

  uploads: section({
    abandonAfterSeconds: setting("UPLOAD_ABANDON_AFTER_SECONDS", z.coerce.number().int().min(0), {
      default: 900,
      description: "A two-stage upload whose URL expired this long ago without its bytes is removed and its quota reservation given back",
    }),
  }),

  import: section(
    {
      allowHosts: setting("IMPORT_ALLOW_HOSTS", z.string(), {
        documentedDefault: "*(none)*",
        description:
          "Comma-separated hostnames or IP literals that URL imports may reach although they resolve to loopback or private addresses (everything else on your network is refused). Exact names only: allowing `localhost` accepts its loopback addresses, for that name only.",
      }),
      maxRedirects: setting("IMPORT_MAX_REDIRECTS", z.coerce.number().int().min(0).max(20), {
        default: 5,
        description: "Redirects a URL import follows at most (each one is checked again)",
      }),
      connectTimeoutMs: setting("IMPORT_TIMEOUT_MS", millis, {
        default: 5_000,
        description: "Time a URL import may take to resolve a host and connect to it, per redirect",
      }),
      readTimeoutMs: setting("IMPORT_READ_TIMEOUT_MS", millis, {
        default: 15_000,
        description: "Longest silence from the remote server before a URL import fails",
      }),
    },
    (v) => ({
      ...v,
      allowHosts: (v.allowHosts ?? "")
        .split(",")
        .map((h) => h.trim())
        .filter(Boolean) as readonly string[],
    }),
  ),

  events: section({
    retentionDays: setting("EVENTS_RETENTION_DAYS", z.coerce.number().int().positive(), {
      default: 7,
      description: "Days the event log keeps events. A subscription resuming (`after`) from an older cursor gets `CURSOR_EXPIRED`; pruned hourly",
    }),
    pollIntervalMs: setting("EVENTS_POLL_INTERVAL_MS", millis, {
      default: 5_000,
      description:
        "How often each process reads the event log without a notification, and checks its LISTEN connection (a safety net; events normally arrive at once)",
    }),
  }),

  conversations: section({
    postLimit: setting("CONVERSATION_POST_LIMIT", z.coerce.number().int().positive(), {
      default: 30,
      description: "Messages one account may post per window (`CONVERSATION_RATE_WINDOW_SECONDS`), across all processes; more answer `RATE_LIMITED`",
    }),
    deltaLimit: setting("CONVERSATION_DELTA_LIMIT", z.coerce.number().int().positive(), {
      default: 600,
      description: "Streaming deltas (`appendMessageDelta`) one account may send per window",
    }),
    rateWindowSeconds: setting("CONVERSATION_RATE_WINDOW_SECONDS", seconds, {
      default: 10,
      description: "Length of the posting rate-limit window",
    }),
    agentChainDepth: setting("CONVERSATION_AGENT_CHAIN_DEPTH", z.coerce.number().int().positive(), {
      default: 8,
      description: "Loop guard: once this many non-user messages follow each other without a user message, further messages trigger no autoRespond participant",
    }),
    streamTimeoutSeconds: setting("CONVERSATION_STREAM_TIMEOUT_SECONDS", seconds, {
      default: 120,
      description: "A STREAMING message without a delta for this long is completed by a job and marked interrupted",
    }),
    dmMaxParticipants: setting("CONVERSATION_DM_MAX_PARTICIPANTS", z.coerce.number().int().min(2), {
      default: 16,
      description: "Most distinct accounts a (group) DM room may have",
    }),
  }),

  webhooks: section({
    // At most 60 s: the webhook.deliver job expires after 120 s.
    timeoutMs: setting("WEBHOOK_TIMEOUT_MS", millis.max(60_000), {
      default: 10_000,
      description:
        "Time one webhook delivery attempt may take (resolve, connect, send, response headers); longer counts as a failure and is retried. Targets pass the URL import checks (`IMPORT_ALLOW_HOSTS` applies)",
    }),
    deliveryRetentionDays: setting("WEBHOOK_DELIVERY_RETENTION_DAYS", z.coerce.number().int().positive(), {
      default: 30,
      description: "Days the webhook delivery log keeps settled deliveries; pruned hourly",
    }),
  }),

  attachments: section(
    {
      mimeTypes: setting("ATTACHMENT_MIME_TYPES", z.string(), {
        default:
          "image/png,image/jpeg,image/webp,image/gif,application/pdf,text/csv,text/plain,application/json,application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        description:
          "Comma-separated MIME types a chat attachment may have (declared and as stored after sniffing); others answer `UNSUPPORTED_MEDIA_TYPE` (415) and nothing is kept",
      }),
      uploadExpiresSeconds: setting("ATTACHMENT_UPLOAD_EXPIRES_SECONDS", seconds, {
        default: 900,
        description: "Lifetime of an attachment's presigned upload URL; a PUT after it answers 403, asking again gives a fresh URL",
      }),
      unboundTtlSeconds: setting("ATTACHMENT_UNBOUND_TTL_SECONDS", seconds, {
        default: 86_400,
        description:
          "An uploaded attachment that no message bound this long after its upload began is removed (bytes purged, quota given back) by an hourly sweep",
      }),
      restoreDays: setting("ATTACHMENT_RESTORE_DAYS", z.coerce.number().int().min(0), {
        default: 7,
        description: "Days a soft-deleted attachment keeps its bytes (restoreAttachment brings it back); then the retention sweep purges them",
      }),
    },
    (v) => ({
      ...v,
      mimeTypes: v.mimeTypes
        .split(",")
        .map((m) => m.trim().toLowerCase())
        .filter(Boolean) as readonly string[],
    }),
  ),

  workers: section({
    run: setting("RUN_WORKERS", bool, {
      default: true,
      description:
        "Run the background job workers and schedules in this process. `false` makes an API-only process: it still enqueues (and creates the queues), and `npm run worker` processes run the jobs",
    }),
  }),

  processing: section(
    {
      imagesConcurrency: setting("PROCESSING_IMAGES_CONCURRENCY", z.coerce.number().int().min(1).max(64), {
        default: 2,
        description: "Image analyses (thumbnails, metadata) one worker process runs at once",
      }),
      documentsConcurrency: setting("PROCESSING_DOCUMENTS_CONCURRENCY", z.coerce.number().int().min(1).max(64), {
        default: 2,
        description: "Document analyses (PDF, DOCX, text, CSV, JSON) one worker process runs at once",
      }),
      mediaConcurrency: setting("PROCESSING_MEDIA_CONCURRENCY", z.coerce.number().int().min(1).max(64), {
        default: 1,
        description: "Audio and video analyses (ffprobe, ffmpeg, transcription) one worker process runs at once",
      }),
      maxInputPixels: setting("PROCESSING_MAX_INPUT_PIXELS", z.coerce.number().int().positive(), {
        default: 268_402_689,
        description: "Largest image (width × height) processing decodes; larger ones (decompression bombs) end FAILED. sharp's default",
      }),
      storeGps: setting("PROCESSING_STORE_GPS", bool, {
        default: false,
        description: "Keep the GPS position of photos' EXIF in their metadata (off: location never stored)",
      }),
      transcriptionUrl: setting("TRANSCRIPTION_URL", z.string().url(), {
        documentedDefault: "*(off: the step is SKIPPED)*",
        description:
          "Base URL (with `/v1`) of an OpenAI-compatible `/audio/transcriptions` endpoint (OpenAI, Groq, a local whisper server); audio and the sound of videos are transcribed",
      }),
      transcriptionApiKey: setting("TRANSCRIPTION_API_KEY", z.string(), {
        documentedDefault: "*(none)*",
        description: "Bearer key for `TRANSCRIPTION_URL`",
      }),
      transcriptionModel: setting("TRANSCRIPTION_MODEL", z.string().min(1), {
        default: "whisper-1",
        description: "Model name sent to the transcription endpoint",
      }),
    },
    ({ transcriptionUrl, transcriptionApiKey, transcriptionModel, ...v }) => ({
      ...v,
      transcription: transcriptionUrl
        ? { url: transcriptionUrl, model: transcriptionModel, ...(transcriptionApiKey ? { apiKey: transcriptionApiKey } : {}) }
        : undefined,
    }),
  ),

  search: section({
    language: setting("SEARCH_LANGUAGE", z.string().regex(/^[a-z_]{1,63}$/, "a text search configuration name, e.g. simple or english"), {
      default: "simple",
      description:
        "PostgreSQL text search configuration for search (`simple`: no stemming, any language; or `english`, `german`, `french`…). Changing it recomputes the stored search vectors once, at the next start",
    }),
  }),

  log: section({
    level: setting("LOG_LEVEL", z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]), {
      default: "info",
      description: "`fatal`, `error`, `warn`, `info`, `debug`, `trace` or `silent`",
    }),
  }),
};

type Sections = typeof sections;
type DeepReadonly<T> = T extends bigint | string | number | boolean | undefined
  ? T
  : T extends readonly (infer E)[]
    ? readonly DeepReadonly<E>[]
    : { readonly [K in keyof T]: DeepReadonly<T[K]> };

/** `config.<section>.<key>`; frozen all the way down. */
export type Config = DeepReadonly<{ [K in keyof Sections]: ReturnType<Sections[K]["build"]> }>;

const allSettings: Setting[] = Object.values(sections).flatMap((s) => Object.values(s.settings as Settings));
const EnvSchema = z.object(Object.fromEntries(allSettings.map((s) => [s.env, s.schema])));

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // Empty strings mean "unset": docker-compose and shells often export VAR= .
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = EnvSchema.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join("\n")}`);
  }
  const byEnv = parsed.data as Record<string, unknown>;
  const config = Object.fromEntries(
    Object.entries(sections).map(([name, { settings, build }]) => {
      const values = Object.fromEntries(Object.entries(settings as Settings).map(([key, s]) => [key, byEnv[s.env]]));
      return [name, (build as (v: unknown) => unknown)(values)];
    }),
  );
  return deepFreeze(config) as Config;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object") {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** One row of the README's Configuration table, in declaration order. */
export type SettingDescription = {
  section: string;
  key: string;
  env: string;
  /** The literal default, when there is one. */
  default?: unknown;
  documentedDefault: string;
  description: string;
};

export function describeSettings(): SettingDescription[] {
  return Object.entries(sections).flatMap(([name, s]) =>
    Object.entries(s.settings as Settings).map(([key, { env, default: def, documentedDefault, description }]) => ({
      section: name,
      key,
      env,
      ...(def === undefined ? {} : { default: def }),
      documentedDefault,
      description,
    })),
  );
}
