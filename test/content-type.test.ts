// Content types are sniffed from the first bytes and reconciled with the declared
// type (src/ingest/content-type.ts); active content is never stored under a
// passive label and is always downloaded as an attachment with nosniff.
import { createHash, randomBytes } from "node:crypto";
import { readdir } from "node:fs/promises";
import path from "node:path";
import { PassThrough, Readable } from "node:stream";
import { buffer as collect } from "node:stream/consumers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError } from "../src/errors.ts";
import {
  ContentTypeSniffer,
  SNIFF_BYTES,
  decideContentType,
  downloadDisposition,
  isActiveContentType,
  sniffContentType,
  type Sniffed,
} from "../src/ingest/content-type.ts";
import { AssetAtPathDocument, type Disposition } from "./generated/graphql.ts";
import { buildTestApp, errorCode, type TestApp } from "./harness.ts";
import { uploadAsset } from "./support/upload.ts";

// Minimal files: file-type needs the magic numbers and, for PNG, a chunk walk up
// to the first IDAT (it ignores CRCs, so they are zero here).
function pngChunk(type: string, data: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32BE(data.length);
  header.write(type, 4, "latin1");
  return Buffer.concat([header, data, Buffer.alloc(4)]);
}
const PNG = Buffer.concat([
  Buffer.from("89504e470d0a1a0a", "hex"),
  pngChunk("IHDR", Buffer.from("00000001000000010806000000", "hex")), // 1x1, 8-bit RGBA
  pngChunk("IDAT", Buffer.alloc(10)),
  pngChunk("IEND", Buffer.alloc(0)),
]);
const JPEG = Buffer.from("ffd8ffe000104a46494600010100000100010000ffdb", "hex");
const HTML = "<html><head><script>alert(document.cookie)</script></head><body>hi</body></html>";
const SVG_SCRIPT = `<?xml version="1.0" encoding="UTF-8"?>
<!-- Generator: something -->
<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">
<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>`;

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const bin = (mime: string): Sniffed => ({ mime, active: false });
const act = (mime: string): Sniffed => ({ mime, active: true });

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof AppError ? e.code : `not an AppError: ${String(e)}`;
  }
  return undefined;
}

describe("sniffContentType", () => {
  const cases: [string, Buffer | string, string | undefined, boolean?][] = [
    ["PNG signature + IHDR", PNG, "image/png", false],
    ["JPEG SOI + JFIF", JPEG, "image/jpeg", false],
    ["HTML", HTML, "text/html", true],
    ["HTML after whitespace, uppercase doctype", "\r\n \t<!DOCTYPE HTML PUBLIC><p>x", "text/html", true],
    ["HTML after a UTF-8 BOM", "\uFEFF<ScRiPt>alert(1)</script>", "text/html", true],
    ["HTML in UTF-16LE with BOM", Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from("<html><script>", "utf16le")]), "text/html", true],
    ["HTML in UTF-16BE with BOM", Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from("<iframe src=x>", "utf16le").swap16()]), "text/html", true],
    ["leading comment (browsers sniff it as HTML)", "<!-- hello -->\nsome text", "text/html", true],
    ["tag followed by a newline", "<img\nsrc=x onerror=alert(1)>", "text/html", true],
    ["bare SVG", '<svg xmlns="http://www.w3.org/2000/svg"><script>x</script></svg>', "image/svg+xml", true],
    ["SVG after XML declaration, comment and doctype", SVG_SCRIPT, "image/svg+xml", true],
    ["SVG in a namespace prefix", '<?xml version="1.0"?><s:svg xmlns:s="http://www.w3.org/2000/svg"/>', "image/svg+xml", true],
    ["XHTML", '<?xml version="1.0"?>\n<html xmlns="http://www.w3.org/1999/xhtml"><script/></html>', "application/xhtml+xml", true],
    ["XML", '<?xml version="1.0"?><note><to>x</to></note>', "application/xml", true],
    ["XML with a stylesheet PI and no declaration", '<?xml-stylesheet href="x.xsl"?><rss/>', "application/xml", true],
    ["a prolog longer than the head", `<?xml version="1.0"?><!-- ${"x".repeat(SNIFF_BYTES)} --><svg/>`, "application/xml", true],
    ["PHP (no browser sniffs it)", "<?php echo 'hi'; ?>", undefined],
    ["plain text", "hello world\n", undefined],
    ["text that starts like a bitmap ('BM')", "BMW and Mercedes are car brands\n", undefined],
    ["text that starts like an executable ('MZ')", "MZ is a postcode\n", undefined],
    ["'<' that is not a tag", "<3 you\n", undefined],
    ["an unknown element without prolog", "<note>hi</note>", undefined],
    ["PDF (text signature)", "%PDF-1.7\n1 0 obj\n", "application/pdf", false],
    ["empty", "", undefined],
  ];
  it.each(cases)("%s", async (_name, input, mime, active) => {
    const sniffed = await sniffContentType(typeof input === "string" ? Buffer.from(input) : input);
    expect(sniffed?.mime).toBe(mime);
    if (mime) expect(sniffed?.active).toBe(active);
  });

  it("looks at the head only: HTML after 4100 bytes of whitespace is not seen", async () => {
    expect(await sniffContentType(Buffer.from(" ".repeat(SNIFF_BYTES) + HTML))).toBeUndefined();
    expect(await sniffContentType(Buffer.from(" ".repeat(SNIFF_BYTES - 10) + HTML))).toEqual(act("text/html"));
  });
});

describe("decideContentType", () => {
  const accepted: [string, string | null | undefined, Sniffed | undefined, string][] = [
    ["binary sniffed, nothing declared", undefined, bin("image/png"), "image/png"],
    ["binary sniffed, octet-stream declared", "application/octet-stream", bin("image/png"), "image/png"],
    ["binary sniffed, binary/octet-stream declared", "binary/octet-stream", bin("application/pdf"), "application/pdf"],
    ["declared and sniffed agree", "image/png", bin("image/png"), "image/png"],
    ["declared alias of the sniffed type", "image/jpg", bin("image/jpeg"), "image/jpeg"],
    ["declared type is normalized", " IMAGE/PNG ", bin("image/png"), "image/png"],
    ["declared member of the sniffed family", "audio/mp4", bin("video/mp4"), "audio/mp4"],
    [
      "declared zip-based format, container sniffed",
      "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
      bin("application/zip"),
      "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ],
    ["declared OLE format, container sniffed", "application/msword", bin("application/x-cfb"), "application/msword"],
    ["declared type file-type cannot check, binary sniffed: sniffed wins", "text/plain", bin("image/png"), "image/png"],
    [
      "declared container, a format built on it sniffed: sniffed wins",
      "application/zip",
      bin("application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
      "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ],
    ["declared TIFF, a TIFF-based raw sniffed: sniffed wins", "image/tiff", bin("image/x-canon-cr2"), "image/x-canon-cr2"],
    ["declared active, binary sniffed: sniffed wins", "text/html", bin("image/png"), "image/png"],
    ["active label never refines a container", "application/xhtml+xml", bin("application/zip"), "application/zip"],
    ["nothing sniffed: declared kept", "application/pdf", undefined, "application/pdf"],
    ["nothing sniffed: charset kept, other parameters dropped", "Text/Plain; format=flowed; Charset=UTF-8", undefined, "text/plain; charset=utf-8"],
    ["nothing sniffed, nothing declared", undefined, undefined, "application/octet-stream"],
    ["nothing sniffed, empty declared", "  ", undefined, "application/octet-stream"],
    ["active sniffed, nothing declared", null, act("text/html"), "text/html"],
    ["active sniffed, octet-stream declared", "application/octet-stream", act("image/svg+xml"), "image/svg+xml"],
    ["active sniffed, same type declared", "text/html; charset=utf-8", act("text/html"), "text/html; charset=utf-8"],
    ["active sniffed, other active type declared", "image/svg+xml", act("application/xml"), "image/svg+xml"],
    ["active sniffed, +xml declared", "application/atom+xml", act("application/xml"), "application/atom+xml"],
  ];
  it.each(accepted)("%s", (_name, declared, sniffed, contentType) => {
    expect(decideContentType(declared, sniffed).contentType).toBe(contentType);
  });

  const rejected: [string, Sniffed][] = [
    ["image/png", act("text/html")],
    ["image/png", act("image/svg+xml")],
    ["image/jpeg", act("application/xml")],
    ["text/plain", act("text/html")],
    ["text/csv", act("text/html")],
    ["application/json", act("text/html")],
    ["application/pdf", act("application/xhtml+xml")],
    ["video/mp4", act("text/html")],
    ["font/woff2", act("image/svg+xml")],
    // A specific binary type the sniffer recognises as another binary type (decisions.md 20).
    ["image/png", bin("image/jpeg")],
    ["application/pdf", bin("image/png")],
    ["application/pdf", bin("application/zip")],
    ["video/mp4", bin("audio/mpeg")],
  ];
  it.each(rejected)("rejects %s whose bytes are %o", (declared, sniffed) => {
    let error: unknown;
    try {
      decideContentType(declared, sniffed);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe("UNSUPPORTED_MEDIA_TYPE");
    expect((error as AppError).status).toBe(415);
    expect((error as AppError).details).toEqual({ declared, detected: sniffed.mime });
  });

  it("refuses a declared type that is not type/subtype", () => {
    for (const declared of ["png", "image/", "/png", "image/png/x", "image png", "imäge/png"]) {
      expect(
        codeOf(() => decideContentType(declared, undefined)),
        declared,
      ).toBe("BAD_USER_INPUT");
    }
  });
});

describe("active content types", () => {
  it.each([
    ["text/html", true],
    ["TEXT/HTML; charset=utf-8", true],
    ["application/xhtml+xml", true],
    ["image/svg+xml", true],
    ["text/xml", true],
    ["application/xml", true],
    ["application/rss+xml", true],
    ["text/javascript", true],
    ["application/javascript", true],
    ["application/ecmascript", true],
    ["text/ecmascript", true],
    ["application/x-javascript", true],
    ["not a type", true],
    ["image/png", false],
    ["text/plain", false],
    ["application/json", false],
    ["application/pdf", false],
    ["application/octet-stream", false],
  ])("%s -> %s", (type, active) => {
    expect(isActiveContentType(type)).toBe(active);
    expect(downloadDisposition(type, "inline")).toBe(active ? "attachment" : "inline");
  });
});

describe("ContentTypeSniffer", () => {
  const chunked = (data: Buffer, size: number) =>
    Readable.from(
      (function* () {
        for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
      })(),
      { objectMode: false },
    );

  it.each([1, 7, SNIFF_BYTES - 1, SNIFF_BYTES, SNIFF_BYTES + 1, 65536])("passes every byte through unchanged (chunks of %i)", async (size) => {
    const data = Buffer.concat([PNG, randomBytes(3 * SNIFF_BYTES)]);
    const sniffer = new ContentTypeSniffer("application/octet-stream");
    const out = collect(chunked(data, size).pipe(sniffer));
    expect((await sniffer.decision).contentType).toBe("image/png");
    expect((await out).equals(data)).toBe(true);
  });

  it("decides files shorter than the head when they end", async () => {
    const sniffer = new ContentTypeSniffer("text/plain");
    const out = collect(Readable.from([Buffer.from("hi")]).pipe(sniffer));
    expect(await sniffer.decision).toEqual({ contentType: "text/plain", declared: "text/plain", detected: null });
    expect((await out).toString()).toBe("hi");
  });

  it("decides from the head without waiting for the rest of the stream", async () => {
    const source = new PassThrough();
    const sniffer = new ContentTypeSniffer(null);
    source.pipe(sniffer);
    source.write(Buffer.concat([JPEG, Buffer.alloc(SNIFF_BYTES)]));
    // The source never ends: only the head can have been looked at.
    expect((await sniffer.decision).contentType).toBe("image/jpeg");
    source.destroy();
  });

  it("errors the stream when the type is rejected", async () => {
    const sniffer = new ContentTypeSniffer("image/png");
    const failed = new Promise<unknown>((resolve) => sniffer.on("error", resolve));
    Readable.from([Buffer.from(HTML)]).pipe(sniffer);
    await expect(sniffer.decision).rejects.toMatchObject({ code: "UNSUPPORTED_MEDIA_TYPE" });
    expect(await failed).toMatchObject({ code: "UNSUPPORTED_MEDIA_TYPE" });
  });

  it("rejects the decision with the upstream error when destroyed first", async () => {
    const sniffer = new ContentTypeSniffer(null);
    sniffer.on("error", () => {});
    sniffer.write(Buffer.from("a few bytes"));
    const boom = new AppError("LIMITS_REACHED", "too big");
    sniffer.destroy(boom);
    await expect(sniffer.decision).rejects.toBe(boom);
  });
});

describe("uploads and downloads", () => {
  let t: TestApp;
  let token: string;
  let spaceId: string;
  let orgId: string;

  beforeAll(async () => {
    t = await buildTestApp();
    const w = await t.factories.world();
    token = w.adminToken;
    spaceId = w.space.id;
    orgId = w.org.id;
  });
  afterAll(() => t?.close());

  async function asset(filePath: string, disposition?: Disposition) {
    const res = await t.gql(AssetAtPathDocument, { spaceId, path: filePath, disposition }, token);
    expect(res.errors).toBeUndefined();
    const entry = res.data!.entry!;
    if (entry.__typename !== "Asset") throw new Error("expected an Asset");
    return entry;
  }

  /** Every stored object, relative to the blob dir (the .partial staging dir listed separately). */
  async function blobFiles(): Promise<{ objects: string[]; partial: string[] }> {
    const root = path.join(t.dataDir, "blobs");
    const all = (await readdir(root, { recursive: true, withFileTypes: true }).catch(() => [])).filter((d) => d.isFile());
    const rel = all.map((d) => path.relative(root, path.join(d.parentPath, d.name)));
    return { objects: rel.filter((p) => !p.startsWith(".partial")).sort(), partial: rel.filter((p) => p.startsWith(".partial")) };
  }

  async function usage() {
    const org = await t.deps.prisma.organization.findUniqueOrThrow({ where: { id: orgId } });
    const space = await t.deps.prisma.space.findUniqueOrThrow({ where: { id: spaceId } });
    return { org: org.usedBytes, space: space.usedBytes };
  }

  it("stores PNG bytes declared application/octet-stream as image/png", async () => {
    const up = await uploadAsset(t.graphqlUrl, { token, spaceId, path: "sniffed.bin", body: PNG, type: "application/octet-stream" });
    expect(up.errors).toBeUndefined();
    expect(up.data!.uploadAsset).toMatchObject({ mimeType: "image/png", sha256: sha256(PNG) });
    expect((await asset("sniffed.bin")).mimeType).toBe("image/png");
  });

  it("refuses a JPEG declared image/png and a PNG declared application/pdf with UNSUPPORTED_MEDIA_TYPE", async () => {
    const jpeg = await uploadAsset(t.graphqlUrl, { token, spaceId, path: "photo.png", body: JPEG, type: "image/png" });
    expect(errorCode(jpeg)).toBe("UNSUPPORTED_MEDIA_TYPE");
    expect(jpeg.errors![0]!.extensions!.details).toEqual({ declared: "image/png", detected: "image/jpeg" });
    const png = await uploadAsset(t.graphqlUrl, { token, spaceId, path: "report.pdf", body: PNG, type: "application/pdf" });
    expect(errorCode(png)).toBe("UNSUPPORTED_MEDIA_TYPE");
    expect(png.errors![0]!.extensions!.details).toEqual({ declared: "application/pdf", detected: "image/png" });
    expect(await t.deps.prisma.entry.count({ where: { spaceId, name: { in: ["photo.png", "report.pdf"] } } })).toBe(0);
  });

  it("stores PNG bytes declared text/plain (a type the sniffer cannot check) as image/png", async () => {
    const up = await uploadAsset(t.graphqlUrl, { token, spaceId, path: "pixel.txt", body: PNG, type: "text/plain" });
    expect(up.errors).toBeUndefined();
    expect((await asset("pixel.txt")).mimeType).toBe("image/png");
  });

  it("stores plain text declared text/plain as text/plain", async () => {
    const up = await uploadAsset(t.graphqlUrl, { token, spaceId, path: "notes.txt", body: "BMW: buy milk, walk the dog\n", type: "text/plain" });
    expect(up.errors).toBeUndefined();
    expect((await asset("notes.txt")).mimeType).toBe("text/plain");
  });

  it.each<[string, string, string, { type: string; mimeType?: string }, string]>([
    ["HTML declared image/png", "evil.png", HTML, { type: "image/png" }, "text/html"],
    ["SVG with script declared image/png", "evil-svg.png", SVG_SCRIPT, { type: "image/png" }, "image/svg+xml"],
    ["HTML declared text/plain through the mimeType override", "evil.txt", HTML, { type: "text/html", mimeType: "text/plain" }, "text/html"],
  ])("rejects %s with UNSUPPORTED_MEDIA_TYPE and leaves nothing behind", async (_name, filePath, body, types, detected) => {
    const before = { blobs: await t.deps.prisma.blob.count(), entries: await t.deps.prisma.entry.count(), usage: await usage(), files: await blobFiles() };
    const res = await uploadAsset(t.graphqlUrl, { token, spaceId, path: filePath, body, ...types });
    expect(errorCode(res)).toBe("UNSUPPORTED_MEDIA_TYPE");
    expect(res.errors![0]!.extensions!.details).toEqual({ declared: types.mimeType ?? types.type, detected });
    expect(await t.deps.prisma.blob.count()).toBe(before.blobs);
    expect(await t.deps.prisma.entry.count()).toBe(before.entries);
    expect(await usage()).toEqual(before.usage);
    const after = await blobFiles();
    expect(after.objects).toEqual(before.files.objects);
    expect(after.partial).toEqual([]);
    expect((await t.gql(AssetAtPathDocument, { spaceId, path: filePath }, token)).data?.entry).toBeNull();
  });

  it("refuses a declared type that is not a media type", async () => {
    const res = await uploadAsset(t.graphqlUrl, { token, spaceId, path: "odd.bin", body: PNG, mimeType: "png" });
    expect(errorCode(res)).toBe("BAD_USER_INPUT");
    expect(await t.deps.prisma.entry.count({ where: { spaceId, name: "odd.bin" } })).toBe(0);
  });

  it("accepts HTML declared text/html but downloads it as an attachment with nosniff, even when inline is asked", async () => {
    const up = await uploadAsset(t.graphqlUrl, { token, spaceId, path: "page.html", body: HTML, type: "text/html" });
    expect(up.errors).toBeUndefined();
    expect(up.data!.uploadAsset.mimeType).toBe("text/html");
    for (const disposition of ["INLINE", "ATTACHMENT", undefined] as const) {
      const res = await fetch((await asset("page.html", disposition)).downloadUrl);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/html");
      expect(res.headers.get("content-disposition")).toMatch(/^attachment; filename="page\.html"/);
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(await res.text()).toBe(HTML);
    }
  });

  it("forces attachment for SVG and for HTML with parameters, but keeps inline for passive types", async () => {
    const svg = await uploadAsset(t.graphqlUrl, { token, spaceId, path: "logo.svg", body: SVG_SCRIPT, type: "image/svg+xml" });
    expect(svg.data?.uploadAsset.mimeType).toBe("image/svg+xml");
    const html = await uploadAsset(t.graphqlUrl, {
      token,
      spaceId,
      path: "charset.html",
      body: HTML,
      type: "application/octet-stream",
      mimeType: "text/html; charset=UTF-8",
    });
    expect(html.data?.uploadAsset.mimeType).toBe("text/html; charset=utf-8");
    for (const p of ["logo.svg", "charset.html"]) {
      const res = await fetch((await asset(p, "INLINE")).downloadUrl);
      expect(res.headers.get("content-disposition"), p).toMatch(/^attachment;/);
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    }
    const png = await fetch((await asset("sniffed.bin", "INLINE")).downloadUrl);
    expect(png.headers.get("content-disposition")).toMatch(/^inline;/);
    expect(png.headers.get("content-type")).toBe("image/png");
  });

  it("stores unlabelled HTML as text/html (downloads are attachments)", async () => {
    const up = await uploadAsset(t.graphqlUrl, { token, spaceId, path: "unlabelled.bin", body: HTML, type: "application/octet-stream" });
    expect(up.errors).toBeUndefined();
    const res = await fetch((await asset("unlabelled.bin", "INLINE")).downloadUrl);
    expect(res.headers.get("content-type")).toBe("text/html");
    expect(res.headers.get("content-disposition")).toMatch(/^attachment;/);
  });

  it("streams a large file through the sniffer unchanged (8 MB)", async () => {
    const bytes = Buffer.concat([PNG, randomBytes(8 * 1024 * 1024 - PNG.length)]);
    const up = await uploadAsset(t.graphqlUrl, { token, spaceId, path: "large.png", body: bytes });
    expect(up.errors).toBeUndefined();
    expect(up.data!.uploadAsset).toMatchObject({ size: bytes.length, sha256: sha256(bytes), mimeType: "image/png" });
    const downloaded = Buffer.from(await (await fetch((await asset("large.png")).downloadUrl)).arrayBuffer());
    expect(downloaded.subarray(0, SNIFF_BYTES).equals(bytes.subarray(0, SNIFF_BYTES))).toBe(true);
    expect(sha256(downloaded)).toBe(sha256(bytes));
  });

  it("still cuts an upload off at the size limit, inside the head and after it", async () => {
    const w = await t.factories.world({ maxFileSizeBytes: 1000n, quotaBytes: 1_000_000n });
    const inHead = await uploadAsset(t.graphqlUrl, { token: w.adminToken, spaceId: w.space.id, path: "a.html", body: HTML.repeat(40), type: "image/png" });
    expect(errorCode(inHead)).toBe("LIMITS_REACHED");
    const w2 = await t.factories.world({ maxFileSizeBytes: 10_000n, quotaBytes: 1_000_000n });
    const afterHead = await uploadAsset(t.graphqlUrl, {
      token: w2.adminToken,
      spaceId: w2.space.id,
      path: "b.png",
      body: Buffer.concat([PNG, randomBytes(200_000)]),
    });
    expect(errorCode(afterHead)).toBe("LIMITS_REACHED");
    expect(await t.deps.prisma.blob.count({ where: { spaceId: { in: [w.space.id, w2.space.id] } } })).toBe(0);
  });
});
