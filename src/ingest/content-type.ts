// Content types of stored bytes: sniffed from the first bytes of an upload,
// reconciled with the type the client declared, and a download rule for content
// a browser would execute. It lives in storage/ (not processing/) because it is
// part of writing a blob: it runs inside the upload stream, before the object
// and its row exist, and can still abort the write. processing/ holds the
// analyzers that run later, as jobs, on blobs already stored.
//
// Two sniffers look at the same head (the first SNIFF_BYTES bytes):
// - sniffMarkup(): active text formats file-type does not know: HTML, SVG, XML.
// - file-type: binary formats by magic number. Its answer is ignored when the
//   head is text (no binary bytes, as WHATWG mimesniff defines them) unless the
//   format is text by design (PDF, PostScript, RTF...): "BMW is a car" is not a
//   bitmap, even though it starts with "BM".
//
// Decision rules (decideContentType), in order:
// 1. An empty declared type, application/octet-stream, binary/octet-stream,
//    application/unknown, unknown/unknown and */* claim nothing ("no claim").
//    Any other declared type that is not `type/subtype` is BAD_USER_INPUT: the
//    client said something, and we do not silently replace what we cannot read.
//    So is a declared type longer than MAX_MEDIA_TYPE_LENGTH (255) characters.
// 2. Nothing sniffed: the declared type (normalized), or application/octet-stream.
// 3. Sniffed active content (HTML, SVG, XML):
//    - no claim: the sniffed type. It is labelled honestly, and downloads of it
//      are always attachments (isActiveContentType).
//    - declared active too (text/html, image/svg+xml, +xml, JavaScript...): the
//      declared type; both are served the same way.
//    - declared anything else (image/png, text/plain, application/json...):
//      UNSUPPORTED_MEDIA_TYPE with { declared, detected }. Bytes that a browser
//      would render as a page are never stored under a passive label.
// 4. Sniffed a binary format (always passive):
//    - no claim: the sniffed type.
//    - the declared type agrees: the declared type, normalized. Agreeing means
//      equal after aliases (image/jpg = image/jpeg), in one family of
//      interchangeable names (audio/mp4 ~ video/mp4, image/heic ~ image/heif), or
//      a specialization of a container file-type cannot see into from the head
//      (a .docx or .jar declared as such but sniffed as application/zip).
//    - the declared type is a passive binary format file-type itself detects,
//      and the sniffed one is another (a PNG declared application/pdf, a JPEG
//      declared image/png): UNSUPPORTED_MEDIA_TYPE with { declared, detected }.
//      The client made a specific claim the bytes contradict; retyping the file
//      silently would hide a mix-up the uploader should hear about. Except when
//      the sniffed format is built on the declared container (a .docx declared
//      application/zip, a camera raw declared image/tiff): that is a
//      refinement, and the sniffed type is stored.
//    - otherwise (a declared type file-type cannot check, such as text/plain or
//      text/html on PNG bytes) the sniffed type.
import { Transform, type TransformCallback } from "node:stream";
import { fileTypeFromBuffer, supportedMimeTypes } from "file-type";
import { AppError, errors } from "../errors.ts";

/** How much of the head both sniffers see: what file-type needs for its magic numbers. */
export const SNIFF_BYTES = 4100;
export const DEFAULT_CONTENT_TYPE = "application/octet-stream";
/** Longest declared type accepted, parameters included (RFC 6838 caps type and subtype at 127 each). */
export const MAX_MEDIA_TYPE_LENGTH = 255;

export type Sniffed = { mime: string; active: boolean };
export type ContentTypeDecision = {
  /** The type the blob is stored and served with. */
  contentType: string;
  /** The declared type, normalized; null when none was given. */
  declared: string | null;
  detected: string | null;
};

// ---------------------------------------------------------------------------
// Media type syntax (RFC 9110: token "/" token *( ";" parameter ))

const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

type MediaType = { essence: string; charset?: string };

function parseMediaType(value: string): MediaType | null {
  const [head = "", ...params] = value.split(";");
  const essence = head.trim().toLowerCase();
  const slash = essence.indexOf("/");
  if (slash < 0 || !TOKEN.test(essence.slice(0, slash)) || !TOKEN.test(essence.slice(slash + 1))) return null;
  // Only charset is worth keeping (text downloads need it); other parameters are dropped.
  let charset: string | undefined;
  for (const p of params) {
    const m = /^\s*charset\s*=\s*"?([!#$%&'*+.^_`|~0-9a-z-]+)"?\s*$/i.exec(p);
    if (m) charset = m[1]!.toLowerCase();
  }
  return { essence, charset };
}

const format = (t: MediaType) => (t.charset ? `${t.essence}; charset=${t.charset}` : t.essence);

/** Lowercased `type/subtype` without parameters; null when unparseable. */
export function mediaTypeEssence(value: string | null | undefined): string | null {
  return value ? (parseMediaType(value)?.essence ?? null) : null;
}

// ---------------------------------------------------------------------------
// Active content: types a browser renders as a document or runs as script.

// WHATWG mimesniff "JavaScript MIME type essence match".
const JAVASCRIPT_TYPES = new Set([
  "application/ecmascript",
  "application/javascript",
  "application/x-ecmascript",
  "application/x-javascript",
  "text/ecmascript",
  "text/javascript",
  "text/javascript1.0",
  "text/javascript1.1",
  "text/javascript1.2",
  "text/javascript1.3",
  "text/javascript1.4",
  "text/javascript1.5",
  "text/jscript",
  "text/livescript",
  "text/x-ecmascript",
  "text/x-javascript",
]);
const DOCUMENT_TYPES = new Set(["text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml", "text/xsl"]);

/**
 * True for HTML, XHTML, SVG, XML (any +xml) and JavaScript types, with or
 * without parameters. An unparseable type counts as active: when unsure, the
 * download is an attachment.
 */
export function isActiveContentType(value: string | null | undefined): boolean {
  const essence = mediaTypeEssence(value);
  if (!essence) return true;
  return DOCUMENT_TYPES.has(essence) || JAVASCRIPT_TYPES.has(essence) || essence.endsWith("+xml");
}

// ---------------------------------------------------------------------------
// Markup sniffer

type MarkupType = "text/html" | "application/xhtml+xml" | "image/svg+xml" | "application/xml";

// The HTML patterns of WHATWG mimesniff ("identify an unknown MIME type"), which
// is what browsers sniff as HTML, plus elements that run script or load active
// content on their own. Matched case-insensitively after leading whitespace,
// followed by whitespace, ">" or "/" (browsers accept only " " and ">": we are
// stricter than they are).
const HTML_TAGS = new Set([
  "html",
  "head",
  "script",
  "iframe",
  "h1",
  "div",
  "font",
  "table",
  "a",
  "style",
  "title",
  "b",
  "body",
  "br",
  "p",
  "img",
  "object",
  "embed",
  "frameset",
  "frame",
  "meta",
  "link",
  "base",
  "form",
  "input",
  "button",
  "video",
  "audio",
  "math",
  "template",
  "xmp",
  "noscript",
  "marquee",
  "details",
  "span",
  "h2",
  "h3",
  "h4",
  "h5",
  "h6",
]);

const isSpace = (c: string | undefined) => c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\f";

function skipSpace(s: string, i: number): number {
  while (i < s.length && isSpace(s[i])) i++;
  return i;
}

const startsWithCI = (s: string, i: number, prefix: string) => s.slice(i, i + prefix.length).toLowerCase() === prefix;
/** The head may end right after a name: that counts as its end. */
const endsName = (s: string, i: number) => i >= s.length || isSpace(s[i]) || s[i] === ">" || s[i] === "/";

/** The head as text: UTF-16 when it has a UTF-16 BOM, else byte-per-char (ASCII patterns match any UTF-8). */
function decodeHead(head: Uint8Array): string {
  const buf = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) return buf.toString("latin1", 3);
  if (buf[0] === 0xff && buf[1] === 0xfe) return buf.toString("utf16le", 2);
  if (buf[0] === 0xfe && buf[1] === 0xff) {
    const swapped = Buffer.from(buf.subarray(2, 2 + ((buf.length - 2) & ~1)));
    return swapped.swap16().toString("utf16le");
  }
  return buf.toString("latin1");
}

/** End of a doctype starting at `i` (past its internal subset), or -1 when the head ends first. */
function doctypeEnd(s: string, i: number): number {
  for (let j = i; j < s.length; j++) {
    if (s[j] === ">") return j + 1;
    if (s[j] === "[") {
      const close = s.indexOf("]", j);
      if (close < 0) return -1;
      const gt = s.indexOf(">", close);
      return gt < 0 ? -1 : gt + 1;
    }
  }
  return -1;
}

/**
 * HTML, XHTML, SVG or XML when the head is such a document: leading whitespace
 * (and a BOM), then an XML declaration, comments, processing instructions and
 * a doctype in any order, then the root element. A head that starts with markup
 * declarations but ends before the root element is still markup (a browser
 * sniffs a leading "<!--" as HTML).
 */
export function sniffMarkup(head: Uint8Array): MarkupType | null {
  const s = decodeHead(head);
  let i = skipSpace(s, 0);
  if (s[i] !== "<") return null;
  const leadingComment = s.startsWith("<!--", i);
  let xmlDeclaration = false;
  let prolog = false;
  for (;;) {
    i = skipSpace(s, i);
    if (i >= s.length || s[i] !== "<") break;
    if (s.startsWith("<?", i)) {
      const target = /^<\?([^\s?]*)/.exec(s.slice(i, i + 64))?.[1]?.toLowerCase() ?? "";
      if (target === "xml") xmlDeclaration = true;
      // "<?php" and friends: no browser sniffs them as markup.
      else if (!prolog && !target.startsWith("xml")) return null;
      prolog = true;
      const end = s.indexOf("?>", i + 2);
      if (end < 0) break;
      i = end + 2;
    } else if (s.startsWith("<!--", i)) {
      prolog = true;
      const end = s.indexOf("-->", i + 4);
      if (end < 0) break;
      i = end + 3;
    } else if (startsWithCI(s, i, "<!doctype")) {
      prolog = true;
      const name = /^<!doctype\s+([^\s>[]+)/i.exec(s.slice(i, i + 256))?.[1]?.toLowerCase();
      if (name === "html") return xmlDeclaration ? "application/xhtml+xml" : "text/html";
      if (name === "svg" || name?.endsWith(":svg")) return "image/svg+xml";
      const end = doctypeEnd(s, i);
      if (end < 0) break;
      i = end;
    } else if (s.startsWith("<!", i)) {
      prolog = true; // CDATA or another declaration: markup, but no root element in sight
      break;
    } else {
      const name = /^<([a-z][\w.:-]*)/i.exec(s.slice(i, i + 256))?.[1]?.toLowerCase();
      if (!name || !endsName(s, i + 1 + name.length)) break;
      const local = name.slice(name.indexOf(":") + 1);
      if (local === "svg") return "image/svg+xml";
      if (local === "html") return xmlDeclaration ? "application/xhtml+xml" : "text/html";
      if (!name.includes(":") && HTML_TAGS.has(name)) return "text/html";
      break; // another root element: the prolog decides
    }
  }
  return leadingComment ? "text/html" : prolog ? "application/xml" : null;
}

// ---------------------------------------------------------------------------
// Both sniffers

/** WHATWG mimesniff "binary data byte": never found in text. */
function hasBinaryByte(head: Uint8Array): boolean {
  for (const b of head) if (b <= 0x08 || b === 0x0b || (b >= 0x0e && b <= 0x1a) || (b >= 0x1c && b <= 0x1f)) return true;
  return false;
}

// file-type results whose signatures are text by design, so they stand even in a text-only head.
const TEXT_SIGNATURES = new Set([
  "application/pdf",
  "application/postscript",
  "application/eps",
  "application/rtf",
  "application/pgp-encrypted",
  "text/calendar",
  "text/vcard",
  "text/vtt",
]);

/** Sniffs the head of a file (only the first SNIFF_BYTES bytes are looked at). */
export async function sniffContentType(head: Uint8Array): Promise<Sniffed | undefined> {
  const bytes = head.subarray(0, SNIFF_BYTES);
  const markup = sniffMarkup(bytes);
  if (markup) return { mime: markup, active: true };
  // file-type adds binary labels only; the security rule above never depends on it.
  const found = await fileTypeFromBuffer(bytes).catch(() => undefined);
  const type = found && parseMediaType(found.mime);
  if (!type) return undefined;
  if (type.essence === "application/xml") return { mime: type.essence, active: true }; // file-type's own "<?xml" check
  if (!hasBinaryByte(bytes) && !TEXT_SIGNATURES.has(type.essence)) return undefined;
  return { mime: found.mime.toLowerCase(), active: false };
}

// ---------------------------------------------------------------------------
// Reconciliation

const NO_CLAIM = new Set(["application/octet-stream", "binary/octet-stream", "application/unknown", "unknown/unknown", "*/*"]);

// Non-standard spellings, mapped to the names file-type reports.
const ALIASES: Record<string, string> = {
  "image/jpg": "image/jpeg",
  "image/pjpeg": "image/jpeg",
  "image/x-png": "image/png",
  "image/x-ms-bmp": "image/bmp",
  "image/x-bmp": "image/bmp",
  "image/x-tiff": "image/tiff",
  "application/x-pdf": "application/pdf",
  "application/x-zip-compressed": "application/zip",
  "application/x-zip": "application/zip",
  "application/x-gzip": "application/gzip",
  "audio/mp3": "audio/mpeg",
  "audio/x-mp3": "audio/mpeg",
  "audio/mpeg3": "audio/mpeg",
  "audio/x-mpeg": "audio/mpeg",
  "audio/x-wav": "audio/wav",
  "audio/wave": "audio/wav",
  "audio/vnd.wave": "audio/wav",
  "audio/x-flac": "audio/flac",
  "audio/x-aiff": "audio/aiff",
  "audio/x-midi": "audio/midi",
  "audio/mid": "audio/midi",
  "video/x-matroska": "video/matroska",
  "video/avi": "video/vnd.avi",
  "video/msvideo": "video/vnd.avi",
  "video/x-msvideo": "video/vnd.avi",
  "application/font-woff": "font/woff",
  "application/x-font-ttf": "font/ttf",
  "application/x-font-otf": "font/otf",
};

// Different names for one container format: a declared member is kept when another member is sniffed.
const FAMILIES: string[][] = [
  ["image/png", "image/apng"],
  ["image/x-icon", "image/vnd.microsoft.icon"],
  ["image/heif", "image/heic", "image/heif-sequence", "image/heic-sequence"],
  ["video/mp4", "audio/mp4", "audio/x-m4a", "audio/m4a", "video/x-m4v", "video/quicktime", "video/3gpp", "video/3gpp2", "audio/3gpp", "audio/3gpp2"],
  ["application/ogg", "audio/ogg", "video/ogg", "audio/opus", "audio/vorbis"],
  ["video/matroska", "video/webm", "audio/webm", "audio/matroska", "audio/x-matroska"],
  ["application/vnd.ms-asf", "video/x-ms-asf", "audio/x-ms-asf", "video/x-ms-wmv", "audio/x-ms-wma"],
  ["application/x-rar-compressed", "application/vnd.rar", "application/x-rar"],
  ["application/postscript", "application/eps", "image/eps", "image/x-eps"],
  ["application/x-msdownload", "application/vnd.microsoft.portable-executable", "application/x-dosexec", "application/x-msdos-program"],
];
const FAMILY = new Map(FAMILIES.flatMap((members, n) => members.map((m) => [m, n] as const)));

// Formats built on zip or OLE compound files. file-type may only see the container
// in the head (it inspects zip entries, which can sit past the first 4100 bytes).
const ZIP_BASED =
  /^(application\/(vnd\.openxmlformats-officedocument\.|vnd\.oasis\.opendocument\.|vnd\.ms-[\w.-]*macroenabled|epub\+zip|java-archive|vnd\.android\.package-archive|x-xpinstall|vnd\.visio)|model\/3mf$)|\+zip$/;
const CFB_BASED = /^application\/(msword|vnd\.ms-|vnd\.visio|x-msi|x-ole-storage)/;

// TIFF-based camera raw formats file-type names on their own.
const TIFF_BASED = /^image\/(x-canon-cr2|x-nikon-nef|x-sony-arw|x-adobe-dng|x-olympus-orf|x-panasonic-rw2|x-samsung-srw|x-pentax-pef)$/;

const canonical = (essence: string) => ALIASES[essence] ?? essence;

function agrees(declared: string, sniffed: string): boolean {
  if (declared === sniffed) return true;
  const family = FAMILY.get(declared);
  if (family !== undefined && family === FAMILY.get(sniffed)) return true;
  if (isActiveContentType(declared)) return false; // never an active label on binary bytes
  const unknownToFileType = !supportedMimeTypes.has(declared);
  if (sniffed === "application/zip") return ZIP_BASED.test(declared) || (unknownToFileType && declared.startsWith("application/"));
  if (sniffed === "application/x-cfb") return CFB_BASED.test(declared) || (unknownToFileType && declared.startsWith("application/"));
  return false;
}

/** The sniffed format is a specialization of the declared container: more precise, not contradictory. */
function refinesContainer(declared: string, sniffed: string): boolean {
  if (declared === "application/zip") return ZIP_BASED.test(sniffed);
  if (declared === "application/x-cfb") return CFB_BASED.test(sniffed);
  if (declared === "image/tiff") return TIFF_BASED.test(sniffed);
  return false;
}

/** A passive binary type file-type detects: a specific claim the sniffer can check. */
const isCheckableClaim = (declared: string) => supportedMimeTypes.has(declared) && !isActiveContentType(declared);

/** Applies the rules at the top of this file. Throws BAD_USER_INPUT or UNSUPPORTED_MEDIA_TYPE. */
export function decideContentType(declaredRaw: string | null | undefined, sniffed: Sniffed | undefined): ContentTypeDecision {
  const raw = declaredRaw?.trim() ?? "";
  if (raw.length > MAX_MEDIA_TYPE_LENGTH) {
    throw errors.badInput(`A media type can be at most ${MAX_MEDIA_TYPE_LENGTH} characters`, { declared: raw.slice(0, 100) });
  }
  const parsed = raw ? parseMediaType(raw) : null;
  if (raw && !parsed) throw errors.badInput(`"${raw.slice(0, 100)}" is not a media type (type/subtype)`, { declared: raw.slice(0, 100) });
  const declared = parsed ? { ...parsed, essence: canonical(parsed.essence) } : null;
  const claim = declared && !NO_CLAIM.has(declared.essence) ? declared : null;
  const detected = sniffed?.mime ?? null;
  const decision = (contentType: string): ContentTypeDecision => ({ contentType, declared: declared ? format(declared) : null, detected });

  if (!sniffed) return decision(claim ? format(claim) : DEFAULT_CONTENT_TYPE);
  if (!claim) return decision(sniffed.mime);
  if (sniffed.active) {
    if (isActiveContentType(claim.essence)) return decision(format(claim));
    throw new AppError("UNSUPPORTED_MEDIA_TYPE", `The content is ${sniffed.mime}, which cannot be stored as ${claim.essence}`, {
      declared: format(claim),
      detected: sniffed.mime,
    });
  }
  const sniffedEssence = mediaTypeEssence(sniffed.mime) ?? sniffed.mime;
  if (agrees(claim.essence, sniffedEssence)) return decision(format(claim));
  if (isCheckableClaim(claim.essence) && !refinesContainer(claim.essence, sniffedEssence)) {
    throw new AppError("UNSUPPORTED_MEDIA_TYPE", `The content is ${sniffed.mime}, not ${claim.essence} as declared`, {
      declared: format(claim),
      detected: sniffed.mime,
    });
  }
  return decision(sniffed.mime);
}

/** The disposition a download gets: active content is never inline. */
export function downloadDisposition(contentType: string, requested: "inline" | "attachment" = "attachment"): "inline" | "attachment" {
  return isActiveContentType(contentType) ? "attachment" : requested;
}

// ---------------------------------------------------------------------------
// The stream

/**
 * Pass-through stream that decides the content type from the first SNIFF_BYTES
 * bytes. It holds back only that head (plus the chunk that completes it) until
 * `decision` settles, then passes every byte through unchanged. When the type is
 * rejected the stream errors, so a blob store writing from it stores nothing.
 * `decision` also rejects when the stream is destroyed before deciding (an
 * upstream error such as the size limit), with that error.
 */
export class ContentTypeSniffer extends Transform {
  readonly decision: Promise<ContentTypeDecision>;
  private head: Buffer[] | null = [];
  private headBytes = 0;
  private settle!: { resolve(d: ContentTypeDecision): void; reject(e: Error): void };

  constructor(private readonly declaredType: string | null | undefined) {
    super();
    this.decision = new Promise<ContentTypeDecision>((resolve, reject) => (this.settle = { resolve, reject }));
    // Callers await `decision`; a rejection nobody awaits any more must not crash the process.
    this.decision.catch(() => {});
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (!this.head) return done(null, chunk);
    this.head.push(chunk);
    this.headBytes += chunk.length;
    if (this.headBytes < SNIFF_BYTES) return done();
    this.release(done);
  }

  override _flush(done: TransformCallback): void {
    if (this.head) this.release(done);
    else done();
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    this.settle.reject(error ?? new Error("The upload ended before its content type was decided"));
    done(error);
  }

  private release(done: TransformCallback): void {
    const head = Buffer.concat(this.head!);
    this.head = null;
    sniffContentType(head)
      .then((sniffed) => decideContentType(this.declaredType, sniffed))
      .then(
        (decision) => {
          this.settle.resolve(decision);
          done(null, head);
        },
        (e: Error) => {
          this.settle.reject(e);
          done(e);
        },
      );
  }
}
