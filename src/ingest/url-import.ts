// "Import this file from a URL": opens an http(s) URL an API user gave us and
// returns its body for ingest(), without letting the user reach our own network
// (SSRF). Every hop (the URL and each redirect) is checked the same way:
//   1. only http/https, no credentials in the URL;
//   2. the host is resolved once, and refused if ANY of its addresses is
//      loopback, private, link-local, metadata, CGNAT, multicast, reserved… or
//      an IPv6 form embedding one of those (isForbiddenAddress);
//   3. the connection goes to exactly the addresses that were checked: node:http
//      gets a `lookup` that answers with them, so a second DNS answer (DNS
//      rebinding) is never asked for. Host header and TLS SNI stay the hostname,
//      so certificates are still verified against it.
// Redirects are followed by hand, timeouts cover connect and idle reads, and the
// size cap holds while streaming, whatever Content-Length says.
// Node's global fetch (undici) ignores http agents and custom lookups, so it is
// deliberately not used here.
import dns from "node:dns";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import { Transform, type Readable, type TransformCallback } from "node:stream";
import ipaddr from "ipaddr.js";
import { AppError, errors } from "../errors.ts";

export type ResolvedAddress = { address: string; family: number };

export type ImportOptions = {
  /** Largest body accepted, in bytes. */
  maxBytes: number;
  /**
   * Hostnames or IP literals (exact, case-insensitive) whose addresses are not
   * checked: for tests and for deliberately reaching an internal host. Allowing
   * "localhost" means its loopback addresses are accepted, for that host only.
   */
  allowHosts?: readonly string[];
  /** Redirects followed at most (default 5); one more is URL_FETCH_FAILED. */
  maxRedirects?: number;
  /** Limit for resolving the host and opening the TCP connection, per hop (default 5000). */
  connectTimeoutMs?: number;
  /** Longest silence once connected: TLS, response headers, and between body chunks (default 15000). */
  readTimeoutMs?: number;
  /** Resolves a hostname to all its addresses (default: dns.promises.lookup with all: true). */
  lookup?: (hostname: string) => Promise<readonly ResolvedAddress[]>;
};

export type ImportedUrl = {
  /** The response body; errors with LIMITS_REACHED past maxBytes, URL_FETCH_FAILED on timeouts and resets. */
  body: Readable;
  contentType: string | null;
  /** As announced by the server (already checked against maxBytes); null when absent. */
  contentLength: number | null;
  /** The URL after redirects. */
  finalUrl: string;
  /** From Content-Disposition, else the last path segment of finalUrl, else null. */
  fileName: string | null;
};

const DEFAULTS = { maxRedirects: 5, connectTimeoutMs: 5_000, readTimeoutMs: 15_000 };
const MAX_URL_LENGTH = 8_192;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

// ---------------------------------------------------------------------------
// Address classification

type Range<T> = [T, number];
const v4Ranges = (cidrs: readonly string[]): Range<ipaddr.IPv4>[] => cidrs.map((c) => ipaddr.IPv4.parseCIDR(c));
const v6Ranges = (cidrs: readonly string[]): Range<ipaddr.IPv6>[] => cidrs.map((c) => ipaddr.IPv6.parseCIDR(c));

// IPv4 ranges an import may never reach.
const FORBIDDEN_V4 = v4Ranges([
  "0.0.0.0/8", // "this network"; 0.0.0.0 reaches the local host on Linux
  "10.0.0.0/8", // private (RFC 1918)
  "100.64.0.0/10", // carrier-grade NAT (RFC 6598)
  "127.0.0.0/8", // loopback
  "169.254.0.0/16", // link-local, including cloud metadata at 169.254.169.254
  "172.16.0.0/12", // private
  "192.0.0.0/24", // IETF protocol assignments
  "192.0.2.0/24", // documentation (TEST-NET-1)
  "192.88.99.0/24", // 6to4 relay anycast (deprecated)
  "192.168.0.0/16", // private
  "198.18.0.0/15", // benchmarking
  "198.51.100.0/24", // documentation (TEST-NET-2)
  "203.0.113.0/24", // documentation (TEST-NET-3)
  "224.0.0.0/4", // multicast
  "240.0.0.0/4", // reserved, including broadcast 255.255.255.255
]);

// Native IPv6 must be global unicast. That one rule already refuses ::, ::1,
// fc00::/7 (unique local), fe80::/10 (link-local), fec0::/10, ff00::/8
// (multicast), 100::/64 (discard) and 64:ff9b:1::/48 (local-use NAT64).
const GLOBAL_UNICAST = ipaddr.IPv6.parseCIDR("2000::/3");
// ...and inside global unicast, these are not the public internet either.
const FORBIDDEN_V6 = v6Ranges([
  "2001::/23", // IETF protocol assignments: Teredo 2001::/32, benchmarking, ORCHID
  "2001:db8::/32", // documentation
  "3fff::/20", // documentation (RFC 9637)
]);

// IPv6 forms that carry an IPv4 address the packet really goes to (or that a
// translator will forward to): judged by that IPv4 address. The number is the
// bit offset of the embedded address.
const EMBEDS_V4: ReadonlyArray<[Range<ipaddr.IPv6>, number]> = [
  [ipaddr.IPv6.parseCIDR("::ffff:0:0/96"), 96], // IPv4-mapped ::ffff:a.b.c.d
  [ipaddr.IPv6.parseCIDR("::ffff:0:0:0/96"), 96], // IPv4-translated ::ffff:0:a.b.c.d (RFC 6145)
  [ipaddr.IPv6.parseCIDR("64:ff9b::/96"), 96], // NAT64 well-known prefix (RFC 6052)
  [ipaddr.IPv6.parseCIDR("2002::/16"), 16], // 6to4: 2002:AABB:CCDD::/48
  [ipaddr.IPv6.parseCIDR("::/96"), 96], // IPv4-compatible (deprecated); also covers :: and ::1
];

const inAny = <T extends ipaddr.IPv4 | ipaddr.IPv6>(addr: T, ranges: readonly Range<T>[]) => ranges.some((r) => addr.match(r));

function embeddedIPv4(addr: ipaddr.IPv6): ipaddr.IPv4 | null {
  for (const [range, offset] of EMBEDS_V4) {
    if (!addr.match(range)) continue;
    return new ipaddr.IPv4(addr.toByteArray().slice(offset / 8, offset / 8 + 4));
  }
  return null;
}

/**
 * True when an import must not connect to `ip`. Only the plain spellings Node
 * itself connects to are judged (so the string we check is the string we dial);
 * anything else, including scoped "fe80::1%eth0" forms, is refused.
 */
export function isForbiddenAddress(ip: string): boolean {
  if (net.isIP(ip) === 0 || ip.includes("%")) return true;
  if (net.isIPv4(ip)) return inAny(ipaddr.IPv4.parse(ip), FORBIDDEN_V4);
  const addr = ipaddr.IPv6.parse(ip);
  const v4 = embeddedIPv4(addr);
  if (v4) return inAny(v4, FORBIDDEN_V4);
  return !addr.match(GLOBAL_UNICAST) || inAny(addr, FORBIDDEN_V6);
}

// ---------------------------------------------------------------------------
// Errors

const forbidden = (message: string, details?: Record<string, unknown>) => new AppError("URL_FORBIDDEN", message, details);
const fetchFailed = (message: string, details?: Record<string, unknown>, cause?: unknown) =>
  new AppError("URL_FETCH_FAILED", message, details, cause === undefined ? undefined : { cause });
const tooLarge = (maxBytes: number) =>
  errors.limitsReached(`The file at the URL is larger than ${maxBytes} bytes`, { reason: "URL_IMPORT_SIZE", limit: maxBytes });

/** Anything that went wrong on the wire, as the error the API reports. */
function asFetchError(e: unknown, url: URL): AppError {
  if (e instanceof AppError) return e;
  const code = (e as NodeJS.ErrnoException | null)?.code;
  const suffix = typeof code === "string" ? ` (${code})` : "";
  return fetchFailed(`Could not fetch from ${url.host}${suffix}`, { host: url.host, ...(code ? { code } : {}) }, e);
}

// ---------------------------------------------------------------------------
// URLs and hosts

function parseUserUrl(raw: string): URL {
  if (raw.length > MAX_URL_LENGTH) throw errors.badInput(`A URL may have at most ${MAX_URL_LENGTH} characters`);
  try {
    return new URL(raw);
  } catch {
    throw errors.badInput("Not a valid absolute URL");
  }
}

/** `what` names the URL in messages: the user's own, or a redirect they may not know about. */
function checkUrlShape(url: URL, what: string): void {
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw forbidden(`${what} must be http or https, not ${url.protocol}`, { scheme: url.protocol.slice(0, -1) });
  }
  // Credentials would be sent to whoever the URL (or a redirect) names; an
  // import has no business carrying them.
  if (url.username || url.password) throw forbidden(`${what} must not contain credentials`);
}

/** The hostname as node:http and DNS take it: IPv6 literals without brackets. */
const bareHost = (url: URL) => url.hostname.replace(/^\[(.*)\]$/, "$1");

/** Allow-list entries in the same canonical form the URL parser gives hostnames. */
function normalizeAllowHosts(entries: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const raw of entries) {
    const entry = raw.trim().replace(/^\[(.*)\]$/, "$1");
    if (!entry) continue;
    try {
      out.add(bareHost(new URL(`http://${net.isIPv6(entry) ? `[${entry}]` : entry}/`)));
    } catch {
      out.add(entry.toLowerCase()); // can never match a parsed URL; harmless
    }
  }
  return out;
}

const defaultLookup = async (hostname: string): Promise<readonly ResolvedAddress[]> => dns.promises.lookup(hostname, { all: true, verbatim: true });

function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => AppError): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

type Settings = Required<Omit<ImportOptions, "allowHosts">> & { allowHosts: Set<string> };

/** Resolves the hop's host once and checks every address; these are the only ones we will dial. */
async function checkedAddresses(url: URL, s: Settings, what: string): Promise<ResolvedAddress[]> {
  const host = bareHost(url);
  const literal = net.isIP(host);
  let addresses: ResolvedAddress[];
  if (literal) {
    addresses = [{ address: host, family: literal }];
  } else {
    try {
      const found = await withTimeout(s.lookup(host), s.connectTimeoutMs, () => fetchFailed(`Resolving ${host} timed out`, { host }));
      // The family comes from the address itself, not from what the resolver claims.
      addresses = found.map((a) => ({ address: a.address, family: net.isIP(a.address) }));
    } catch (e) {
      throw e instanceof AppError ? e : fetchFailed(`Could not resolve ${host}`, { host }, e);
    }
    if (addresses.length === 0) throw fetchFailed(`Could not resolve ${host}`, { host });
  }
  if (s.allowHosts.has(host)) return addresses;
  // One forbidden address is enough to refuse: connecting only to the "good"
  // ones would still let a hostile DNS name steer which one we use. Addresses
  // are not named in the message: that would map someone's internal network.
  if (addresses.some((a) => isForbiddenAddress(a.address))) {
    throw forbidden(`${what} leads to an address that may not be fetched`, { host });
  }
  return addresses;
}

/**
 * The checks of an import's first hop, for other requests we make to a URL a
 * user gave us (webhooks): BAD_USER_INPUT when it is not a URL, URL_FORBIDDEN
 * for a scheme, credentials or address we refuse, URL_FETCH_FAILED when the
 * host does not resolve. Returns the addresses to dial (through pinnedLookup),
 * so what is connected to is what was checked.
 */
export async function checkOutboundUrl(
  rawUrl: string,
  options: Pick<ImportOptions, "allowHosts" | "connectTimeoutMs" | "lookup">,
): Promise<{ url: URL; host: string; addresses: ResolvedAddress[] }> {
  const s = {
    maxBytes: 0,
    maxRedirects: 0,
    readTimeoutMs: DEFAULTS.readTimeoutMs,
    connectTimeoutMs: options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
    lookup: options.lookup ?? defaultLookup,
    allowHosts: normalizeAllowHosts(options.allowHosts ?? []),
  };
  const url = parseUserUrl(rawUrl);
  checkUrlShape(url, "The URL");
  return { url, host: bareHost(url), addresses: await checkedAddresses(url, s, "The URL") };
}

// ---------------------------------------------------------------------------
// One request

/** A `lookup` for node:http that answers with the checked addresses and never asks DNS again. */
export function pinnedLookup(addresses: ResolvedAddress[]): net.LookupFunction {
  return (_hostname, options, callback) => {
    // Node asks for all addresses when it races IPv4/IPv6 (autoSelectFamily).
    if (options.all) callback(null, addresses);
    else callback(null, addresses[0]!.address, addresses[0]!.family);
  };
}

function send(url: URL, addresses: ResolvedAddress[], s: Settings): Promise<http.IncomingMessage> {
  const host = bareHost(url);
  const client = url.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request({
      method: "GET",
      host,
      port: url.port || undefined,
      path: `${url.pathname}${url.search}`,
      headers: { host: url.host, "user-agent": "Cabinet-URL-Import", accept: "*/*", "accept-encoding": "identity" },
      lookup: pinnedLookup(addresses),
      // SNI and certificate checks use the hostname, not the pinned address.
      servername: net.isIP(host) ? undefined : host,
      // A fresh agent: no pooled socket from another import (checked under other rules) is reused.
      agent: false,
    });
    let response: http.IncomingMessage | undefined;
    // Timeouts fail whichever is alive: the request before headers, the body after.
    const fail = (e: AppError) => (response ? response.destroy(e) : req.destroy(e));
    const connectTimer = setTimeout(() => fail(fetchFailed(`Connecting to ${url.host} timed out`, { host: url.host })), s.connectTimeoutMs);
    req.once("socket", (socket) => socket.once("connect", () => clearTimeout(connectTimer)));
    req.setTimeout(s.readTimeoutMs, () => fail(fetchFailed(`${url.host} stopped responding`, { host: url.host })));
    req.once("close", () => clearTimeout(connectTimer));
    // Stays attached after the response: a late socket or parse error (bytes
    // beyond Content-Length, say) must not become an uncaught exception.
    req.on("error", (e) => {
      clearTimeout(connectTimer);
      reject(asFetchError(e, url));
    });
    req.once("response", (res) => {
      clearTimeout(connectTimer);
      response = res;
      resolve(res);
    });
    req.end();
  });
}

/** The next hop's URL when `res` is a redirect, else null. */
function redirectTarget(res: http.IncomingMessage, current: URL): URL | null {
  const location = res.headers.location;
  if (!REDIRECT_STATUSES.has(res.statusCode ?? 0) || !location) return null;
  try {
    return new URL(location, current); // relative Locations resolve against the current hop
  } catch {
    throw fetchFailed(`${current.host} redirected to an invalid URL`, { status: res.statusCode });
  }
}

// ---------------------------------------------------------------------------
// The body

/** Fails with LIMITS_REACHED the moment more than `maxBytes` have passed. (Not MeteredStream: ingest hashes already.) */
class ByteLimit extends Transform {
  private bytes = 0;

  constructor(private readonly maxBytes: number) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) return done(tooLarge(this.maxBytes));
    done(null, chunk);
  }
}

function limitedBody(res: http.IncomingMessage, maxBytes: number, url: URL): Readable {
  const body = new ByteLimit(maxBytes);
  res.on("error", (e) => body.destroy(asFetchError(e, url)));
  // Cap hit, or the consumer gave up: stop downloading.
  body.on("close", () => res.destroy());
  // The caller may attach its listeners a tick later (after a database call,
  // say); a timeout firing in between must not crash the process. The error
  // still reaches every listener and every reader of the stream.
  body.on("error", () => {});
  return res.pipe(body);
}

function contentLengthOf(res: http.IncomingMessage): number | null {
  const header = res.headers["content-length"];
  return header && /^\d+$/.test(header) ? Number(header) : null;
}

/** A name usable as a file name: last path component, no control characters; null if nothing is left. */
function cleanFileName(name: string): string | null {
  const base = (name.split(/[/\\]/).pop() ?? "").replace(/[\x00-\x1f\x7f]/g, "").trim();
  return base && base !== "." && base !== ".." ? base : null;
}

function decodeRfc8187(value: string): string | null {
  const match = /^([\w!#$%&+^`{}~-]+)'[^']*'(.*)$/.exec(value.trim());
  if (!match) return null;
  const [, charset = "", encoded = ""] = match;
  try {
    if (/^utf-8$/i.test(charset)) return decodeURIComponent(encoded);
    if (/^iso-8859-1$/i.test(charset)) {
      return Buffer.from(
        encoded.replace(/%([0-9a-f]{2})/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16))),
        "latin1",
      ).toString("latin1");
    }
  } catch {
    // malformed escapes: fall back to filename=
  }
  return null;
}

/** filename* (RFC 8187) wins over filename, as RFC 6266 says. */
export function fileNameFromDisposition(header: string | undefined): string | null {
  if (!header) return null;
  const extended = /(?:^|;)\s*filename\*\s*=\s*([^;]*)/i.exec(header)?.[1];
  const decoded = extended ? decodeRfc8187(extended) : null;
  if (decoded) return cleanFileName(decoded);
  const plain = /(?:^|;)\s*filename\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)/i.exec(header)?.[1]?.trim();
  if (!plain) return null;
  return cleanFileName(plain.startsWith('"') ? plain.slice(1, -1).replace(/\\(.)/g, "$1") : plain);
}

function fileNameFromUrl(url: URL): string | null {
  const segment = url.pathname.split("/").pop() ?? "";
  try {
    return cleanFileName(decodeURIComponent(segment));
  } catch {
    return cleanFileName(segment);
  }
}

function toImported(res: http.IncomingMessage, url: URL, maxBytes: number): ImportedUrl {
  const status = res.statusCode ?? 0;
  if (status < 200 || status > 299) {
    res.destroy();
    throw fetchFailed(`${url.host} answered with status ${status}`, { status, host: url.host });
  }
  const contentLength = contentLengthOf(res);
  // Refuse before reading a byte; the streaming cap below catches servers that lie.
  if (contentLength !== null && contentLength > maxBytes) {
    res.destroy();
    throw tooLarge(maxBytes);
  }
  return {
    body: limitedBody(res, maxBytes, url),
    contentType: res.headers["content-type"] ?? null,
    contentLength,
    finalUrl: url.href,
    fileName: fileNameFromDisposition(res.headers["content-disposition"]) ?? fileNameFromUrl(url),
  };
}

// ---------------------------------------------------------------------------

/**
 * Opens `rawUrl` for import: URL_FORBIDDEN for a scheme, credentials or address
 * we refuse (on any hop), BAD_USER_INPUT when it is not a URL, URL_FETCH_FAILED
 * for network errors, timeouts, too many redirects and non-2xx answers,
 * LIMITS_REACHED when the body is larger than `maxBytes` (up front or while streaming).
 */
export async function openImportUrl(rawUrl: string, options: ImportOptions): Promise<ImportedUrl> {
  const s: Settings = {
    maxBytes: options.maxBytes,
    maxRedirects: options.maxRedirects ?? DEFAULTS.maxRedirects,
    connectTimeoutMs: options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
    readTimeoutMs: options.readTimeoutMs ?? DEFAULTS.readTimeoutMs,
    lookup: options.lookup ?? defaultLookup,
    allowHosts: normalizeAllowHosts(options.allowHosts ?? []),
  };
  let url = parseUserUrl(rawUrl);
  const visited = new Set<string>();
  for (let redirects = 0; ; redirects++) {
    const what = redirects === 0 ? "The URL" : "A redirect";
    checkUrlShape(url, what);
    const addresses = await checkedAddresses(url, s, what);
    const res = await send(url, addresses, s);
    const next = redirectTarget(res, url);
    if (!next) return toImported(res, url, s.maxBytes);
    res.destroy(); // a redirect's body is of no interest
    visited.add(url.href);
    if (visited.has(next.href)) throw fetchFailed("The URL redirects in a loop", { maxRedirects: s.maxRedirects });
    if (redirects >= s.maxRedirects) {
      throw fetchFailed(`The URL redirects more than ${s.maxRedirects} times`, { maxRedirects: s.maxRedirects });
    }
    url = next;
  }
}
