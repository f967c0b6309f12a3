// File processing (decision 47): the pipeline around the analyzers of
// src/processing/. The blob lifecycle calls enqueue() in the transaction that
// makes a blob READY: one QUEUED row per accepting analyzer, an
// `asset.processing` event for each, and one `blob.analyze.<kind>` job per
// worker pool, all committed with the bytes. analyze() (the jobs' handler)
// downloads the blob once to a temp file, runs its pool's unfinished steps and
// stores every state change (row + event, one transaction). Outputs:
// thumbnails and posters as DERIVED blobs of the source (blob.service.ts
// storeDerived), extracted text and transcripts in blob_texts (capped), metadata
// and placeholder in the step's `output`. A job that runs again only runs the
// steps that are not DONE or SKIPPED, and a DONE step made again replaces its
// outputs: running twice does no harm.
import { createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { requireEntry } from "../../access/entry-access.ts";
import { requireOrgAdmin } from "../../access/space-access.ts";
import type { Viewer } from "../../access/viewer.ts";
import type { PrismaClient, Tx } from "../../db/prisma.ts";
import { errors } from "../../errors.ts";
import { recordEvent, transactionWithEvents } from "../../events/event-log.ts";
import type { ProcessingStepFacts } from "../../events/event-types.ts";
import type { Blob, ProcessingStep } from "../../generated/prisma/client.ts";
import type { JobQueue } from "../../jobs/queue.ts";
import {
  type Analyzer,
  type AnalyzerKind,
  type AnalyzerLimits,
  type AnalyzerOutput,
  acceptingAnalyzers,
  DEFAULT_LIMITS,
  runAnalyzers,
  type StepEvent,
} from "../../processing/index.ts";
import type { BlobStore } from "../../storage/blob-store.ts";
import type { BlobService } from "../blob/blob.service.ts";

export type ProcessingService = ReturnType<typeof createProcessingService>;

export const ANALYZER_KINDS = ["images", "documents", "media"] as const satisfies readonly AnalyzerKind[];

/** The job of each worker pool (one queue each, so each pool has its own concurrency). */
export const analyzeJobName = (kind: AnalyzerKind) => `blob.analyze.${kind}` as const;

/** Transcripts are capped like extracted text; their segment list too. */
export const MAX_TRANSCRIPT_SEGMENTS = 20_000;

/** A RUNNING step's progress is recorded (row + event) when it moved this much since the last record, */
const PROGRESS_STEP = 0.1;
/** and at least this long after it. */
const PROGRESS_INTERVAL_MS = 250;

export type StepStatus = ProcessingStep["status"];
export type ProcessingStatus = "NONE" | "QUEUED" | "RUNNING" | "DONE" | "FAILED";

/** Steps are shown in the order they run: the analyzer registry's (src/processing/registry.ts). */
const STEP_ORDER = ["image", "pdf", "docx", "text", "audio", "video", "transcription"];
export const sortSteps = <S extends { name: string }>(steps: readonly S[]): S[] =>
  [...steps].sort((a, b) => STEP_ORDER.indexOf(a.name) - STEP_ORDER.indexOf(b.name) || a.name.localeCompare(b.name));

/** One status for a blob's steps: NONE without steps; RUNNING/QUEUED while any is; FAILED when any failed; else DONE. */
export function overallStatus(steps: readonly { status: StepStatus }[]): ProcessingStatus {
  if (steps.length === 0) return "NONE";
  if (steps.some((s) => s.status === "RUNNING")) return "RUNNING";
  if (steps.some((s) => s.status === "QUEUED")) return "QUEUED";
  if (steps.some((s) => s.status === "FAILED")) return "FAILED";
  return "DONE";
}

const facts = (step: ProcessingStep): ProcessingStepFacts => ({
  blobId: step.blobId,
  step: step.name,
  kind: step.kind,
  status: step.status,
  progress: step.progress,
  error: step.error,
  errorCode: step.errorCode,
  startedAt: step.startedAt?.toISOString() ?? null,
  finishedAt: step.finishedAt?.toISOString() ?? null,
});

export function createProcessingService(deps: {
  prisma: PrismaClient;
  blobStore: BlobStore;
  blobs: Pick<BlobService, "storeDerived">;
  queue: JobQueue;
  registry: readonly Analyzer[];
  limits?: Partial<AnalyzerLimits>;
  /** Per-analyzer timeouts (ms) overriding the analyzers' own. */
  timeouts?: Partial<Record<string, number>>;
}) {
  const { prisma, blobStore, queue, registry } = deps;
  const limits: AnalyzerLimits = { ...DEFAULT_LIMITS, ...deps.limits };

  /**
   * The asset an event is about: the FILE entry pointing at the blob, else the blob itself; null
   * when the blob is gone. Locks the blob row (FOR SHARE) first, so a step's transaction and a
   * delete of the blob (an overwrite, a deleted file: the row, then its steps and texts by
   * cascade) take their locks in the same order and never deadlock; a step of a deleted blob
   * then finds nothing and records nothing.
   */
  async function subjectOf(tx: Tx, blobId: string): Promise<{ spaceId: string; subjectId: string } | null> {
    const [row] = await tx.$queryRaw<{ space_id: string; entry_id: string | null }[]>`
      SELECT b.space_id, (SELECT e.id FROM entries e WHERE e.blob_id = b.id) AS entry_id
        FROM blobs b WHERE b.id = ${blobId} FOR SHARE OF b`;
    return row ? { spaceId: row.space_id, subjectId: row.entry_id ?? blobId } : null;
  }

  function record(tx: Tx, subject: { spaceId: string; subjectId: string }, step: ProcessingStep): void {
    recordEvent(tx, { type: "asset.processing", spaceId: subject.spaceId, subjectId: subject.subjectId, payload: facts(step) });
  }

  /**
   * In the transaction that made `blob` READY (or reprocesses it): every accepting step QUEUED
   * (a step that existed starts over), recorded, and one job per pool enqueued in `tx`.
   * Returns the steps' names.
   */
  async function enqueue(tx: Tx, blob: Pick<Blob, "id" | "contentType" | "size">, only?: readonly string[]): Promise<string[]> {
    const steps = acceptingAnalyzers(registry, { contentType: blob.contentType, size: Number(blob.size) }).filter((a) => !only || only.includes(a.name));
    if (steps.length === 0) return [];
    const subject = await subjectOf(tx, blob.id);
    if (!subject) return [];
    const now = new Date();
    for (const a of steps) {
      const reset = { kind: a.kind, status: "QUEUED" as const, progress: null, error: null, errorCode: null, queuedAt: now, startedAt: null, finishedAt: null };
      const row = await tx.processingStep.upsert({
        where: { blobId_name: { blobId: blob.id, name: a.name } },
        create: { blobId: blob.id, name: a.name, ...reset },
        update: reset,
      });
      record(tx, subject, row);
    }
    for (const kind of new Set(steps.map((a) => a.kind))) await queue.send(analyzeJobName(kind), { blobId: blob.id }, { tx });
    return steps.map((a) => a.name);
  }

  /** Updates one step and records it, in one transaction; null when the blob (or step) is gone. */
  type StepUpdate = Partial<Omit<ProcessingStep, "attempts" | "output">> & { attempts?: { increment: number }; output?: never };
  async function updateStep(blobId: string, name: string, data: StepUpdate, within?: (tx: Tx) => Promise<void>) {
    return transactionWithEvents(prisma, async (tx) => {
      const subject = await subjectOf(tx, blobId);
      if (!subject) return null;
      await within?.(tx);
      const [row] = await tx.processingStep.updateManyAndReturn({ where: { blobId, name }, data: data as never });
      if (!row) return null;
      record(tx, subject, row);
      return row;
    });
  }

  /** Stores what a DONE step produced: derived blobs, text, transcript; the row's output; the event. */
  async function storeOutput(blob: Blob, step: string, output: AnalyzerOutput): Promise<void> {
    const done = async (tx: Tx) => {
      const text = output.text;
      if (text) {
        const data = { text: text.text, bytes: text.bytes, truncated: text.truncated };
        await tx.blobText.upsert({
          where: { blobId_source: { blobId: blob.id, source: "text" } },
          create: { blobId: blob.id, source: "text", ...data },
          update: data,
        });
      }
      const t = output.transcript;
      if (t) {
        const capped = capText(t.text, limits.maxTextBytes);
        const segments = t.segments.slice(0, MAX_TRANSCRIPT_SEGMENTS);
        const data = {
          ...capped,
          truncated: capped.truncated || segments.length < t.segments.length,
          language: t.language ?? null,
          segments: segments as never,
        };
        await tx.blobText.upsert({
          where: { blobId_source: { blobId: blob.id, source: "transcript" } },
          create: { blobId: blob.id, source: "transcript", ...data },
          update: data,
        });
      }
    };
    const finished = {
      status: "DONE" as const,
      progress: 1,
      error: null,
      errorCode: null,
      finishedAt: new Date(),
      output: { metadata: output.metadata, ...(output.placeholder ? { placeholder: output.placeholder } : {}) } as never,
    };
    if (output.files.length) {
      // The files and the DONE commit together: a subscriber seeing DONE finds the thumbnails.
      await deps.blobs.storeDerived(blob, output.files, async (tx) => {
        await done(tx);
        const subject = await subjectOf(tx, blob.id);
        const [row] = await tx.processingStep.updateManyAndReturn({ where: { blobId: blob.id, name: step }, data: finished });
        if (subject && row) record(tx, subject, row);
      });
    } else {
      await updateStep(blob.id, step, finished, done);
    }
  }

  /**
   * The handler of `blob.analyze.<kind>`: runs that pool's steps of the blob that are not DONE
   * or SKIPPED. Throws (so the job is retried, with backoff, then dead-lettered) when a step
   * failed in a way that may pass (a timeout of the transcription endpoint, a store outage).
   */
  async function analyze(blobId: string, kind: AnalyzerKind, signal?: AbortSignal): Promise<{ ran: string[]; failed: string[] }> {
    const blob = await prisma.blob.findUnique({ where: { id: blobId }, include: { processingSteps: true } });
    if (blob?.status !== "READY") return { ran: [], failed: [] };
    const open = new Map(blob.processingSteps.filter((s) => s.kind === kind && s.status !== "DONE" && s.status !== "SKIPPED").map((s) => [s.name, s]));
    const analyzers = registry.filter((a) => open.has(a.name));
    if (analyzers.length === 0) return { ran: [], failed: [] };

    const dir = await mkdtemp(path.join(os.tmpdir(), "cabinet-analyze-"));
    const recorded = new Map<string, number>();
    const recordedAt = new Map<string, number>();
    let retry: string | undefined;
    const failed: string[] = [];
    try {
      const inputPath = path.join(dir, "input");
      await pipeline(await blobStore.getStream(blob.key), createWriteStream(inputPath));
      // Writes go one after another, in the order of the events. RUNNING and progress are not waited
      // for (the decode overlaps their transaction); a step's end waits for everything before it,
      // and a failed write fails it there (the job is retried).
      let writes: Promise<unknown> = Promise.resolve();
      const write = (fn: () => Promise<unknown>) => {
        writes = writes.then(fn);
        writes.catch(() => {});
        return writes;
      };
      const onStep = async (e: StepEvent) => {
        switch (e.state) {
          case "QUEUED":
            // Already QUEUED since enqueue(); a retry after a failure starts over.
            if (open.get(e.step)?.status !== "QUEUED")
              await write(() =>
                updateStep(blobId, e.step, { status: "QUEUED", progress: null, error: null, errorCode: null, startedAt: null, finishedAt: null }),
              );
            return;
          case "RUNNING": {
            const p = e.progress ?? 0;
            if (p === 0) {
              recorded.set(e.step, 0);
              recordedAt.set(e.step, performance.now());
              void write(() => updateStep(blobId, e.step, { status: "RUNNING", progress: 0, startedAt: new Date(), attempts: { increment: 1 } }));
              return;
            }
            // DONE follows 1 at once; small moves and quick steps are not worth a transaction each.
            const last = recorded.get(e.step) ?? 0;
            const lastAt = recordedAt.get(e.step) ?? 0;
            if (p >= 1 || p - last < PROGRESS_STEP || performance.now() - lastAt < PROGRESS_INTERVAL_MS) return;
            recorded.set(e.step, p);
            recordedAt.set(e.step, performance.now());
            void write(() => updateStep(blobId, e.step, { progress: p }));
            return;
          }
          case "DONE":
            await write(() => storeOutput(blob, e.step, e.output!));
            return;
          case "SKIPPED":
            await write(() => updateStep(blobId, e.step, { status: "SKIPPED", progress: null, error: e.reason ?? null, finishedAt: new Date() }));
            return;
          case "FAILED":
            failed.push(e.step);
            if (e.retryable) retry ??= `${e.step}: ${e.reason}`;
            await write(() => updateStep(blobId, e.step, { status: "FAILED", error: e.reason ?? "failed", errorCode: e.code ?? null, finishedAt: new Date() }));
            return;
        }
      };
      await runAnalyzers(
        { contentType: blob.contentType, size: Number(blob.size) },
        { inputPath, workDir: path.join(dir, "work"), limits, timeouts: deps.timeouts, signal, onStep },
        analyzers,
      );
      await writes;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    if (retry) throw new Error(`processing step failed and may pass on a retry: ${retry}`);
    return { ran: analyzers.map((a) => a.name), failed };
  }

  /** reprocessAsset: every step of the file's current bytes starts over (assets:update). */
  async function reprocessAsset(viewer: Viewer, entryId: string) {
    const entry = await requireEntry(prisma, viewer, entryId, "assets:update");
    if (entry.kind !== "FILE") throw errors.pathIsDirectory(entry.name);
    await transactionWithEvents(prisma, async (tx) => {
      const [row] = await tx.$queryRaw<{ blob_id: string | null }[]>`SELECT blob_id FROM entries WHERE id = ${entry.id} FOR UPDATE`;
      if (!row?.blob_id) throw errors.uploadIncomplete("The file has no content yet");
      const blob = await tx.blob.findUniqueOrThrow({ where: { id: row.blob_id } });
      if (blob.status === "READY") await enqueue(tx, blob);
    });
    return entry;
  }

  /**
   * Backfill (`cli reprocess`): READY file blobs without steps (uploaded before processing
   * existed) and, unless `missingOnly`, those with a FAILED step (only those steps start over).
   */
  async function backfill(options: { missingOnly?: boolean; spaceId?: string; batch?: number } = {}): Promise<{ missing: number; failed: number }> {
    const result = { missing: 0, failed: 0 };
    const batch = options.batch ?? 500;
    const space = options.spaceId ?? null;
    let after = "";
    for (;;) {
      const rows = await prisma.$queryRaw<{ id: string; failed: string[] | null; has_steps: boolean }[]>`
        SELECT b.id,
               (SELECT array_agg(s.name) FROM processing_steps s WHERE s.blob_id = b.id AND s.status = 'FAILED') AS failed,
               EXISTS (SELECT 1 FROM processing_steps s WHERE s.blob_id = b.id) AS has_steps
          FROM blobs b
         WHERE b.status = 'READY' AND b.owner_kind = 'ENTRY' AND b.id > ${after}
           AND (${space}::text IS NULL OR b.space_id = ${space})
         ORDER BY b.id LIMIT ${batch}`;
      for (const r of rows) {
        const only = !r.has_steps ? undefined : !options.missingOnly && r.failed?.length ? r.failed : null;
        if (only === null) continue;
        const names = await transactionWithEvents(prisma, async (tx) => {
          const blob = await tx.blob.findUnique({ where: { id: r.id } });
          return blob?.status === "READY" ? enqueue(tx, blob, only) : [];
        });
        if (names.length) result[r.has_steps ? "failed" : "missing"]++;
      }
      if (rows.length < batch) return result;
      after = rows[rows.length - 1]!.id;
    }
  }

  /** processingQueue: steps waiting, running and failed per pool in the viewer's organization (org admins). */
  async function queueStats(viewer: Viewer) {
    requireOrgAdmin(viewer);
    const rows = await prisma.$queryRaw<{ kind: string; status: StepStatus; n: bigint }[]>`
      SELECT s.kind, s.status, count(*) AS n FROM processing_steps s JOIN blobs b ON b.id = s.blob_id
       WHERE b.organization_id = ${viewer.organizationId} GROUP BY s.kind, s.status`;
    return ANALYZER_KINDS.map((kind) => {
      const n = (status: StepStatus) => Number(rows.find((r) => r.kind === kind && r.status === status)?.n ?? 0n);
      return { kind, queued: n("QUEUED"), running: n("RUNNING"), failed: n("FAILED"), done: n("DONE"), skipped: n("SKIPPED") };
    });
  }

  /** One page of a blob's extracted text (or transcript), by characters. */
  async function textPage(blobId: string, source: "text" | "transcript", offset: number, first: number) {
    const [row] = await prisma.$queryRaw<{ text: string; total: number; truncated: boolean }[]>`
      SELECT substr(text, ${offset + 1}::int, ${first}::int) AS text, char_length(text) AS total, truncated
        FROM blob_texts WHERE blob_id = ${blobId} AND source = ${source}`;
    return row ?? null;
  }

  return { enqueue, analyze, reprocessAsset, backfill, queueStats, textPage };
}

/** Cuts `text` at `maxBytes` UTF-8 bytes, at a character boundary. */
function capText(text: string, maxBytes: number): { text: string; bytes: number; truncated: boolean } {
  const bytes = Buffer.byteLength(text);
  if (bytes <= maxBytes) return { text, bytes, truncated: false };
  let cut = Buffer.from(text).subarray(0, maxBytes).toString("utf8");
  if (cut.endsWith("\uFFFD")) cut = cut.slice(0, -1);
  return { text: cut, bytes: Buffer.byteLength(cut), truncated: true };
}
