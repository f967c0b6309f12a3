// Processing in GraphQL: Asset.processing, contentMetadata (typed per kind),
// thumbnail, placeholder, text, transcript; reprocessAsset; processingQueue;
// the assetProcessing subscription (decision 47).
import { encodeCursor } from "../../events/event-log.ts";
import { isStreamEnd, type StreamItem } from "../../events/event-stream.ts";
import type { EventOf } from "../../events/event-types.ts";
import { errors } from "../../errors.ts";
import { builder } from "../../graphql/builder.ts";
import type {
  AnalyzerMetadata,
  AudioMetadata,
  DocxMetadata,
  ImageMetadata,
  PdfMetadata,
  Placeholder,
  TextMetadata,
  TranscriptSegment,
  VideoMetadata,
} from "../../processing/index.ts";
import { presignLifetime } from "../../storage/blob-store.ts";
import { AssetRef } from "../asset/asset.graphql.ts";
import { overallStatus, type ProcessingStatus, sortSteps, type StepStatus } from "./processing.service.ts";
import { openAssetProcessingEvents } from "./processing-events.ts";

type StepShape = {
  name: string;
  kind: string;
  status: StepStatus;
  progress: number | null;
  error: string | null;
  errorCode: string | null;
  startedAt: Date | null;
  finishedAt: Date | null;
};

const StepStatusEnum = builder.enumType("ProcessingStepStatus", { values: ["QUEUED", "RUNNING", "DONE", "FAILED", "SKIPPED"] as const });
const ProcessingStatusEnum = builder.enumType("ProcessingStatus", {
  description: "One status for all steps: NONE (nothing to do), QUEUED or RUNNING while any step is, FAILED when any failed, else DONE.",
  values: ["NONE", "QUEUED", "RUNNING", "DONE", "FAILED"] as const,
});

const StepRef = builder.objectRef<StepShape>("ProcessingStep").implement({
  fields: (t) => ({
    name: t.exposeString("name", { description: "image, pdf, docx, text, audio, video or transcription." }),
    kind: t.exposeString("kind", { description: "Its worker pool: images, documents or media." }),
    status: t.field({ type: StepStatusEnum, resolve: (s) => s.status }),
    progress: t.float({ nullable: true, description: "0..1 while RUNNING, where it can be known.", resolve: (s) => s.progress }),
    error: t.string({ nullable: true, description: "FAILED: why. SKIPPED: why not.", resolve: (s) => s.error }),
    errorCode: t.string({
      nullable: true,
      description: "FAILED: CORRUPT, TOO_LARGE, TIMEOUT, ABORTED, UPSTREAM, TOOL_FAILED or INTERNAL.",
      resolve: (s) => s.errorCode,
    }),
    startedAt: t.field({ type: "DateTime", nullable: true, resolve: (s) => s.startedAt }),
    finishedAt: t.field({ type: "DateTime", nullable: true, resolve: (s) => s.finishedAt }),
  }),
});

type ProcessingShape = { status: ProcessingStatus; steps: StepShape[] };
const ProcessingRef = builder.objectRef<ProcessingShape>("AssetProcessing").implement({
  fields: (t) => ({
    status: t.field({ type: ProcessingStatusEnum, resolve: (p) => p.status }),
    steps: t.field({ type: [StepRef], resolve: (p) => p.steps }),
  }),
});

// ---------------------------------------------------------------------------
// Metadata, typed per kind

const GpsRef = builder.objectRef<{ latitude: number; longitude: number; altitude?: number }>("GpsPosition").implement({
  fields: (t) => ({
    latitude: t.exposeFloat("latitude"),
    longitude: t.exposeFloat("longitude"),
    altitude: t.float({ nullable: true, resolve: (g) => g.altitude ?? null }),
  }),
});

const ImageMetadataRef = builder.objectRef<ImageMetadata>("ImageMetadata").implement({
  description: "Width and height are as displayed (EXIF orientation applied).",
  fields: (t) => ({
    width: t.exposeInt("width"),
    height: t.exposeInt("height"),
    format: t.exposeString("format"),
    orientation: t.exposeInt("orientation", { description: "EXIF orientation 1-8 as stored." }),
    colorSpace: t.exposeString("colorSpace"),
    hasAlpha: t.exposeBoolean("hasAlpha"),
    cameraMake: t.string({ nullable: true, resolve: (m) => m.exif.make ?? null }),
    cameraModel: t.string({ nullable: true, resolve: (m) => m.exif.model ?? null }),
    lens: t.string({ nullable: true, resolve: (m) => m.exif.lens ?? null }),
    takenAt: t.string({
      nullable: true,
      description: "EXIF DateTimeOriginal, ISO 8601 without a zone (EXIF has none).",
      resolve: (m) => m.exif.takenAt ?? null,
    }),
    gps: t.field({ type: GpsRef, nullable: true, description: "Only when PROCESSING_STORE_GPS is on.", resolve: (m) => m.exif.gps ?? null }),
  }),
});

type DocumentShape = PdfMetadata | DocxMetadata | TextMetadata;
const DocumentFormatEnum = builder.enumType("DocumentFormat", { values: ["PDF", "DOCX", "TEXT"] as const });
const DocumentMetadataRef = builder.objectRef<DocumentShape>("DocumentMetadata").implement({
  fields: (t) => ({
    documentFormat: t.field({ type: DocumentFormatEnum, resolve: (m) => (m.analyzer === "pdf" ? "PDF" : m.analyzer === "docx" ? "DOCX" : "TEXT") }),
    pages: t.int({ nullable: true, resolve: (m) => (m.analyzer === "pdf" ? m.pages : null) }),
    title: t.string({ nullable: true, resolve: (m) => (m.analyzer === "pdf" ? (m.title ?? null) : null) }),
    author: t.string({ nullable: true, resolve: (m) => (m.analyzer === "pdf" ? (m.author ?? null) : null) }),
    encoding: t.string({ nullable: true, description: "Text files: the detected encoding.", resolve: (m) => (m.analyzer === "text" ? m.encoding : null) }),
    lines: t.int({ nullable: true, resolve: (m) => (m.analyzer === "text" ? m.lines : null) }),
    csvRows: t.int({ nullable: true, resolve: (m) => (m.analyzer === "text" ? (m.csv?.rows ?? null) : null) }),
    csvColumns: t.int({ nullable: true, resolve: (m) => (m.analyzer === "text" ? (m.csv?.columns ?? null) : null) }),
    jsonValid: t.boolean({ nullable: true, resolve: (m) => (m.analyzer === "text" ? (m.json?.valid ?? null) : null) }),
  }),
});

const AudioMetadataRef = builder.objectRef<AudioMetadata>("AudioMetadata").implement({
  fields: (t) => ({
    durationSeconds: t.exposeFloat("durationSeconds"),
    bitRate: t.int({ nullable: true, resolve: (m) => (m.bitRate === undefined ? null : Math.round(m.bitRate)) }),
    sampleRate: t.int({ nullable: true, resolve: (m) => m.sampleRate ?? null }),
    channels: t.int({ nullable: true, resolve: (m) => m.channels ?? null }),
    codec: t.string({ nullable: true, resolve: (m) => m.codec ?? null }),
    container: t.string({ nullable: true, resolve: (m) => m.container ?? null }),
    title: t.string({ nullable: true, resolve: (m) => m.tags.title ?? null }),
    artist: t.string({ nullable: true, resolve: (m) => m.tags.artist ?? null }),
    album: t.string({ nullable: true, resolve: (m) => m.tags.album ?? null }),
  }),
});

const VideoMetadataRef = builder.objectRef<VideoMetadata>("VideoMetadata").implement({
  description: "Width and height are as displayed (rotation applied).",
  fields: (t) => ({
    durationSeconds: t.exposeFloat("durationSeconds"),
    width: t.exposeInt("width"),
    height: t.exposeInt("height"),
    frameRate: t.float({ nullable: true, resolve: (m) => m.frameRate ?? null }),
    videoCodec: t.string({ nullable: true, resolve: (m) => m.videoCodec ?? null }),
    audioCodec: t.string({ nullable: true, resolve: (m) => m.audioCodec ?? null }),
    rotation: t.exposeInt("rotation"),
    container: t.string({ nullable: true, resolve: (m) => m.container ?? null }),
  }),
});

type ContentMetadata = ImageMetadata | DocumentShape | AudioMetadata | VideoMetadata;
const ContentMetadataRef = builder.unionType("AssetContentMetadata", {
  types: [ImageMetadataRef, DocumentMetadataRef, AudioMetadataRef, VideoMetadataRef],
  resolveType: (m: ContentMetadata) =>
    m.analyzer === "image" ? ImageMetadataRef : m.analyzer === "audio" ? AudioMetadataRef : m.analyzer === "video" ? VideoMetadataRef : DocumentMetadataRef,
});

/** Which step's metadata describes the file, most specific first. */
const METADATA_ORDER = ["image", "pdf", "docx", "text", "video", "audio"] as const;

type StepRow = StepShape & { output: unknown };
const stepOutput = (steps: readonly StepRow[], name: string) =>
  steps.find((s) => s.name === name && s.status === "DONE")?.output as { metadata?: AnalyzerMetadata; placeholder?: Placeholder } | undefined;

// ---------------------------------------------------------------------------
// Thumbnails, text, transcript

const ThumbnailRef = builder.objectRef<{ url: string; width: number; height: number; expiresAt: Date }>("Thumbnail").implement({
  description: "A WebP image, EXIF orientation applied and metadata stripped, served from the blob store through a time-limited URL.",
  fields: (t) => ({
    url: t.exposeString("url"),
    width: t.exposeInt("width"),
    height: t.exposeInt("height"),
    expiresAt: t.expose("expiresAt", { type: "DateTime" }),
  }),
});

const TextPageRef = builder.objectRef<{ text: string; totalChars: number; truncated: boolean; offset: number }>("AssetTextPage").implement({
  description: "A page of extracted text, by characters. `after` the `endCursor` reads on.",
  fields: (t) => ({
    text: t.exposeString("text"),
    totalChars: t.exposeInt("totalChars", { description: "Characters stored (at most 1 MiB of UTF-8)." }),
    truncated: t.exposeBoolean("truncated", { description: "The source had more text than is stored (the cap was reached)." }),
    endCursor: t.string({ resolve: (p) => String(p.offset + p.text.length) }),
    hasNextPage: t.boolean({ resolve: (p) => p.offset + p.text.length < p.totalChars }),
  }),
});

const SegmentRef = builder.objectRef<TranscriptSegment>("TranscriptSegment").implement({
  fields: (t) => ({ start: t.exposeFloat("start", { description: "Seconds." }), end: t.exposeFloat("end"), text: t.exposeString("text") }),
});
const TranscriptRef = builder.objectRef<{ text: string; language: string | null; truncated: boolean; segments: TranscriptSegment[] }>("Transcript").implement({
  fields: (t) => ({
    text: t.exposeString("text"),
    language: t.string({ nullable: true, resolve: (x) => x.language }),
    truncated: t.exposeBoolean("truncated"),
    segments: t.field({ type: [SegmentRef], resolve: (x) => x.segments }),
  }),
});

const MAX_TEXT_PAGE = 100_000;
const DERIVED_SELECT = { derived: { select: { key: true, role: true, metadata: true } } } as const;
const STEPS_SELECT = { processingSteps: { orderBy: { queuedAt: "asc" as const } } } as const;

builder.prismaObjectFields(AssetRef, (t) => ({
  processing: t.field({
    type: ProcessingRef,
    description: "What processing (thumbnails, metadata, text, transcription) did with the current bytes.",
    select: { blob: { select: STEPS_SELECT } },
    resolve: (e) => {
      const steps = sortSteps(e.blob?.processingSteps ?? []);
      return { status: overallStatus(steps), steps };
    },
  }),
  contentMetadata: t.field({
    type: ContentMetadataRef,
    nullable: true,
    description: "What processing found in the bytes, typed per kind (your own JSON stays in `metadata`). Null until a step is DONE.",
    select: { blob: { select: STEPS_SELECT } },
    resolve: (e) => {
      const steps = e.blob?.processingSteps ?? [];
      for (const name of METADATA_ORDER) {
        const m = stepOutput(steps, name)?.metadata;
        if (m) return m as ContentMetadata;
      }
      return null;
    },
  }),
  placeholder: t.string({
    nullable: true,
    description: "A thumbhash (base64) to show while the thumbnail loads.",
    select: { blob: { select: STEPS_SELECT } },
    resolve: (e) => {
      for (const s of e.blob?.processingSteps ?? []) {
        const p = stepOutput([s], s.name)?.placeholder;
        if (p) return p.base64;
      }
      return null;
    },
  }),
  thumbnail: t.field({
    type: ThumbnailRef,
    nullable: true,
    description: "The smallest thumbnail whose long edge is at least `size` (256 and 1024; posters and PDF pages 1568), else the largest.",
    args: { size: t.arg.int({ required: false, defaultValue: 256 }), expiresIn: t.arg.int({ required: false }) },
    select: { blob: { select: DERIVED_SELECT } },
    resolve: async (e, args, ctx) => {
      const images = (e.blob?.derived ?? [])
        .map((d) => ({ key: d.key, ...(d.metadata as { width: number; height: number }) }))
        .map((d) => ({ ...d, edge: Math.max(d.width, d.height) }))
        .sort((a, b) => a.edge - b.edge);
      if (images.length === 0) return null;
      const pick = images.find((i) => i.edge >= (args.size ?? 256)) ?? images[images.length - 1]!;
      const expiresInSeconds = presignLifetime(args.expiresIn, ctx.deps.config.presign);
      const url = await ctx.deps.blobStore.presignGet(pick.key, { expiresInSeconds, disposition: "inline", contentType: "image/webp" });
      return { url, width: pick.width, height: pick.height, expiresAt: new Date(Date.now() + expiresInSeconds * 1000) };
    },
  }),
  text: t.field({
    type: TextPageRef,
    nullable: true,
    description: "Extracted text (documents), `first` characters (default 10000, at most 100000) after the cursor `after`. Null when none was extracted.",
    args: { first: t.arg.int({ required: false, defaultValue: 10_000 }), after: t.arg.string({ required: false }) },
    select: { blob: { select: { id: true } } },
    resolve: async (e, args, ctx) => {
      if (!e.blob) return null;
      const first = args.first ?? 10_000;
      if (!Number.isInteger(first) || first < 1 || first > MAX_TEXT_PAGE) throw errors.badInput(`first must be 1..${MAX_TEXT_PAGE}`, { first });
      const after = args.after ?? "0";
      if (!/^[0-9]{1,9}$/.test(after)) throw errors.badInput("Not a text cursor", { after: after.slice(0, 64) });
      const offset = Number(after);
      const page = await ctx.deps.services.processing.textPage(e.blob.id, "text", offset, first);
      return page ? { text: page.text, totalChars: page.total, truncated: page.truncated, offset } : null;
    },
  }),
  transcript: t.field({
    type: TranscriptRef,
    nullable: true,
    description: "The transcript of audio and of videos' sound, when a transcription endpoint is configured (TRANSCRIPTION_URL).",
    select: { blob: { select: { texts: { where: { source: "transcript" } } } } },
    resolve: (e) => {
      const t = e.blob?.texts[0];
      return t ? { text: t.text, language: t.language, truncated: t.truncated, segments: (t.segments ?? []) as TranscriptSegment[] } : null;
    },
  }),
}));

builder.mutationFields((t) => ({
  reprocessAsset: t.prismaField({
    type: AssetRef,
    description: "Runs every processing step of the file's current bytes again (requires assets:update).",
    args: { id: t.arg.id({ description: "The asset's id." }) },
    resolve: async (query, _root, args, ctx) => {
      const entry = await ctx.deps.services.processing.reprocessAsset(await ctx.viewer(), args.id);
      return ctx.prisma.entry.findUniqueOrThrow({ ...query, where: { id: entry.id } });
    },
  }),
}));

type QueueKind = { kind: string; queued: number; running: number; failed: number; done: number; skipped: number };
const QueueKindRef = builder.objectRef<QueueKind>("ProcessingQueueKind").implement({
  description: "Processing steps of one worker pool in your organization, by state.",
  fields: (t) => ({
    kind: t.exposeString("kind", { description: "images, documents or media." }),
    queued: t.exposeInt("queued", { description: "Waiting for a worker: the queue's depth." }),
    running: t.exposeInt("running"),
    failed: t.exposeInt("failed", { description: "Ended FAILED (after their retries); `cli reprocess` runs them again." }),
    done: t.exposeInt("done"),
    skipped: t.exposeInt("skipped"),
  }),
});

builder.queryFields((t) => ({
  processingQueue: t.field({
    type: [QueueKindRef],
    description: "Processing queue depth and failures per worker pool (organization admins).",
    resolve: async (_root, _args, ctx) => ctx.deps.services.processing.queueStats(await ctx.viewer()),
  }),
}));

// ---------------------------------------------------------------------------
// assetProcessing

type ProcessingEvent = EventOf<"asset.processing">;

const AssetProcessingEventRef = builder.objectRef<ProcessingEvent>("AssetProcessingEvent").implement({
  description: "A processing step of an asset changed state (or progress).",
  fields: (t) => ({
    cursor: t.string({
      description: "This event's position in the log: pass it as `assetProcessing(after:)` to resume right after it.",
      resolve: (e) => encodeCursor(e.id),
    }),
    assetId: t.id({ resolve: (e) => e.subjectId }),
    blobId: t.id({ description: "The bytes processed (an overwrite processes new ones).", resolve: (e) => e.payload.blobId }),
    at: t.field({ type: "DateTime", resolve: (e) => e.createdAt }),
    step: t.field({
      type: StepRef,
      resolve: (e) => ({
        name: e.payload.step,
        kind: e.payload.kind,
        status: e.payload.status,
        progress: e.payload.progress,
        error: e.payload.error,
        errorCode: e.payload.errorCode,
        startedAt: e.payload.startedAt ? new Date(e.payload.startedAt) : null,
        finishedAt: e.payload.finishedAt ? new Date(e.payload.finishedAt) : null,
      }),
    }),
  }),
});

builder.subscriptionFields((t) => ({
  assetProcessing: t.field({
    type: AssetProcessingEventRef,
    description:
      "Every processing step change of an asset (requires assets:read), from the event log: it works whichever process runs the worker. " +
      "With `after` (an event's `cursor`): the stored events after it first, then live ones; CURSOR_EXPIRED when the log no longer reaches back that far.",
    args: { spaceId: t.arg.id(), assetId: t.arg.id(), after: t.arg.string({ required: false }) },
    subscribe: async (_root, args, ctx): Promise<AsyncIterable<StreamItem>> =>
      openAssetProcessingEvents({ prisma: ctx.prisma, events: ctx.deps.events }, await ctx.viewer(), args),
    resolve: (item: StreamItem) => {
      if (isStreamEnd(item)) throw item.end;
      return item as ProcessingEvent;
    },
  }),
}));
