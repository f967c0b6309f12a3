// SigV4 query-string presigning for S3 objects without the SDK's command stack.
// `getSignedUrl` resolves endpoints and runs the whole middleware stack for every
// URL (0.5-1.2 ms each); a listing of 100 files would spend most of its time
// there. Here the object URL's origin and path prefix are worked out once per
// store, and each URL costs one SignatureV4.presign (two HMACs and a SHA-256,
// ~20 µs). bench/presign.ts measures it; test/blob-store.contract.test.ts checks
// the URLs against getSignedUrl's and against s3rver.
import { isIP } from "node:net";
import { Sha256 } from "@smithy/core/checksum";
import { SignatureV4 } from "@smithy/signature-v4";

export type AwsCredentials = { accessKeyId: string; secretAccessKey: string; sessionToken?: string; expiration?: Date };

const UNRESERVED = /^[A-Za-z0-9._~-]*$/;

/** SigV4's URI encoding (RFC 3986): everything but A-Z a-z 0-9 - . _ ~ is %XX, upper case. */
export function escapeUri(value: string): string {
  if (UNRESERVED.test(value)) return value; // most SigV4 values (dates, hex, names): nothing to do
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** An object key as an S3 path: each segment encoded once, "/" kept (S3 does not double-encode). */
export const escapeKey = (key: string): string => key.split("/").map(escapeUri).join("/");

export const MAX_PRESIGN_EXPIRES_SECONDS = 7 * 24 * 3600;

export type S3Location = { bucket: string; region: string; endpoint?: string; forcePathStyle: boolean };

/** Where a bucket's objects live: `${origin}${pathPrefix}${escapeKey(key)}`. */
export type ObjectUrlBase = {
  protocol: "http:" | "https:";
  /** Hostname as it appears in the URL (IPv6 in brackets). */
  hostname: string;
  port?: number;
  /** The Host header a client sends: hostname plus the port when it is not the scheme's default. */
  host: string;
  origin: string;
  /** Starts and ends with "/". */
  pathPrefix: string;
};

// What the SDK's endpoint rules accept as a virtual-hosted bucket: DNS-shaped and
// without dots (a dotted bucket breaks the TLS wildcard certificate, so the SDK
// falls back to path style for it too).
const VIRTUAL_HOSTABLE = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;

export function objectUrlBase({ bucket, region, endpoint, forcePathStyle }: S3Location): ObjectUrlBase {
  let url: URL;
  if (endpoint) {
    url = new URL(endpoint);
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error(`S3 endpoint must be http(s): ${endpoint}`);
  } else {
    const suffix = region.startsWith("cn-") ? "amazonaws.com.cn" : "amazonaws.com";
    url = new URL(`https://s3.${region}.${suffix}`);
  }
  const bareHostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const virtual = !forcePathStyle && VIRTUAL_HOSTABLE.test(bucket) && isIP(bareHostname) === 0;
  const basePath = url.pathname.replace(/\/+$/, "");
  const hostname = virtual ? `${bucket}.${url.hostname}` : url.hostname;
  const port = url.port ? Number(url.port) : undefined;
  const host = port === undefined ? hostname : `${hostname}:${port}`;
  return {
    protocol: url.protocol as "http:" | "https:",
    hostname,
    port,
    host,
    origin: `${url.protocol}//${host}`,
    pathPrefix: virtual ? `${basePath}/` : `${basePath}/${escapeUri(bucket)}/`,
  };
}

export type PresignRequest = {
  method: "GET" | "PUT";
  key: string;
  expiresInSeconds: number;
  /** Extra query parameters, signed (e.g. response-content-disposition). */
  query?: Record<string, string>;
  /** Headers the client must send verbatim; all of them are signed and none is moved into the query. */
  headers?: Record<string, string>;
};

/**
 * One per store. Holds no per-request state: every call builds its own request
 * object. The only caches are the credentials (owned by the caller's provider)
 * and @smithy/signature-v4's own signing-key cache (per day/region/credentials).
 */
export class S3Presigner {
  readonly base: ObjectUrlBase;
  private readonly signer: SignatureV4;

  constructor(location: S3Location, credentials: () => Promise<AwsCredentials>) {
    this.base = objectUrlBase(location);
    this.signer = new SignatureV4({
      service: "s3",
      region: location.region,
      credentials,
      sha256: Sha256,
      // S3 signs the path as sent (encoded once); other AWS services double-encode.
      uriEscapePath: false,
      applyChecksum: false,
    });
  }

  objectUrl(key: string): string {
    return `${this.base.origin}${this.base.pathPrefix}${escapeKey(key)}`;
  }

  async presign(req: PresignRequest): Promise<string> {
    if (!Number.isInteger(req.expiresInSeconds) || req.expiresInSeconds < 1 || req.expiresInSeconds > MAX_PRESIGN_EXPIRES_SECONDS) {
      // SignatureV4 would reject with a bare string; S3 refuses anything over a week.
      throw new RangeError(`expiresInSeconds must be an integer from 1 to ${MAX_PRESIGN_EXPIRES_SECONDS}`);
    }
    const headers: Record<string, string> = {
      host: this.base.host,
      // Hoisted into the query (as getSignedUrl does) and used as the payload hash.
      "X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD",
    };
    let unhoistable: Set<string> | undefined;
    for (const [name, value] of Object.entries(req.headers ?? {})) {
      const lower = name.toLowerCase();
      headers[lower] = value;
      if (lower.startsWith("x-amz-")) {
        unhoistable ??= new Set();
        unhoistable.add(lower);
      }
    }
    const signed = await this.signer.presign(
      {
        method: req.method,
        protocol: this.base.protocol,
        hostname: this.base.hostname,
        port: this.base.port,
        path: `${this.base.pathPrefix}${escapeKey(req.key)}`,
        query: { ...req.query },
        headers,
      },
      { expiresIn: req.expiresInSeconds, unhoistableHeaders: unhoistable },
    );
    let search = "";
    for (const [name, value] of Object.entries(signed.query ?? {})) {
      if (value == null) continue;
      for (const v of Array.isArray(value) ? value : [value]) search += `${search ? "&" : "?"}${escapeUri(name)}=${escapeUri(v)}`;
    }
    return `${this.base.origin}${signed.path}${search}`;
  }
}
