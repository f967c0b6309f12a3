// The provider-neutral half of turn assembly (see model-input.ts): the input
// types, and `assemble`, which renders every message into neutral parts (text,
// image, PDF document) and decides everything that is the same for all providers
// (what is omitted, inlined, truncated, described). The format files only map
// those parts to their shapes. Rules and their reasons: docs/decisions.md 51.
import { errors } from "../../errors.ts";
import { type ImageProfile, modelImageSize } from "./image-size.ts";

export type ModelInputFormat = "OPENAI_CHAT" | "OPENAI_RESPONSES" | "ANTHROPIC_MESSAGES";
export type ImageDelivery = "URL" | "BASE64";
/** TEXT_AND_PAGES: extracted text plus rendered page images. NATIVE: the PDF itself as the provider's document/file part. */
export type PdfDelivery = "TEXT_AND_PAGES" | "NATIVE";

export type MessageRole = "USER" | "AGENT" | "SYSTEM";
export type MessageStatus = "COMPLETE" | "STREAMING" | "INTERRUPTED";
export type ProcessingStatus = "QUEUED" | "RUNNING" | "DONE" | "FAILED" | "SKIPPED";

/** A rendered PDF page that processing stored (a variant of the attachment's blob). */
export type PdfPageImage = { page: number; width: number; height: number };

export type InputAttachment = {
  /** Public id (att_…): the reference a model can quote back, e.g. to a tool. */
  id: string;
  filename: string;
  mimeType: string;
  size: number;
  /** The processing pipeline's state for this file (all steps together). */
  processing: { status: ProcessingStatus; error?: string };
  /** Extracted text (text/CSV/JSON as decoded, PDF and DOCX text); `truncated` when processing stopped at its own cap. */
  text?: { content: string; truncated: boolean };
  /** Displayed dimensions of an image (orientation applied). */
  image?: { width: number; height: number };
  pdf?: { pageCount: number; pageImages?: PdfPageImage[] };
  /** Past its retentionAt (or deleted): never handed to a model, even before the sweep ran. */
  retentionExpired: boolean;
};

export type InputMessage = {
  seq: number;
  role: MessageRole;
  authorName: string;
  text: string;
  deleted: boolean;
  status: MessageStatus;
  attachments: InputAttachment[];
};

/**
 * Which bytes of an attachment are wanted. IMAGE and PDF_PAGE carry the target size for the
 * provider (modelImageSize); when it equals the source size the original image may be served,
 * if its type is one of MODEL_IMAGE_TYPES (and, for OpenAI, not an animated GIF); otherwise the
 * caller re-encodes (processing/model-image.ts). ORIGINAL is the file as uploaded (a PDF given natively).
 */
export type AttachmentVariant =
  | { kind: "IMAGE"; profile: ImageProfile; width: number; height: number }
  | { kind: "PDF_PAGE"; page: number; profile: ImageProfile; width: number; height: number }
  | { kind: "ORIGINAL" };

/** Media types every provider takes for images (OpenAI: png, jpeg, webp, non-animated gif; Anthropic: the same four). */
export const MODEL_IMAGE_TYPES = ["image/png", "image/jpeg", "image/webp", "image/gif"] as const;
export type ModelImageType = (typeof MODEL_IMAGE_TYPES)[number];

/** What the caller provides: where bytes come from. Called at most MAX_CONCURRENT_FETCHES at a time. */
export interface AttachmentSource {
  /** A URL the provider can GET (a presigned URL that lives long enough for the request). */
  signedUrl(attachment: InputAttachment, variant: AttachmentVariant): Promise<string> | string;
  /** The variant's bytes for base64 delivery, with their media type (for images one of MODEL_IMAGE_TYPES). */
  readBytes(attachment: InputAttachment, variant: AttachmentVariant): Promise<{ data: Buffer; mimeType: string }>;
}

export type ModelInputOptions = {
  format: ModelInputFormat;
  /** The model takes images (and PDFs as pages). Without it images become a text line. */
  vision: boolean;
  imageDelivery: ImageDelivery;
  /** Extracted text of one attachment inlined up to this many UTF-8 bytes; more is cut (with a note). */
  maxInlineTextBytes?: number;
  /** Only messages with seq <= upToSeq (the turn being answered). */
  upToSeq?: number;
  /** How a PDF reaches a vision model. Default TEXT_AND_PAGES. */
  pdf?: PdfDelivery;
  /** Role of SYSTEM messages in the OpenAI formats. Default "system" (also understood by OpenAI-compatible servers). */
  openaiSystemRole?: "system" | "developer";
  /** Prefix user messages with "Name: ". Default: when more than one distinct author wrote USER messages. */
  authorLabels?: boolean;
};

export const DEFAULT_MAX_INLINE_TEXT_BYTES = 32 * 1024;
/** Rendered PDF pages given to a vision model per PDF (the pipeline renders page 1 today). */
export const MAX_PDF_PAGE_IMAGES = 5;
/** A PDF given natively must fit the providers' request limits (Anthropic: 32 MB a request, 100 pages for full visual reading). */
export const MAX_NATIVE_PDF_BYTES = 32 * 1024 * 1024;
export const MAX_NATIVE_PDF_PAGES = 100;
/** Callbacks in flight at once (signing is local, reading bytes is a store round trip). */
export const MAX_CONCURRENT_FETCHES = 4;

// ---- provider-neutral parts ----

export type NeutralImage = { kind: "image"; source: { url: string } | { base64: string; mimeType: ModelImageType } };
export type NeutralDocument = { kind: "document"; filename: string; source: { url: string } | { base64: string } };
export type NeutralPart = { kind: "text"; text: string } | NeutralImage | NeutralDocument;
export type NeutralMessage = { role: "user" | "assistant" | "system"; parts: NeutralPart[] };

/** What a format can take, so `assemble` asks only for deliverable bytes. */
export type FormatTraits = {
  profile: ImageProfile;
  /** The native PDF part takes a URL (Chat Completions' `file` part takes only base64 data). */
  documentUrl: boolean;
};

export const FORMAT_TRAITS: Record<ModelInputFormat, FormatTraits> = {
  OPENAI_CHAT: { profile: "OPENAI", documentUrl: false },
  OPENAI_RESPONSES: { profile: "OPENAI", documentUrl: true },
  ANTHROPIC_MESSAGES: { profile: "ANTHROPIC", documentUrl: true },
};

type Resolved = Required<Pick<ModelInputOptions, "vision" | "imageDelivery" | "maxInlineTextBytes" | "pdf">> & {
  traits: FormatTraits;
  labels: boolean;
};

/**
 * The messages up to `upToSeq` in seq order as neutral messages; messages with nothing left to say
 * are dropped. Roles: USER -> user, AGENT -> assistant, SYSTEM -> system.
 */
export async function assemble(messages: readonly InputMessage[], source: AttachmentSource, options: ModelInputOptions): Promise<NeutralMessage[]> {
  const maxInlineTextBytes = options.maxInlineTextBytes ?? DEFAULT_MAX_INLINE_TEXT_BYTES;
  if (!Number.isSafeInteger(maxInlineTextBytes) || maxInlineTextBytes < 0) {
    throw errors.badInput("maxInlineTextBytes must be a non-negative integer", { maxInlineTextBytes });
  }
  if (options.upToSeq !== undefined && !Number.isSafeInteger(options.upToSeq))
    throw errors.badInput("upToSeq must be an integer", { upToSeq: options.upToSeq });
  const kept = messages
    .filter((m) => !m.deleted && m.status !== "STREAMING" && (options.upToSeq === undefined || m.seq <= options.upToSeq))
    .sort((a, b) => a.seq - b.seq);
  const userAuthors = new Set(kept.filter((m) => m.role === "USER").map((m) => m.authorName));
  const resolved: Resolved = {
    vision: options.vision,
    imageDelivery: options.imageDelivery,
    maxInlineTextBytes,
    pdf: options.pdf ?? "TEXT_AND_PAGES",
    traits: FORMAT_TRAITS[options.format],
    labels: options.authorLabels ?? userAuthors.size > 1,
  };
  const limited = limitConcurrency(source, MAX_CONCURRENT_FETCHES);
  const rendered = await Promise.all(kept.map((m) => renderMessage(m, limited, resolved)));
  return rendered.filter((m) => m.parts.length > 0);
}

async function renderMessage(message: InputMessage, source: AttachmentSource, o: Resolved): Promise<NeutralMessage> {
  const role = message.role === "USER" ? "user" : message.role === "AGENT" ? "assistant" : "system";
  const parts: NeutralPart[] = [];
  let text = message.text.trimEnd();
  if (message.status === "INTERRUPTED") text = `${text}${text ? "\n\n" : ""}[This message was interrupted before it was finished.]`;
  if (o.labels && role === "user") text = text ? `${message.authorName}: ${text}` : `${message.authorName}:`;
  if (text) parts.push({ kind: "text", text });
  // Only user turns take images and documents in every format; elsewhere attachments are text.
  const rich = role === "user";
  const attachmentParts = await Promise.all(message.attachments.filter((a) => !a.retentionExpired).map((a) => renderAttachment(a, source, o, rich)));
  for (const ps of attachmentParts) parts.push(...ps);
  return { role, parts: mergeText(parts) };
}

async function renderAttachment(a: InputAttachment, source: AttachmentSource, o: Resolved, rich: boolean): Promise<NeutralPart[]> {
  const mime = baseType(a.mimeType);
  if (mime.startsWith("image/") && (a.image || !a.text)) return renderImage(a, source, o, rich);
  if (mime === "application/pdf") return renderPdf(a, source, o, rich);
  if (a.text) return [{ kind: "text", text: inlineText(a, o.maxInlineTextBytes) }];
  return [{ kind: "text", text: reference(a, notIncludedReason(a)) }];
}

async function renderImage(a: InputAttachment, source: AttachmentSource, o: Resolved, rich: boolean): Promise<NeutralPart[]> {
  if (!a.image) return [{ kind: "text", text: reference(a, notIncludedReason(a), "Image attachment") }];
  if (!o.vision) return [{ kind: "text", text: reference(a, "not shown: this model does not take images", "Image attachment") }];
  if (!rich) return [{ kind: "text", text: reference(a, undefined, "Image attachment") }];
  const target = modelImageSize(o.traits.profile, a.image);
  const variant: AttachmentVariant = { kind: "IMAGE", profile: o.traits.profile, ...target };
  return [{ kind: "text", text: reference(a, undefined, "Image attachment") }, await imagePart(a, variant, source, o)];
}

async function renderPdf(a: InputAttachment, source: AttachmentSource, o: Resolved, rich: boolean): Promise<NeutralPart[]> {
  const pages = a.pdf?.pageCount;
  if (
    rich &&
    o.vision &&
    o.pdf === "NATIVE" &&
    a.size <= MAX_NATIVE_PDF_BYTES &&
    (pages ?? 0) <= MAX_NATIVE_PDF_PAGES &&
    a.processing.status !== "FAILED" // a PDF processing could not read is not handed on whole
  ) {
    const variant: AttachmentVariant = { kind: "ORIGINAL" };
    const src =
      o.imageDelivery === "URL" && o.traits.documentUrl
        ? { url: await source.signedUrl(a, variant) }
        : { base64: (await readChecked(source, a, variant, ["application/pdf"])).data };
    return [
      { kind: "text", text: reference(a, undefined, "PDF attachment") },
      { kind: "document", filename: a.filename, source: src },
    ];
  }
  const noText = processingNote(a) ?? "no text could be extracted (a scan?)";
  const parts: NeutralPart[] = [{ kind: "text", text: a.text ? inlineText(a, o.maxInlineTextBytes) : reference(a, noText, "PDF attachment") }];
  if (!(rich && o.vision)) return parts;
  const images = [...(a.pdf?.pageImages ?? [])].sort((x, y) => x.page - y.page).slice(0, MAX_PDF_PAGE_IMAGES);
  const rendered = await Promise.all(
    images.map(async (p): Promise<NeutralPart[]> => {
      const target = modelImageSize(o.traits.profile, p);
      const variant: AttachmentVariant = { kind: "PDF_PAGE", page: p.page, profile: o.traits.profile, ...target };
      const of = pages ? ` of ${pages}` : "";
      return [{ kind: "text", text: `[${oneLine(a.filename)}, page ${p.page}${of}, as an image:]` }, await imagePart(a, variant, source, o)];
    }),
  );
  for (const ps of rendered) parts.push(...ps);
  return parts;
}

async function imagePart(a: InputAttachment, variant: AttachmentVariant, source: AttachmentSource, o: Resolved): Promise<NeutralImage> {
  if (o.imageDelivery === "URL") return { kind: "image", source: { url: await source.signedUrl(a, variant) } };
  const bytes = await readChecked(source, a, variant, MODEL_IMAGE_TYPES);
  return { kind: "image", source: { base64: bytes.data, mimeType: bytes.mimeType as ModelImageType } };
}

async function readChecked(source: AttachmentSource, a: InputAttachment, variant: AttachmentVariant, types: readonly string[]) {
  const { data, mimeType } = await source.readBytes(a, variant);
  const type = baseType(mimeType);
  // A contract violation of the caller, not bad user input: a provider would refuse the request.
  if (!types.includes(type)) throw new TypeError(`readBytes(${a.id}, ${variant.kind}) returned ${mimeType}; expected one of ${types.join(", ")}`);
  return { data: data.toString("base64"), mimeType: type };
}

// ---- text ----

/** The attachment's extracted text in an <attachment> element, cut at `max` bytes on a character boundary. */
export function inlineText(a: InputAttachment, max: number): string {
  const content = a.text?.content ?? "";
  const bytes = Buffer.byteLength(content);
  const cut = bytes > max ? utf8Prefix(content, max) : content;
  const attrs = attachmentAttrs(a);
  const notes: string[] = [];
  if (bytes > max) {
    notes.push(
      `[Truncated: the first ${formatBytes(Buffer.byteLength(cut))} of ${formatBytes(bytes)} of extracted text are shown. The whole file is attachment ${a.id}.]`,
    );
  } else if (a.text?.truncated) {
    notes.push(`[Truncated: text extraction stopped at ${formatBytes(bytes)}; the file has more. The whole file is attachment ${a.id}.]`);
  }
  const status = processingNote(a);
  if (status) notes.push(`[${status}]`);
  // A file's text cannot close its own element early (and pose as text outside it).
  const safe = cut.replace(/<\/(attachment)/gi, "<\\/$1");
  const body = [safe, ...notes].filter((s) => s !== "").join("\n");
  return `<attachment ${attrs}${bytes > max || a.text?.truncated ? ' truncated="true"' : ""}>\n${body}\n</attachment>`;
}

/** The longest prefix of `s` of at most `max` UTF-8 bytes that ends on a character boundary. */
export function utf8Prefix(s: string, max: number): string {
  const buf = Buffer.from(s, "utf8");
  if (buf.length <= max) return s;
  let end = max;
  // Back up over continuation bytes (10xxxxxx) so the cut never splits a character.
  while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--;
  return buf.subarray(0, end).toString("utf8");
}

function attachmentAttrs(a: InputAttachment): string {
  const attrs: [string, string][] = [
    ["id", a.id],
    ["filename", a.filename],
    ["type", baseType(a.mimeType)],
    ["size", formatBytes(a.size)],
  ];
  if (a.pdf) attrs.push(["pages", String(a.pdf.pageCount)]);
  return attrs.map(([k, v]) => `${k}="${escapeAttr(v)}"`).join(" ");
}

/** `[Label att_x: name (type, size, details); note]` */
function reference(a: InputAttachment, note?: string, label = "Attachment"): string {
  const details = [baseType(a.mimeType), formatBytes(a.size)];
  if (a.image) details.push(`${a.image.width}x${a.image.height} px`);
  if (a.pdf) details.push(`${a.pdf.pageCount} page${a.pdf.pageCount === 1 ? "" : "s"}`);
  return `[${label} ${a.id}: ${oneLine(a.filename)} (${details.join(", ")})${note ? `; ${note}` : ""}]`;
}

/** Why nothing of a file's content is included. */
function notIncludedReason(a: InputAttachment): string {
  return processingNote(a) ?? "not included: no content of this file type is given to the model";
}

function processingNote(a: InputAttachment): string | undefined {
  switch (a.processing.status) {
    case "QUEUED":
    case "RUNNING":
      return "still being processed; its content is not available yet";
    case "FAILED":
      return `processing failed${a.processing.error ? `: ${a.processing.error}` : ""}; its content is not available`;
    default:
      return undefined;
  }
}

/** Adjacent text parts become one (joined by a blank line): fewer parts, same reading. */
function mergeText(parts: NeutralPart[]): NeutralPart[] {
  const out: NeutralPart[] = [];
  for (const p of parts) {
    const last = out.at(-1);
    if (p.kind === "text" && last?.kind === "text") out[out.length - 1] = { kind: "text", text: `${last.text}\n\n${p.text}` };
    else out.push(p);
  }
  return out;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

/** Names arrive as users typed them: a line break in one must not start a line of its own in the prompt. */
const oneLine = (s: string) => s.replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, " ");
const baseType = (mime: string) => mime.split(";")[0]!.trim().toLowerCase();
const escapeAttr = (s: string) => oneLine(s).replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");

function limitConcurrency(source: AttachmentSource, limit: number): AttachmentSource {
  let active = 0;
  const waiting: (() => void)[] = [];
  const run = async <T>(fn: () => Promise<T> | T): Promise<T> => {
    // A finished call hands its slot straight to the next waiter, so a newcomer cannot slip in between.
    if (active < limit) active++;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
  return {
    signedUrl: (a, v) => run(() => source.signedUrl(a, v)),
    readBytes: (a, v) => run(() => source.readBytes(a, v)),
  };
}
