// URL import against SSRF: only http(s), every hop's address checked, the
// connection pinned to the checked address, redirects, timeouts and the size
// cap. Everything runs against servers on 127.0.0.1; nothing may leave the
// machine, so tests that probe other addresses block socket connects outright
// (and prove the refusal happened before any connect was attempted).
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import dns from "node:dns";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import type { Readable } from "node:stream";
import tls from "node:tls";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi, type MockInstance } from "vitest";
import { loadConfig } from "../src/config.ts";
import { AppError, type ErrorCode } from "../src/errors.ts";
import { fileNameFromDisposition, isForbiddenAddress, openImportUrl, type ImportOptions, type ResolvedAddress } from "../src/ingest/url-import.ts";

// ---------------------------------------------------------------------------
// Helpers

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The AppError a promise rejects with (fails the test when it resolves or throws something else). */
async function appError(promise: Promise<unknown>): Promise<AppError> {
  const outcome = await promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!("error" in outcome)) throw new Error(`expected a rejection, got ${JSON.stringify(outcome.value)?.slice(0, 200)}`);
  if (!(outcome.error instanceof AppError)) throw outcome.error;
  return outcome.error;
}

async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<AppError> {
  const e = await appError(promise);
  expect(e.code, e.message).toBe(code);
  return e;
}

/**
 * Every test runs behind this fence: socket connects are recorded, only those
 * bound for 127.0.0.1 go through, any other fails at once, so a regression can
 * never send traffic off the machine. For a name, the target is what the lookup
 * handed to the socket answers (synchronously, as the module's pinned lookup
 * does); no answer means blocked.
 */
const realConnect = net.Socket.prototype.connect;
let connects: MockInstance<typeof realConnect>;

function fenced(this: net.Socket, ...args: unknown[]): net.Socket {
  const first = args[0];
  const options = (Array.isArray(first) ? first[0] : first) as net.TcpNetConnectOpts;
  let targets: string[] = [];
  if (net.isIP(options.host ?? "")) targets = [options.host!];
  else
    options.lookup?.(options.host ?? "", { all: true }, (_err, found) => {
      targets = Array.isArray(found) ? found.map((a) => a.address) : [found];
    });
  if (targets.length > 0 && targets.every((a) => a === "127.0.0.1")) {
    return realConnect.apply(this, args as Parameters<typeof realConnect>);
  }
  return refused.call(this);
}

function refused(this: net.Socket): net.Socket {
  process.nextTick(() => this.destroy(new Error("test: outbound connection blocked")));
  return this;
}

/** For tests that must not connect at all, not even locally: every connect fails (and is recorded). */
function blockConnects() {
  return connects.mockImplementation(refused);
}

/** A lookup that answers from a table and counts its calls. */
function fakeDns(table: Record<string, ResolvedAddress[]>) {
  return vi.fn(async (hostname: string): Promise<ResolvedAddress[]> => {
    const answer = table[hostname];
    if (!answer) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
    return answer;
  });
}

const v4 = (address: string): ResolvedAddress => ({ address, family: 4 });
const v6 = (address: string): ResolvedAddress => ({ address, family: 6 });

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port)));
}

// ---------------------------------------------------------------------------
// A local origin server

type Seen = { path: string; host: string | undefined };
const seen: Seen[] = [];
let chunkedClosed: Promise<void> = Promise.resolve();

const origin = http.createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://origin");
  seen.push({ path: url.pathname, host: req.headers.host });
  const p = url.pathname;
  if (p === "/file.txt") {
    res.writeHead(200, { "content-type": "text/plain; charset=utf-8", "content-length": "13" }).end("hello, import");
  } else if (p === "/download") {
    res.writeHead(200, {
      "content-type": "application/pdf",
      "content-disposition": `attachment; filename="resume.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf`,
    });
    res.end("%PDF-1.7");
  } else if (p === "/quoted") {
    res.writeHead(200, { "content-disposition": 'attachment; filename="annual \\"report\\".csv"' }).end("a,b");
  } else if (p.startsWith("/dir/")) {
    res.writeHead(200).end("bytes");
  } else if (p === "/redirect") {
    res.writeHead(Number(url.searchParams.get("status") ?? 302), { location: url.searchParams.get("to") ?? "/" }).end();
  } else if (p === "/rel/a/b") {
    res.writeHead(301, { location: "../../file.txt" }).end();
  } else if (p.startsWith("/chain/")) {
    const n = Number(p.slice("/chain/".length));
    if (n === 0) res.writeHead(200).end("end of chain");
    else res.writeHead(302, { location: String(n - 1) }).end();
  } else if (p === "/loop") {
    res.writeHead(302, { location: "/loop" }).end();
  } else if (p === "/no-location") {
    res.writeHead(302).end();
  } else if (p === "/declared-big") {
    // Announces 1000 bytes, sends 10 and then holds: the client must give up on the header alone.
    res.writeHead(200, { "content-length": "1000" });
    res.write("x".repeat(10));
  } else if (p === "/exact") {
    res.writeHead(200).end("y".repeat(100));
  } else if (p === "/chunked-endless") {
    // Chunked, no length, never ends by itself: only the cap stops it.
    chunkedClosed = new Promise((resolve) => res.once("close", resolve));
    res.writeHead(200, { "content-type": "application/octet-stream" });
    const timer = setInterval(() => res.write(Buffer.alloc(1024, 1)), 2);
    res.once("close", () => clearInterval(timer));
  } else if (p === "/hang") {
    // Accepts the request and never answers.
  } else if (p === "/stall-body") {
    res.writeHead(200, { "content-type": "text/plain" });
    res.write("first chunk, then silence");
  } else if (p === "/status") {
    res.writeHead(Number(url.searchParams.get("code"))).end("nope");
  } else {
    res.writeHead(404).end("not found");
  }
});

// Answers with raw bytes, for responses node:http would refuse to send.
const RAW_RESPONSES: Record<string, string> = {
  "/lie": `HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n${"z".repeat(300)}`,
  "/close-delimited": `HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n${"z".repeat(300)}`,
  "/truncated": `HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n${"z".repeat(100)}`,
};
const raw = net.createServer((socket) => {
  socket.on("error", () => {});
  socket.once("data", (head) => {
    const requestPath = String(head).split(" ")[1] ?? "";
    socket.end(RAW_RESPONSES[requestPath] ?? "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
  });
});

let port: number;
let rawPort: number;
let base: string;
const allowed = (extra: Partial<ImportOptions> = {}): ImportOptions => ({ maxBytes: 1_000_000, allowHosts: ["127.0.0.1"], ...extra });

beforeAll(async () => {
  port = await listen(origin);
  rawPort = await listen(raw);
  base = `http://127.0.0.1:${port}`;
});
afterAll(async () => {
  origin.closeAllConnections();
  await new Promise((r) => origin.close(r));
  await new Promise((r) => raw.close(r));
});
beforeEach(() => {
  connects = vi.spyOn(net.Socket.prototype, "connect").mockImplementation(fenced);
});
afterEach(() => {
  vi.restoreAllMocks();
  seen.length = 0;
});

// ---------------------------------------------------------------------------

describe("isForbiddenAddress", () => {
  const forbidden = [
    // IPv4
    "0.0.0.0",
    "0.1.2.3",
    "10.0.0.1",
    "10.255.255.255",
    "100.64.0.0",
    "100.64.0.1",
    "100.127.255.255",
    "127.0.0.1",
    "127.255.255.254",
    "169.254.0.1",
    "169.254.169.254",
    "172.16.0.1",
    "172.31.255.255",
    "192.0.0.8",
    "192.0.2.1",
    "192.88.99.1",
    "192.168.1.1",
    "198.18.0.1",
    "198.19.255.255",
    "198.51.100.7",
    "203.0.113.9",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    // IPv6 native
    "::",
    "::1",
    "fe80::1",
    "febf:ffff::1",
    "fc00::1",
    "fd12:3456::1",
    "fec0::1",
    "ff02::1",
    "ff05::1:3",
    "100::1",
    "2001:db8::1",
    "2001:2::1",
    "3fff::1",
    // Teredo, all of it
    "2001::1",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    // IPv4 inside IPv6
    "::ffff:127.0.0.1",
    "::ffff:7f00:1",
    "0:0:0:0:0:ffff:7f00:1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "::ffff:0.0.0.0",
    "::ffff:0:7f00:1",
    "::ffff:0:a9fe:a9fe",
    "64:ff9b::7f00:1",
    "64:ff9b::a9fe:a9fe",
    "64:ff9b::c0a8:101",
    "64:ff9b:1::808:808",
    "2002:7f00:1::1",
    "2002:a00:1::",
    "2002:a9fe:a9fe::1",
    "::7f00:1",
    "::a00:1",
    // Scoped, and spellings we never dial
    "fe80::1%eth0",
    "2001:4860::1%1",
    "",
    "localhost",
    "0177.0.0.1",
    "127.1",
    "2130706433",
    "0x7f000001",
    "1.2.3.4.5",
    "::ffff:999.0.0.1",
    "[::1]",
  ];
  const public_ = [
    "1.1.1.1",
    "8.8.8.8",
    "93.184.216.34",
    "11.0.0.1",
    "100.63.255.255",
    "100.128.0.0",
    "126.255.255.255",
    "128.0.0.1",
    "169.253.255.255",
    "169.255.0.1",
    "172.15.255.255",
    "172.32.0.0",
    "192.0.1.1",
    "192.169.0.1",
    "198.17.255.255",
    "198.20.0.0",
    "223.255.255.255",
    "2606:4700:4700::1111",
    "2001:4860:4860::8888",
    "2a00:1450:4001::1",
    "2400:cb00::1",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
    "2002:808:808::1",
  ];
  it.each(forbidden)("refuses %s", (ip) => expect(isForbiddenAddress(ip)).toBe(true));
  it.each(public_)("accepts %s", (ip) => expect(isForbiddenAddress(ip)).toBe(false));
});

describe("configuration", () => {
  it("reads the import settings, with safe defaults", () => {
    expect(loadConfig({}).import).toMatchObject({ allowHosts: [], maxRedirects: 5, connectTimeoutMs: 5_000, readTimeoutMs: 15_000 });
    const c = loadConfig({
      IMPORT_ALLOW_HOSTS: " 127.0.0.1, minio.internal ,",
      IMPORT_MAX_REDIRECTS: "0",
      IMPORT_TIMEOUT_MS: "300",
      IMPORT_READ_TIMEOUT_MS: "400",
    });
    expect(c.import).toMatchObject({ allowHosts: ["127.0.0.1", "minio.internal"], maxRedirects: 0, connectTimeoutMs: 300, readTimeoutMs: 400 });
    expect(() => loadConfig({ IMPORT_MAX_REDIRECTS: "-1" })).toThrow(/IMPORT_MAX_REDIRECTS/);
  });
});

describe("fetching from an allowed local server", () => {
  it("returns the bytes, the content type and the file name from the path", async () => {
    const r = await openImportUrl(`${base}/file.txt`, allowed());
    expect((await readAll(r.body)).toString()).toBe("hello, import");
    expect(r.contentType).toBe("text/plain; charset=utf-8");
    expect(r.contentLength).toBe(13);
    expect(r.fileName).toBe("file.txt");
    expect(r.finalUrl).toBe(`${base}/file.txt`);
    expect(seen).toEqual([{ path: "/file.txt", host: `127.0.0.1:${port}` }]);
  });

  it("prefers Content-Disposition's filename* over filename and the path", async () => {
    const r = await openImportUrl(`${base}/download`, allowed());
    expect(r.fileName).toBe("résumé.pdf");
    expect(r.contentType).toBe("application/pdf");
    expect((await readAll(r.body)).toString()).toBe("%PDF-1.7");
  });

  it("reads a quoted filename, and decodes the path otherwise", async () => {
    const quoted = await openImportUrl(`${base}/quoted`, allowed());
    expect(quoted.fileName).toBe('annual "report".csv');
    expect(quoted.contentType).toBeNull();
    await readAll(quoted.body);
    const fromPath = await openImportUrl(`${base}/dir/na%C3%AFve%20name.bin?x=1`, allowed());
    expect(fromPath.fileName).toBe("naïve name.bin");
    await readAll(fromPath.body);
    const none = await openImportUrl(`${base}/dir/`, allowed());
    expect(none.fileName).toBeNull();
    await readAll(none.body);
  });

  it("allows exactly the listed host: 127.0.0.1 (in any spelling) but not localhost, and vice versa", async () => {
    const spelled = await openImportUrl(`http://2130706433:${port}/file.txt`, allowed());
    expect((await readAll(spelled.body)).toString()).toBe("hello, import");
    await expectCode(openImportUrl(`http://localhost:${port}/file.txt`, allowed()), "URL_FORBIDDEN");
    const viaName = await openImportUrl(`http://localhost:${port}/file.txt`, { maxBytes: 100, allowHosts: ["LOCALHOST"] });
    expect((await readAll(viaName.body)).toString()).toBe("hello, import");
    await expectCode(openImportUrl(`${base}/file.txt`, { maxBytes: 100, allowHosts: ["localhost"] }), "URL_FORBIDDEN");
  });
});

describe("fileNameFromDisposition", () => {
  it.each([
    ['attachment; filename="a.txt"', "a.txt"],
    ["attachment; filename=plain.txt", "plain.txt"],
    ["inline; filename*=UTF-8''%E2%82%AC%20rates.txt", "€ rates.txt"],
    ["attachment; filename*=iso-8859-1'en'%E9t%E9.txt", "été.txt"],
    ['attachment; filename="../../etc/passwd"', "passwd"],
    ['attachment; filename="C:\\\\Windows\\\\evil.exe"', "evil.exe"],
    ['attachment; filename=".."', null],
    ["attachment; filename*=UTF-8''%E2%ZZ; filename=fallback.txt", "fallback.txt"],
    ["attachment", null],
  ])("%s → %s", (header, name) => expect(fileNameFromDisposition(header)).toBe(name));
});

describe("refused by default, before any connection", () => {
  // Loopback spellings point at the real local server: a regression would reach it.
  const loopback = [
    "http://127.0.0.1:PORT/file.txt",
    "http://2130706433:PORT/file.txt", // decimal
    "http://0x7f000001:PORT/file.txt", // hex
    "http://0177.0.0.1:PORT/file.txt", // octal
    "http://127.1:PORT/file.txt", // short form
    "http://0x7f.1:PORT/file.txt", // mixed
    "http://%31%32%37.0.0.1:PORT/file.txt", // percent-encoded
    "http://127.0.0.1.:PORT/file.txt", // trailing dot
    "http://[::1]:PORT/file.txt",
    "http://[::ffff:127.0.0.1]:PORT/file.txt",
    "http://[::ffff:7f00:1]:PORT/file.txt",
    "http://[0:0:0:0:0:ffff:7f00:1]:PORT/file.txt",
    "http://[::ffff:0:7f00:1]:PORT/file.txt",
    "http://[64:ff9b::7f00:1]:PORT/file.txt",
    "http://[2002:7f00:1::]:PORT/file.txt",
    "http://0.0.0.0:PORT/file.txt",
    "http://0:PORT/file.txt",
    "http://[::]:PORT/file.txt",
    "http://localhost:PORT/file.txt", // resolved by the system resolver (/etc/hosts)
  ];
  const elsewhere = [
    "http://169.254.169.254/latest/meta-data/",
    "http://2852039166/latest/meta-data/", // 169.254.169.254 in decimal
    "http://[::ffff:a9fe:a9fe]/latest/meta-data/",
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://[fd00:ec2::254]/",
    "http://224.0.0.1/",
    "http://255.255.255.255/",
    "https://10.0.0.1/",
  ];

  it.each([...loopback, ...elsewhere])("%s", async (template) => {
    const lookup = vi.fn((h: string) => dns.promises.lookup(h, { all: true }));
    const started = performance.now();
    const e = await expectCode(openImportUrl(template.replace("PORT", String(port)), { maxBytes: 100, lookup }), "URL_FORBIDDEN");
    expect(performance.now() - started).toBeLessThan(500);
    expect(e.status).toBe(403);
    expect(connects).not.toHaveBeenCalled();
    expect(seen).toEqual([]);
    // Literal addresses are judged as they are; only names are resolved.
    expect(lookup).toHaveBeenCalledTimes(template.includes("localhost") ? 1 : 0);
  });

  it("refuses a name resolving to a private address", async () => {
    blockConnects();
    const lookup = fakeDns({ "internal.example": [v4("10.1.2.3")] });
    await expectCode(openImportUrl("http://internal.example/", { maxBytes: 100, lookup }), "URL_FORBIDDEN");
    expect(connects).not.toHaveBeenCalled();
  });

  it.each([
    [[v4("93.184.216.34"), v4("10.1.2.3")]],
    [[v4("93.184.216.34"), v4("169.254.169.254")]],
    [[v6("2606:4700::1"), v6("::1")]],
    [[v6("2606:4700::1"), v4("93.184.216.34"), v6("::ffff:127.0.0.1")]],
  ])("refuses a name resolving to public and forbidden addresses: %j", async (answer) => {
    blockConnects();
    const lookup = fakeDns({ "mixed.example": answer });
    await expectCode(openImportUrl("https://mixed.example/x", { maxBytes: 100, lookup }), "URL_FORBIDDEN");
    expect(connects).not.toHaveBeenCalled();
  });

  it("does not name the resolved addresses in the error", async () => {
    blockConnects();
    const lookup = fakeDns({ "internal.example": [v4("10.1.2.3")] });
    const e = await appError(openImportUrl("http://internal.example/", { maxBytes: 100, lookup }));
    expect(JSON.stringify({ message: e.message, details: e.details })).not.toContain("10.1.2.3");
  });
});

describe("schemes and URL shape", () => {
  it.each([
    "file:///etc/passwd",
    "ftp://example.com/file.txt",
    "gopher://127.0.0.1:70/_stats",
    "data:text/plain,hello",
    "javascript:alert(1)",
    "ws://example.com/socket",
    "dict://127.0.0.1:11211/stats",
  ])("%s is URL_FORBIDDEN", async (url) => {
    blockConnects();
    await expectCode(openImportUrl(url, allowed()), "URL_FORBIDDEN");
    expect(connects).not.toHaveBeenCalled();
  });

  it.each(["not a url", "", "//example.com/x", "http://", "http://[::1/", "/relative/path"])("%j is BAD_USER_INPUT", async (url) => {
    await expectCode(openImportUrl(url, allowed()), "BAD_USER_INPUT");
  });

  it("refuses credentials in the URL, even for an allowed host", async () => {
    await expectCode(openImportUrl(`http://user:secret@127.0.0.1:${port}/file.txt`, allowed()), "URL_FORBIDDEN");
    await expectCode(openImportUrl(`http://user@127.0.0.1:${port}/file.txt`, allowed()), "URL_FORBIDDEN");
    expect(seen).toEqual([]);
  });

  it("refuses an overly long URL as bad input", async () => {
    await expectCode(openImportUrl(`${base}/${"a".repeat(9000)}`, allowed()), "BAD_USER_INPUT");
  });
});

describe("DNS rebinding", () => {
  it("resolves once per hop and connects to that answer, not to a second one", async () => {
    // First answer: the local server. Any later answer: 127.0.0.2, where nothing
    // listens. Success proves the connection used the first answer only.
    let calls = 0;
    const lookup = vi.fn(async () => [v4(calls++ === 0 ? "127.0.0.1" : "127.0.0.2")]);
    const r = await openImportUrl(`http://rebind.test:${port}/file.txt`, { maxBytes: 100, allowHosts: ["rebind.test"], lookup });
    expect((await readAll(r.body)).toString()).toBe("hello, import");
    expect(lookup).toHaveBeenCalledTimes(1);
    // The Host header keeps the name, not the address.
    expect(seen).toEqual([{ path: "/file.txt", host: `rebind.test:${port}` }]);
  });

  it("dials the checked public address even when DNS would now say 127.0.0.1", async () => {
    let calls = 0;
    const lookup = vi.fn(async () => [v4(calls++ === 0 ? "93.184.216.34" : "127.0.0.1")]);
    // Record the connect instead of making it: no traffic may leave the machine.
    blockConnects();
    await expectCode(openImportUrl("http://rebind.test/file.txt", { maxBytes: 100, lookup }), "URL_FETCH_FAILED");
    expect(lookup).toHaveBeenCalledTimes(1);
    expect(connects).toHaveBeenCalledTimes(1);
    // net.connect() hands Socket#connect its normalized [options, callback] pair.
    const [options] = connects.mock.calls[0]![0] as unknown as [net.TcpNetConnectOpts];
    expect(options.host).toBe("rebind.test");
    // Node resolves through the lookup we handed it: it must give the checked address.
    const answers = await new Promise<unknown>((resolve, reject) =>
      options.lookup!("rebind.test", { all: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))),
    );
    expect(answers).toEqual([v4("93.184.216.34")]);
    const single = await new Promise<unknown>((resolve) => options.lookup!("rebind.test", {}, (_err, address, family) => resolve([address, family])));
    expect(single).toEqual(["93.184.216.34", 4]);
    expect(lookup).toHaveBeenCalledTimes(1);
    expect(seen).toEqual([]);
  });
});

describe("redirects", () => {
  // A name for the local server, so that 127.0.0.1 itself stays forbidden.
  const named = (extra: Partial<ImportOptions> = {}): ImportOptions => ({
    maxBytes: 1_000_000,
    allowHosts: ["allowed.test"],
    lookup: fakeDns({ "allowed.test": [v4("127.0.0.1")], "internal.example": [v4("192.168.0.10")] }),
    ...extra,
  });
  const redirectTo = (to: string, status = 302) => `http://allowed.test:${port}/redirect?status=${status}&to=${encodeURIComponent(to)}`;

  it.each([301, 302, 303, 307, 308])("follows %i and re-checks the target (an allowed one here)", async (status) => {
    const r = await openImportUrl(redirectTo(`http://allowed.test:${port}/file.txt`, status), named());
    expect((await readAll(r.body)).toString()).toBe("hello, import");
    expect(r.finalUrl).toBe(`http://allowed.test:${port}/file.txt`);
    expect(r.fileName).toBe("file.txt");
  });

  it("follows relative Locations, resolving each hop once", async () => {
    const r = await openImportUrl(`http://allowed.test:${port}/rel/a/b`, named());
    expect(r.finalUrl).toBe(`http://allowed.test:${port}/file.txt`);
    expect((await readAll(r.body)).toString()).toBe("hello, import");
    const options = named();
    const chain = await openImportUrl(`http://allowed.test:${port}/chain/3`, options);
    expect((await readAll(chain.body)).toString()).toBe("end of chain");
    expect(seen.map((s) => s.path)).toEqual(["/rel/a/b", "/file.txt", "/chain/3", "/chain/2", "/chain/1", "/chain/0"]);
    expect(options.lookup).toHaveBeenCalledTimes(4);
  });

  it.each([
    ["loopback", `http://127.0.0.1:PORT/file.txt`],
    ["loopback, hex", `http://0x7f000001:PORT/file.txt`],
    ["mapped loopback", `http://[::ffff:127.0.0.1]:PORT/file.txt`],
    ["cloud metadata", "http://169.254.169.254/latest/meta-data"],
    ["cloud metadata, mapped", "http://[::ffff:169.254.169.254]/latest/meta-data"],
    ["a name resolving to a private address", "http://internal.example/admin"],
  ])("refuses a redirect to %s before connecting to it", async (_name, target) => {
    const e = await expectCode(openImportUrl(redirectTo(target.replace("PORT", String(port))), named()), "URL_FORBIDDEN");
    expect(e.message).toMatch(/redirect/i);
    expect(connects).toHaveBeenCalledTimes(1); // the allowed first hop only
    expect(seen.map((s) => s.path)).toEqual(["/redirect"]);
  });

  it.each([
    ["file:///etc/passwd", "URL_FORBIDDEN"],
    ["gopher://127.0.0.1:70/_x", "URL_FORBIDDEN"],
    ["data:text/plain,hi", "URL_FORBIDDEN"],
    [`http://user:pw@allowed.test:PORT/file.txt`, "URL_FORBIDDEN"],
    ["http://[bad", "URL_FETCH_FAILED"],
  ] as const)("refuses a redirect to %s", async (target, code) => {
    await expectCode(openImportUrl(redirectTo(target.replace("PORT", String(port))), named()), code);
    expect(seen.map((s) => s.path)).toEqual(["/redirect"]);
  });

  it("stops at maxRedirects", async () => {
    const five = await openImportUrl(`http://allowed.test:${port}/chain/5`, named());
    expect((await readAll(five.body)).toString()).toBe("end of chain");
    seen.length = 0;
    const e = await expectCode(openImportUrl(`http://allowed.test:${port}/chain/6`, named()), "URL_FETCH_FAILED");
    expect(e.message).toMatch(/more than 5 redirects|redirects more than 5 times/);
    expect(e.details).toMatchObject({ maxRedirects: 5 });
    expect(seen).toHaveLength(6); // the first request and five redirects, not a seventh
    await expectCode(openImportUrl(`http://allowed.test:${port}/chain/1`, named({ maxRedirects: 0 })), "URL_FETCH_FAILED");
  });

  it("fails on a redirect loop", async () => {
    const e = await expectCode(openImportUrl(`http://allowed.test:${port}/loop`, named()), "URL_FETCH_FAILED");
    expect(e.message).toMatch(/loop/);
  });

  it("treats a redirect without Location as a failed fetch", async () => {
    const e = await expectCode(openImportUrl(`http://allowed.test:${port}/no-location`, named()), "URL_FETCH_FAILED");
    expect(e.details).toMatchObject({ status: 302 });
  });
});

describe("size cap", () => {
  it("refuses a declared Content-Length over maxBytes without handing out a body", async () => {
    const e = await expectCode(openImportUrl(`${base}/declared-big`, allowed({ maxBytes: 100 })), "LIMITS_REACHED");
    expect(e.status).toBe(413);
    expect(e.details).toMatchObject({ limit: 100 });
  });

  it("accepts a body of exactly maxBytes", async () => {
    const r = await openImportUrl(`${base}/exact`, allowed({ maxBytes: 100 }));
    expect(await readAll(r.body)).toHaveLength(100);
  });

  it("cuts an endless chunked body at the cap and closes the connection", async () => {
    const r = await openImportUrl(`${base}/chunked-endless`, allowed({ maxBytes: 20_000 }));
    expect(r.contentLength).toBeNull();
    let received = 0;
    r.body.on("data", (c: Buffer) => (received += c.length));
    const e = await expectCode(readAll(r.body), "LIMITS_REACHED");
    expect(e.details).toMatchObject({ limit: 20_000 });
    expect(received).toBeLessThanOrEqual(20_000);
    await chunkedClosed; // the server saw us hang up
  });

  it("cuts a body delimited by connection close (no length at all)", async () => {
    const r = await openImportUrl(`http://127.0.0.1:${rawPort}/close-delimited`, allowed({ maxBytes: 50 }));
    await expectCode(readAll(r.body), "LIMITS_REACHED");
  });

  it("never passes more than the declared length when a server sends extra bytes", async () => {
    // HTTP framing ends the body at Content-Length; the surplus is dropped (and
    // the cap would stop it anyway). The lie cannot get bytes past maxBytes.
    const r = await openImportUrl(`http://127.0.0.1:${rawPort}/lie`, allowed({ maxBytes: 50 }));
    expect(r.contentLength).toBe(5);
    expect((await readAll(r.body)).toString()).toBe("zzzzz");
  });

  it("fails a body shorter than its Content-Length", async () => {
    const r = await openImportUrl(`http://127.0.0.1:${rawPort}/truncated`, allowed());
    await expectCode(readAll(r.body), "URL_FETCH_FAILED");
  });
});

describe("upstream failures", () => {
  it.each([404, 403, 500, 503])("status %i is URL_FETCH_FAILED with the status", async (status) => {
    const e = await expectCode(openImportUrl(`${base}/status?code=${status}`, allowed()), "URL_FETCH_FAILED");
    expect(e.status).toBe(502);
    expect(e.details).toMatchObject({ status });
  });

  it("a refused connection is URL_FETCH_FAILED", async () => {
    const closed = net.createServer();
    const closedPort = await listen(closed);
    await new Promise((r) => closed.close(r));
    const e = await expectCode(openImportUrl(`http://127.0.0.1:${closedPort}/`, allowed()), "URL_FETCH_FAILED");
    expect(e.details).toMatchObject({ code: "ECONNREFUSED" });
  });

  it("an unknown host is URL_FETCH_FAILED", async () => {
    const e = await expectCode(openImportUrl("http://nowhere.test/", { maxBytes: 10, lookup: fakeDns({}) }), "URL_FETCH_FAILED");
    expect(e.message).toMatch(/resolve/);
    await expectCode(openImportUrl("http://empty.test/", { maxBytes: 10, lookup: fakeDns({ "empty.test": [] }) }), "URL_FETCH_FAILED");
  });
});

describe("timeouts", () => {
  it("a server that never answers fails after the read timeout", async () => {
    const started = performance.now();
    const e = await expectCode(openImportUrl(`${base}/hang`, allowed({ readTimeoutMs: 300 })), "URL_FETCH_FAILED");
    const elapsed = performance.now() - started;
    expect(e.message).toMatch(/stopped responding/);
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(2_000);
  });

  it("a body that stalls fails after the read timeout", async () => {
    const r = await openImportUrl(`${base}/stall-body`, allowed({ readTimeoutMs: 300 }));
    const started = performance.now();
    const e = await expectCode(readAll(r.body), "URL_FETCH_FAILED");
    expect(e.message).toMatch(/stopped responding/);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it("a resolver that never answers fails after the connect timeout", async () => {
    const started = performance.now();
    const lookup = () => new Promise<ResolvedAddress[]>(() => {});
    const e = await expectCode(openImportUrl("http://slow-dns.test/", { maxBytes: 10, lookup, connectTimeoutMs: 300 }), "URL_FETCH_FAILED");
    expect(e.message).toMatch(/Resolving/);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  describe("connect timeout", () => {
    // A local listener whose accept queue is full: further SYNs are dropped, so a
    // connect hangs without any traffic leaving the machine. The listener lives in
    // a child process whose event loop is blocked, so it never accepts.
    let child: ChildProcess;
    let fullPort: number;
    const fillers: net.Socket[] = [];
    beforeAll(async () => {
      child = spawn(
        process.execPath,
        [
          "-e",
          `
        const s = require("net").createServer().listen({ port: 0, host: "127.0.0.1", backlog: 1 }, () => {
          process.stdout.write(s.address().port + "\\n");
          setTimeout(() => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 30000), 20);
        });`,
        ],
        { stdio: ["ignore", "pipe", "inherit"] },
      );
      fullPort = await new Promise<number>((resolve) => child.stdout!.once("data", (d) => resolve(Number(String(d).trim()))));
      await new Promise((r) => setTimeout(r, 100));
      // Fill the accept queue (backlog 1 holds two) until a connect no longer completes.
      for (let i = 0; i < 8; i++) {
        const socket = net.connect(fullPort, "127.0.0.1");
        socket.on("error", () => {});
        fillers.push(socket);
        const connected = await new Promise<boolean>((resolve) => {
          socket.once("connect", () => resolve(true));
          setTimeout(() => resolve(false), 200);
        });
        if (!connected) break;
      }
    });
    afterAll(() => {
      for (const s of fillers) s.destroy();
      child?.kill("SIGKILL");
    });

    it("a connect that never completes fails after the connect timeout", async () => {
      const started = performance.now();
      const e = await expectCode(openImportUrl(`http://127.0.0.1:${fullPort}/`, allowed({ connectTimeoutMs: 300, readTimeoutMs: 10_000 })), "URL_FETCH_FAILED");
      expect(e.message).toMatch(/Connecting to .* timed out/);
      expect(performance.now() - started).toBeLessThan(2_000);
    });
  });
});

// ---------------------------------------------------------------------------
// HTTPS: a throwaway CA-less self-signed certificate made with the openssl CLI.
// Verification stays on: the test adds the certificate as a trusted CA for its
// own tls.connect calls only, it never turns checking off.

const hasOpenssl = (() => {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

describe.skipIf(!hasOpenssl)("https", () => {
  let dir: string;
  let cert: Buffer;
  let server: https.Server;
  let tlsPort: number;
  const handshakes: { servername: string | false | null; host: string | undefined }[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "cabinet-url-import-"));
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "1",
        "-keyout",
        path.join(dir, "key.pem"),
        "-out",
        path.join(dir, "cert.pem"),
        "-subj",
        "/CN=cabinet.test",
        "-addext",
        "subjectAltName=DNS:cabinet.test",
      ],
      { stdio: "ignore" },
    );
    cert = readFileSync(path.join(dir, "cert.pem"));
    server = https.createServer({ key: readFileSync(path.join(dir, "key.pem")), cert }, (req, res) => {
      handshakes.push({ servername: (req.socket as tls.TLSSocket).servername, host: req.headers.host });
      res.writeHead(200, { "content-type": "text/plain" }).end("over tls");
    });
    tlsPort = await listen(server);
  });
  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  afterEach(() => {
    handshakes.length = 0;
  });

  const trustTestCert = () => {
    const connect = tls.connect;
    return vi
      .spyOn(tls, "connect")
      .mockImplementation(((options: tls.ConnectionOptions) => connect({ ...options, ca: cert })) as unknown as typeof tls.connect);
  };
  const lookup = fakeDns({ "cabinet.test": [v4("127.0.0.1")], "other.test": [v4("127.0.0.1")] });

  it("connects to the pinned address with SNI and Host set to the hostname", async () => {
    const spy = trustTestCert();
    const r = await openImportUrl(`https://cabinet.test:${tlsPort}/file.txt`, { maxBytes: 100, allowHosts: ["cabinet.test"], lookup });
    expect((await readAll(r.body)).toString()).toBe("over tls");
    expect(handshakes).toEqual([{ servername: "cabinet.test", host: `cabinet.test:${tlsPort}` }]);
    expect(spy.mock.calls[0]![0]).toMatchObject({ host: "cabinet.test", servername: "cabinet.test" });
    expect(spy.mock.calls[0]![0]).not.toHaveProperty("rejectUnauthorized", false);
  });

  it("verifies the certificate against the hostname", async () => {
    trustTestCert();
    const e = await expectCode(
      openImportUrl(`https://other.test:${tlsPort}/file.txt`, { maxBytes: 100, allowHosts: ["other.test"], lookup }),
      "URL_FETCH_FAILED",
    );
    expect(e.details).toMatchObject({ code: "ERR_TLS_CERT_ALTNAME_INVALID" });
    expect(handshakes).toEqual([]);
  });

  it("refuses an untrusted certificate", async () => {
    const e = await expectCode(
      openImportUrl(`https://cabinet.test:${tlsPort}/file.txt`, { maxBytes: 100, allowHosts: ["cabinet.test"], lookup }),
      "URL_FETCH_FAILED",
    );
    expect(e.details).toMatchObject({ code: "DEPTH_ZERO_SELF_SIGNED_CERT" });
  });
});
