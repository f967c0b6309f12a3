// The analyzer contract. An analyzer reads one blob's bytes from a local file
// (the pipeline downloads the blob once to a temp file; sharp, pdf.js, ffmpeg and
// ffprobe all read files, so no input is ever buffered whole by us) and returns
// what it found: metadata typed per analyzer, derived files it wrote into its own
// temp directory, extracted text, a transcript, a placeholder. It never touches
// the database, the blob store or the event log: runner.ts reports step states
// through a callback and the caller stores and publishes them.
import type { Readable } from "node:stream";

/** Which worker pool runs an analyzer (per-kind concurrency lives in the pipeline). */
export type AnalyzerKind = "images" | "documents" | "media";

/** What an analyzer may look at to decide whether it applies: never the bytes. */
export type BlobFacts = { contentType: string; size: number };

/** Bounds every analyzer honours. Defaults in DEFAULT_LIMITS. */
export type AnalyzerLimits = {
  /** width x height an image (or rendered page) may declare; above it the step FAILS. sharp's default. */
  maxInputPixels: number;
  /** Extracted text is cut at this many UTF-8 bytes (at a character boundary) and marked `truncated`. */
  maxTextBytes: number;
  /** JSON documents up to this size are parsed to check validity; larger ones report `valid: null`. */
  maxJsonValidateBytes: number;
  /** DOCX: the zip's declared uncompressed size (all entries) may not exceed this (zip bombs). */
  maxUnzippedBytes: number;
};

export const DEFAULT_LIMITS: AnalyzerLimits = Object.freeze({
  maxInputPixels: 268_402_689, // 0x3FFF * 0x3FFF, sharp's own default
  maxTextBytes: 1024 * 1024,
  maxJsonValidateBytes: 16 * 1024 * 1024,
  maxUnzippedBytes: 256 * 1024 * 1024,
});

/** A file an analyzer wrote (a thumbnail, a poster, a page image). The caller stores it and deletes the temp file. */
export type DerivedFile = {
  /** "thumbnail:256", "thumbnail:1024", "poster", "page:1" */
  role: string;
  path: string;
  contentType: string;
  size: number;
  width: number;
  height: number;
};

export type ExtractedText = {
  text: string;
  /** True when the source had more text than `maxTextBytes`. */
  truncated: boolean;
  /** UTF-8 bytes of `text`. */
  bytes: number;
};

/** A tiny image stand-in shown while the real thumbnail loads. */
export type Placeholder = { kind: "thumbhash"; base64: string };

export type TranscriptSegment = { start: number; end: number; text: string };
export type Transcript = { text: string; language?: string; segments: TranscriptSegment[] };

/** Metadata per analyzer: `analyzer` is the discriminant. */
export type ImageMetadata = {
  analyzer: "image";
  /** Displayed dimensions: EXIF orientation applied (5-8 swap width and height), like the thumbnails. */
  width: number;
  height: number;
  format: string;
  /** EXIF orientation 1-8 as stored (1 when absent). */
  orientation: number;
  colorSpace: string;
  hasAlpha: boolean;
  exif: ExifFields;
};

export type ExifFields = {
  make?: string;
  model?: string;
  lens?: string;
  /** ISO 8601 without zone: EXIF DateTimeOriginal carries none. */
  takenAt?: string;
  /** Only with `storeGps`; decimal degrees, south/west negative. */
  gps?: { latitude: number; longitude: number; altitude?: number };
};

export type PdfMetadata = { analyzer: "pdf"; pages: number; title?: string; author?: string };
export type DocxMetadata = { analyzer: "docx" };
export type TextMetadata = {
  analyzer: "text";
  encoding: "utf-8" | "utf-16le" | "utf-16be" | "latin1";
  /** Lines in the whole file (not just the kept text). */
  lines: number;
  csv?: { rows: number; columns: number };
  json?: { valid: boolean | null };
};
export type AudioMetadata = {
  analyzer: "audio";
  durationSeconds: number;
  bitRate?: number;
  sampleRate?: number;
  channels?: number;
  codec?: string;
  container?: string;
  tags: { title?: string; artist?: string; album?: string };
};
export type VideoMetadata = {
  analyzer: "video";
  durationSeconds: number;
  /** Displayed dimensions (rotation applied), like the poster. */
  width: number;
  height: number;
  frameRate?: number;
  videoCodec?: string;
  audioCodec?: string;
  /** Degrees clockwise the player rotates the stored frames (0, 90, 180, 270). */
  rotation: number;
  container?: string;
};
export type TranscriptionMetadata = { analyzer: "transcription"; chunks: number; durationSeconds: number; model: string };

export type AnalyzerMetadata = ImageMetadata | PdfMetadata | DocxMetadata | TextMetadata | AudioMetadata | VideoMetadata | TranscriptionMetadata;

/** What a successful step produced. */
export type AnalyzerOutput<M extends AnalyzerMetadata = AnalyzerMetadata> = {
  metadata: M;
  files: DerivedFile[];
  text?: ExtractedText;
  transcript?: Transcript;
  placeholder?: Placeholder;
};

export type AnalyzerContext = {
  blob: BlobFacts;
  /** The whole input as a local file. Read-only: other steps read it too. */
  inputPath: string;
  /** A fresh stream over the input, for analyzers that read sequentially. */
  openInput(): Readable;
  /** A directory of this step's own, for derived files. The runner removes it when the step fails. */
  workDir: string;
  limits: AnalyzerLimits;
  /** Aborted on the step's timeout or when the caller gives up: stop, kill children. */
  signal: AbortSignal;
  /** Fraction done, 0..1. Cheap to call often: the runner reports at most every percent. */
  progress(fraction: number): void;
};

export type Analyzer<M extends AnalyzerMetadata = AnalyzerMetadata> = {
  name: M["analyzer"];
  kind: AnalyzerKind;
  /** Wall-clock budget of one run; the runner aborts and FAILS the step after it. */
  timeoutMs: number;
  accepts(blob: BlobFacts): boolean;
  /** Throws AnalyzerError for bad input, StepSkipped when it does not apply after all. */
  analyze(ctx: AnalyzerContext): Promise<AnalyzerOutput<M>>;
};

/** Why a step failed, closed so the pipeline can decide about retries and show a stable reason. */
export type AnalyzerErrorCode =
  | "CORRUPT" // the bytes are not what the type says, or a decoder rejected them
  | "TOO_LARGE" // over a limit (pixels, unzipped size)
  | "TIMEOUT"
  | "ABORTED"
  | "UPSTREAM" // a remote service (transcription) refused or failed
  | "TOOL_FAILED" // ffmpeg/ffprobe could not run
  | "INTERNAL";

export class AnalyzerError extends Error {
  readonly code: AnalyzerErrorCode;
  /** True when running the step again later may succeed (timeouts of remote calls, 5xx, 429). */
  readonly retryable: boolean;

  constructor(code: AnalyzerErrorCode, message: string, options?: { retryable?: boolean; cause?: unknown }) {
    super(message, { cause: options?.cause });
    this.name = "AnalyzerError";
    this.code = code;
    this.retryable = options?.retryable ?? false;
  }
}

/** Thrown by an analyzer that accepted a blob but has nothing to do (no audio track, not configured). */
export class StepSkipped extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = "StepSkipped";
  }
}

/** Wraps a decoder's own error as CORRUPT, keeping AnalyzerError/StepSkipped and aborts as they are. */
export function asCorrupt(e: unknown, what: string): Error {
  if (e instanceof AnalyzerError || e instanceof StepSkipped) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new AnalyzerError("CORRUPT", `${what}: ${message}`, { cause: e });
}

export const isMime = (contentType: string, ...types: string[]) => types.includes(contentType.split(";")[0]!.trim().toLowerCase());
