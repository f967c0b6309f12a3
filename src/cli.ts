// Admin commands. Results go to stdout (and nothing else does), so scripts can
// capture them: TOKEN=$(npm run --silent cli -- create-token --admin)
import { parseArgs } from "node:util";
import pino from "pino";
import { ConfigError, loadConfig } from "./config.ts";
import { createDeps } from "./deps.ts";
import { isAppError } from "./errors.ts";
import { ORPHAN_MIN_AGE_SECONDS, reconcileBlobStore } from "./modules/blob/blob.reconcile.ts";
import { resolveRuntime } from "./runtime.ts";

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

async function main(argv: string[]) {
  const [command, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      admin: { type: "boolean", default: false },
      org: { type: "string" },
      name: { type: "string" },
      quota: { type: "string" },
      "max-file-size": { type: "string" },
      "dry-run": { type: "boolean", default: false },
      "min-age": { type: "string" },
      missing: { type: "boolean", default: false },
      space: { type: "string" },
    },
  });
  if (!command || command === "help" || command === "--help") {
    process.stdout.write(USAGE);
    return;
  }

  const config = loadConfig();
  // Logs go to stderr: stdout carries only the command's result.
  const logger = pino({ level: config.log.level === "info" ? "warn" : config.log.level }, pino.destination(2));
  const runtime = await resolveRuntime(config, (msg) => logger.info(msg));
  const deps = await createDeps(config, runtime, { logger });
  try {
    const { organizations, accounts, spaces } = deps.services;
    const orgId = async () => values.org ?? (await organizations.defaultOrganization()).id;
    switch (command) {
      case "create-token": {
        if (!values.admin) throw new ConfigError("create-token needs --admin (other tokens are made through GraphQL)");
        const { secret } = await accounts.createAdminTokenUnchecked(await orgId(), values.name ?? "cli");
        process.stdout.write(`${secret}\n`);
        break;
      }
      case "create-org": {
        if (!values.name) throw new ConfigError("create-org needs --name");
        const org = await organizations.createOrganization({
          name: values.name,
          quotaBytes: values.quota ? BigInt(values.quota) : undefined,
          maxFileSizeBytes: values["max-file-size"] ? BigInt(values["max-file-size"]) : undefined,
        });
        process.stdout.write(`${org.id}\n`);
        break;
      }
      case "create-space": {
        if (!values.name) throw new ConfigError("create-space needs --name");
        const space = await spaces.createSpaceUnchecked({ organizationId: await orgId(), name: values.name });
        process.stdout.write(`${space.id}\n`);
        break;
      }
      case "set-quota": {
        if (!values.org || !values.quota) throw new ConfigError("set-quota needs --org and --quota");
        const org = await organizations
          .updateOrganizationUnchecked(values.org, {
            quotaBytes: byteCount("--quota", values.quota),
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
          minAgeSeconds: values["min-age"] ? Number(values["min-age"]) : ORPHAN_MIN_AGE_SECONDS,
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
        throw new ConfigError(`Unknown command "${command}"\n\n${USAGE}`);
    }
  } finally {
    await deps.close();
    await runtime.stopDatabase();
  }
}

/** A byte count given on the command line: digits only, a positive safe integer. */
function byteCount(flag: string, value: string): bigint {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value)) || Number(value) <= 0) {
    throw new ConfigError(`${flag} must be a positive whole number of bytes, got "${value}"`);
  }
  return BigInt(value);
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(e instanceof ConfigError ? `${e.message}\n` : `${(e as Error)?.stack ?? e}\n`);
    process.exit(1);
  },
);
