// Admin commands. Results go to stdout (and nothing else does), so scripts can
// capture them: TOKEN=$(npm run --silent cli -- create-token --admin)
// Exit codes: 0 done, 1 failed (the message says why), 2 a command line that cannot
// run as given (one line and the usage; checked before anything starts).
import "./compile-cache.ts";
import "./cli-v8.ts";
import { parseArgs } from "node:util";
// Everything else is imported once the command line is known to be good (below), so a
// usage error or --help answers at once.

const USAGE = `Usage: npm run --silent cli -- <command> [options]

Commands:
  create-token --admin [--org <org_id>] [--name <name>]   print a new organization-admin token
  create-org --name <name> [--quota <bytes>] [--max-file-size <bytes>]   print the new organization id
  create-space --name <name> [--org <org_id>]              print the new space id
  set-quota --org <org_id> --quota <bytes> [--max-file-size <bytes>]
                                                           change an organization's limits; prints them as JSON
  usage [--org <org_id>]                                   print storage usage (used and reserved bytes) as JSON
  reconcile [--dry-run] [--min-age <seconds>]              delete objects with no row, mark rows with no object FAILED;
                                                           prints a JSON report (--dry-run changes nothing)
  orphans ...                                              the same as reconcile (its former name)
  reprocess [--missing] [--space <space_id>]               queue processing for files that have no steps (uploaded before
                                                           processing existed) and, without --missing, for failed steps;
                                                           prints { missing, failed } as JSON (workers do the work)
`;

/** A command line that cannot run as given: one line and the usage on stderr, exit code 2. */
class UsageError extends Error {}

type Values = {
  admin: boolean;
  org?: string;
  name?: string;
  quota?: string;
  "max-file-size"?: string;
  "dry-run": boolean;
  "min-age"?: string;
  missing: boolean;
  space?: string;
};

const OPTIONS = {
  admin: { type: "boolean" },
  org: { type: "string" },
  name: { type: "string" },
  quota: { type: "string" },
  "max-file-size": { type: "string" },
  "dry-run": { type: "boolean" },
  "min-age": { type: "string" },
  missing: { type: "boolean" },
  space: { type: "string" },
} as const;

/** The options each command takes, and what it needs before it may touch the database. */
const COMMANDS: Record<string, { options: (keyof Values)[]; check?: (v: Values) => void }> = {
  "create-token": {
    options: ["admin", "org", "name"],
    check: (v) => {
      if (!v.admin) throw new UsageError("create-token needs --admin (other tokens are made through GraphQL)");
    },
  },
  "create-org": {
    options: ["name", "quota", "max-file-size"],
    check: (v) => {
      if (!v.name) throw new UsageError("create-org needs --name");
      if (v.quota !== undefined) byteCount("--quota", v.quota);
      if (v["max-file-size"] !== undefined) byteCount("--max-file-size", v["max-file-size"]);
    },
  },
  "create-space": {
    options: ["name", "org"],
    check: (v) => {
      if (!v.name) throw new UsageError("create-space needs --name");
    },
  },
  "set-quota": {
    options: ["org", "quota", "max-file-size"],
    check: (v) => {
      if (!v.org || !v.quota) throw new UsageError("set-quota needs --org and --quota");
      byteCount("--quota", v.quota);
      if (v["max-file-size"] !== undefined) byteCount("--max-file-size", v["max-file-size"]);
    },
  },
  usage: { options: ["org"] },
  reconcile: { options: ["dry-run", "min-age"], check: (v) => v["min-age"] !== undefined && seconds("--min-age", v["min-age"]) },
  orphans: { options: ["dry-run", "min-age"], check: (v) => v["min-age"] !== undefined && seconds("--min-age", v["min-age"]) },
  reprocess: { options: ["missing", "space"] },
};

/** Parses and checks the whole command line before anything starts; throws UsageError. */
function parseCommandLine(argv: string[]): { command: string; values: Values } | "help" {
  const [command, ...rest] = argv;
  if (!command || command === "help" || command === "--help" || command === "-h") return "help";
  const spec = COMMANDS[command];
  if (!spec) throw new UsageError(`unknown command "${command}"`);
  let values: Values;
  try {
    values = parseArgs({ args: rest, options: OPTIONS, strict: true, allowPositionals: false }).values as Values;
  } catch (e) {
    // node:util's messages name the option ("Unknown option '--quotas'", "Option '--name <value>' argument missing").
    throw new UsageError((e as Error).message.split("\n")[0]!.replace(/\. To specify a positional argument.*$/, ""));
  }
  for (const key of Object.keys(values) as (keyof Values)[]) {
    if (!spec.options.includes(key)) throw new UsageError(`${command} does not take --${key}`);
  }
  values.admin ??= false;
  values["dry-run"] ??= false;
  values.missing ??= false;
  spec.check?.(values);
  return { command, values };
}

async function main(argv: string[]) {
  const parsed = parseCommandLine(argv);
  if (parsed === "help") {
    process.stdout.write(USAGE);
    return;
  }
  const { command, values } = parsed;
  const [{ ConfigError, loadConfig }, { createDeps }, { isAppError }, { createLogger }, { ORPHAN_MIN_AGE_SECONDS, reconcileBlobStore }, { resolveRuntime }] =
    await Promise.all([
      import("./config.ts"),
      import("./deps.ts"),
      import("./errors.ts"),
      import("./logger.ts"),
      import("./modules/blob/blob.reconcile.ts"),
      import("./runtime.ts"),
    ]);

  const config = loadConfig();
  // Logs go to stderr: stdout carries only the command's result.
  const logger = createLogger({ level: config.log.level === "info" ? "warn" : config.log.level, fd: 2 });
  const runtime = await resolveRuntime(config, (msg) => logger.info(msg));
  // A command needs no event tail, no workers and no queue maintenance (decision 45).
  const deps = await createDeps(config, runtime, { logger, background: false });
  try {
    const { organizations, accounts, spaces } = deps.services;
    const orgId = async () => values.org ?? (await organizations.defaultOrganization()).id;
    switch (command) {
      case "create-token": {
        const { secret } = await accounts.createAdminTokenUnchecked(await orgId(), values.name ?? "cli");
        process.stdout.write(`${secret}\n`);
        break;
      }
      case "create-org": {
        const org = await organizations.createOrganization({
          name: values.name!,
          quotaBytes: values.quota === undefined ? undefined : byteCount("--quota", values.quota),
          maxFileSizeBytes: values["max-file-size"] === undefined ? undefined : byteCount("--max-file-size", values["max-file-size"]),
        });
        process.stdout.write(`${org.id}\n`);
        break;
      }
      case "create-space": {
        const space = await spaces.createSpaceUnchecked({ organizationId: await orgId(), name: values.name! });
        process.stdout.write(`${space.id}\n`);
        break;
      }
      case "set-quota": {
        const org = await organizations
          .updateOrganizationUnchecked(values.org!, {
            quotaBytes: byteCount("--quota", values.quota!),
            maxFileSizeBytes: values["max-file-size"] === undefined ? undefined : byteCount("--max-file-size", values["max-file-size"]),
          })
          .catch((e) => {
            // QUOTA_BELOW_USAGE, NOT_FOUND, …: a message for the operator, not a stack.
            throw isAppError(e) ? new ConfigError(`${e.code}: ${e.message}`) : e;
          });
        const out = { organizationId: org.id, quotaBytes: Number(org.quotaBytes), maxFileSizeBytes: Number(org.maxFileSizeBytes) };
        process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
        break;
      }
      case "usage": {
        const org = await deps.prisma.organization.findUniqueOrThrow({ where: { id: await orgId() }, include: { spaces: true } });
        const pending = await deps.prisma.blob.groupBy({ by: ["spaceId"], where: { organizationId: org.id, status: "PENDING" }, _sum: { size: true } });
        const reservedIn = new Map(pending.map((p) => [p.spaceId, Number(p._sum.size ?? 0n)]));
        const out = {
          organizationId: org.id,
          quotaBytes: Number(org.quotaBytes),
          usedBytes: Number(org.usedBytes),
          reservedBytes: Number(org.reservedBytes),
          spaces: org.spaces.map((s) => ({ id: s.id, name: s.name, usedBytes: Number(s.usedBytes), reservedBytes: reservedIn.get(s.id) ?? 0 })),
        };
        process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
        break;
      }
      case "reconcile":
      case "orphans": {
        const report = await reconcileBlobStore(deps, {
          dryRun: values["dry-run"],
          minAgeSeconds: values["min-age"] === undefined ? ORPHAN_MIN_AGE_SECONDS : seconds("--min-age", values["min-age"]),
        });
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        break;
      }
      case "reprocess": {
        const queued = await deps.services.processing.backfill({ missingOnly: values.missing, ...(values.space ? { spaceId: values.space } : {}) });
        process.stdout.write(`${JSON.stringify(queued)}\n`);
        break;
      }
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } finally {
    await deps.close();
    await runtime.stopDatabase();
  }
}

/** A byte count given on the command line: digits only, a positive safe integer. */
function byteCount(flag: string, value: string): bigint {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value)) || Number(value) <= 0) {
    throw new UsageError(`${flag} must be a positive whole number of bytes, got "${value}"`);
  }
  return BigInt(value);
}

/** A duration in whole seconds (0 allowed). */
function seconds(flag: string, value: string): number {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) throw new UsageError(`${flag} must be a whole number of seconds, got "${value}"`);
  return Number(value);
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  async (e) => {
    if (e instanceof UsageError) {
      process.stderr.write(`error: ${e.message}\n\n${USAGE}`);
      process.exit(2);
    }
    const { ConfigError } = await import("./config.ts");
    process.stderr.write(e instanceof ConfigError ? `${e.message}\n` : `${(e as Error)?.stack ?? e}\n`);
    process.exit(1);
  },
);
