// One error type for the whole service. Services throw AppError; GraphQL renders
// it as extensions.code (graphql/errors.ts) and REST as { error: { code, message } }
// with the status below. Anything else is unexpected: masked for clients, logged.
// Every error a client sees carries one of these codes, GraphQL's own errors
// included (graphql/errors.ts gives them theirs).

export const ERROR_STATUS = {
  /** A wrong argument or value (also GraphQL variable and argument coercion). */
  BAD_USER_INPUT: 400,
  INVALID_PATH: 400,
  INVALID_DATA_URL: 400,
  /** The request itself is malformed: unreadable JSON body, no query, wrong method or media type. */
  BAD_REQUEST: 400,
  /** The GraphQL document does not parse. */
  GRAPHQL_PARSE_FAILED: 400,
  /** The GraphQL document does not validate against the schema (unknown field, missing argument…). */
  GRAPHQL_VALIDATION_FAILED: 400,
  /** The document is over a limit of graphql-armor: depth, aliases, directives, cost or tokens. */
  QUERY_TOO_COMPLEX: 400,
  /** The client went away (or its stream broke) before the upload's bytes were all received. */
  UPLOAD_INTERRUPTED: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  /** A request a browser could forge (GET, form or multipart POST) without a CSRF header (http/graphql-http.ts). */
  CSRF_HEADER_MISSING: 403,
  URL_FORBIDDEN: 403,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  PATH_IS_DIRECTORY: 409,
  PATH_IS_FILE: 409,
  UPLOAD_INCOMPLETE: 409,
  QUOTA_BELOW_USAGE: 409,
  LAST_ADMIN: 409,
  UPLOAD_CLOSED: 409,
  /** A membership change on a DM room, whose participant set is fixed. */
  ROOM_IS_DIRECT: 409,
  /** appendMessageDelta or completeMessage on a message that is not STREAMING (any more). */
  MESSAGE_NOT_STREAMING: 409,
  /** editMessage on a deleted message. */
  MESSAGE_DELETED: 409,
  // A subscription cursor older than the retained event log: resuming would skip events.
  CURSOR_EXPIRED: 410,
  LIMITS_REACHED: 413,
  /** Too many posts (or deltas) by one account in the current window; details.retryAfterSeconds says when to retry. */
  RATE_LIMITED: 429,
  UNSUPPORTED_MEDIA_TYPE: 415,
  URL_FETCH_FAILED: 502,
  STORAGE_NOT_CONFIGURED: 503,
  STORAGE_UNAVAILABLE: 503,
  INTERNAL_SERVER_ERROR: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "AppError";
    this.code = code;
    this.details = details;
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

export const isAppError = (e: unknown): e is AppError => e instanceof AppError;

export const errors = {
  unauthenticated: (message = "A valid bearer token is required") => new AppError("UNAUTHENTICATED", message),
  forbidden: (permission: string) => new AppError("FORBIDDEN", `Missing permission ${permission}`, { permission }),
  // One message for "does not exist" and "not yours": other spaces must be indistinguishable.
  notFound: (what: string) => new AppError("NOT_FOUND", `${what} not found`),
  badInput: (message: string, details?: Record<string, unknown>) => new AppError("BAD_USER_INPUT", message, details),
  invalidPath: (message: string) => new AppError("INVALID_PATH", message),
  alreadyExists: (name: string) => new AppError("ALREADY_EXISTS", `An entry named "${name}" already exists here`, { name }),
  pathIsDirectory: (path: string) => new AppError("PATH_IS_DIRECTORY", `"${path}" is a folder`, { path }),
  pathIsFile: (path: string) => new AppError("PATH_IS_FILE", `"${path}" is a file`, { path }),
  limitsReached: (message: string, details?: Record<string, unknown>) => new AppError("LIMITS_REACHED", message, details),
  /** A file over the organization's max file size (declared, or found while it streamed). */
  fileTooLarge: (limit: bigint | number) =>
    new AppError("LIMITS_REACHED", `The file is larger than the ${limit} byte limit`, { reason: "MAX_FILE_SIZE", limit: Number(limit) }),
  /** Bytes that do not fit in what is left of the organization's quota. */
  quotaExceeded: () => new AppError("LIMITS_REACHED", "The organization's storage quota is used up", { reason: "QUOTA" }),
  /** A two-stage upload whose bytes have not arrived, or arrived other than declared. */
  uploadIncomplete: (message: string, details?: Record<string, unknown>) => new AppError("UPLOAD_INCOMPLETE", message, details),
  /** A quota smaller than the bytes already stored or reserved (updateOrganization). */
  quotaBelowUsage: (details: { quotaBytes: number; usedBytes: number; reservedBytes: number }) =>
    new AppError(
      "QUOTA_BELOW_USAGE",
      `A quota of ${details.quotaBytes} bytes is below the ${details.usedBytes + details.reservedBytes} bytes used and reserved`,
      details,
    ),
  /** Disabling or deleting the organization's last enabled admin would leave nobody to administer it. */
  lastAdmin: () => new AppError("LAST_ADMIN", "The organization's last enabled admin cannot be disabled or deleted"),
  /** The upload's source stream failed: the client hung up or sent a broken body. Not the store's fault. */
  uploadInterrupted: (cause: unknown) => new AppError("UPLOAD_INTERRUPTED", "The upload was interrupted", undefined, { cause }),
  /** A PUT to an upload URL whose upload took other bytes (or went) while this body streamed; nothing was changed. */
  uploadClosed: () => new AppError("UPLOAD_CLOSED", "This upload has already received its bytes or is gone"),
  storageUnavailable: (cause: unknown) => new AppError("STORAGE_UNAVAILABLE", "The blob store is not reachable", undefined, { cause }),
};

/** Prisma error codes we turn into domain errors; everything else stays unexpected. */
/**
 * A Prisma "required record not found" (P2025) that reaches an error boundary
 * unhandled: a row read again after a change (a mutation's answer, an upload's
 * file, a re-read under a lock) was deleted by a concurrent request in between.
 * For the client that is NOT_FOUND, as it would be had the delete come first; it
 * was a 500 (the fuzz test found it answering a two-stage completion racing a
 * delete). Every other error is returned as it is.
 */
export function goneInRace(e: unknown): unknown {
  return (e as { code?: unknown } | null)?.code === "P2025" && !isAppError(e) ? errors.notFound("The item (deleted meanwhile)") : e;
}

export function fromPrismaError(e: unknown, onUniqueViolation: () => AppError, onGone?: () => AppError): unknown {
  const code = (e as { code?: unknown } | null)?.code;
  if (code === "P2002") return onUniqueViolation();
  // P2025: the row an update needs is gone, because a concurrent delete committed after it was read.
  if (code === "P2025" && onGone) return onGone();
  return e;
}

// Errors the operator must act on. Their messages name endpoints and buckets, for
// /readyz and the logs; API clients get the code and a message without them.
const OPERATOR_MESSAGES: Partial<Record<ErrorCode, string>> = {
  STORAGE_NOT_CONFIGURED: "File storage is not configured correctly",
  STORAGE_UNAVAILABLE: "File storage is not reachable right now; try again later",
};

/** True for errors whose full message is for the operator's log, not for the client. */
export const isOperatorError = (e: AppError) => e.code in OPERATOR_MESSAGES;

/** What a client sees of an AppError: its code, a message, and details (never an operator's). */
export function clientView(e: AppError): { code: ErrorCode; message: string; details?: Record<string, unknown> } {
  const operator = OPERATOR_MESSAGES[e.code];
  if (operator) return { code: e.code, message: operator };
  return { code: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) };
}

/** The REST rendering of an error: the same code GraphQL would put in extensions.code. */
export function toRestError(e: AppError): { status: number; body: { error: ReturnType<typeof clientView> } } {
  return { status: e.status, body: { error: clientView(e) } };
}
