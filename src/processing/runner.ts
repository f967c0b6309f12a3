// Runs every analyzer that accepts a blob as one step each, one after another
// (a worker's concurrency is per job; steps of one blob share its temp file and
// its memory budget). Each step moves QUEUED -> RUNNING (with progress) -> DONE |
// FAILED | SKIPPED, reported through `onStep` as it happens. A step that fails,
// throws something unexpected, or overruns its timeout ends FAILED with a reason
// and the next step still runs. Aborting `signal` fails the running step and
// every step not yet started with ABORTED (retryable).
import { mkdir, rm } from "node:fs/promises";
import { createReadStream } from "node:fs";
import path from "node:path";
import {
  type Analyzer,
  type AnalyzerContext,
  AnalyzerError,
  type AnalyzerErrorCode,
  type AnalyzerKind,
  type AnalyzerLimits,
  type AnalyzerOutput,
  type BlobFacts,
  DEFAULT_LIMITS,
  StepSkipped,
} from "./analyzer.ts";

export type StepState = "QUEUED" | "RUNNING" | "DONE" | "FAILED" | "SKIPPED";

export type StepEvent = {
  step: string;
  kind: AnalyzerKind;
  state: StepState;
  /** 0..1, on RUNNING events (0 when the step starts). */
  progress?: number;
  /** On FAILED and SKIPPED. */
  reason?: string;
  code?: AnalyzerErrorCode;
  retryable?: boolean;
  /** On DONE: what the step produced (the caller stores it before the DONE is published). */
  output?: AnalyzerOutput;
};

export type StepResult =
  | { step: string; kind: AnalyzerKind; state: "DONE"; output: AnalyzerOutput; durationMs: number }
  | { step: string; kind: AnalyzerKind; state: "FAILED"; reason: string; code: AnalyzerErrorCode; retryable: boolean; durationMs: number }
  | { step: string; kind: AnalyzerKind; state: "SKIPPED"; reason: string; durationMs: number };

export type RunContext = {
  /** The blob's bytes as a local file (downloaded once by the caller). */
  inputPath: string;
  /** Steps write derived files under `<workDir>/<step>/`; the caller stores them and removes workDir. */
  workDir: string;
  limits?: Partial<AnalyzerLimits>;
  /** Per-step timeout overrides in milliseconds, by analyzer name. */
  timeouts?: Partial<Record<string, number>>;
  signal?: AbortSignal;
  /**
   * Every state change, in order. Transitions are awaited (a rejection stops the run: the caller
   * could not record it); progress events are not, and a rejected one fails the run at the step's end.
   */
  onStep?: (event: StepEvent) => void | Promise<void>;
};

/** The analyzers of `registry` that accept `blob`, in registry order. */
export function acceptingAnalyzers(registry: readonly Analyzer[], blob: BlobFacts): Analyzer[] {
  return registry.filter((a) => a.accepts(blob));
}

export async function runAnalyzers(blob: BlobFacts, ctx: RunContext, registry: readonly Analyzer[]): Promise<StepResult[]> {
  const steps = acceptingAnalyzers(registry, blob);
  const limits: AnalyzerLimits = { ...DEFAULT_LIMITS, ...ctx.limits };
  const report = async (event: StepEvent) => {
    await ctx.onStep?.(event);
  };

  for (const a of steps) await report({ step: a.name, kind: a.kind, state: "QUEUED" });

  const results: StepResult[] = [];
  for (const analyzer of steps) {
    const result = await runStep(analyzer, blob, ctx, limits, report);
    results.push(result);
    const { step, kind, state } = result;
    if (result.state === "DONE") await report({ step, kind, state, output: result.output });
    else if (result.state === "SKIPPED") await report({ step, kind, state, reason: result.reason });
    else await report({ step, kind, state, reason: result.reason, code: result.code, retryable: result.retryable });
  }
  return results;
}

async function runStep(
  analyzer: Analyzer,
  blob: BlobFacts,
  run: RunContext,
  limits: AnalyzerLimits,
  report: (e: StepEvent) => Promise<void>,
): Promise<StepResult> {
  const { name: step, kind } = analyzer;
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const failed = (e: AnalyzerError): StepResult => ({
    step,
    kind,
    state: "FAILED",
    reason: e.message,
    code: e.code,
    retryable: e.retryable,
    durationMs: elapsed(),
  });

  if (run.signal?.aborted) return failed(abortedError());

  const timeoutMs = run.timeouts?.[step] ?? analyzer.timeoutMs;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new AnalyzerError("TIMEOUT", `${step} took longer than ${timeoutMs} ms`)), timeoutMs);
  const onOuterAbort = () => controller.abort(abortedError());
  run.signal?.addEventListener("abort", onOuterAbort, { once: true });

  const workDir = path.join(run.workDir, step);
  let progressFailure: unknown;
  let lastProgress = 0;
  const ctx: AnalyzerContext = {
    blob,
    inputPath: run.inputPath,
    openInput: () => createReadStream(run.inputPath),
    workDir,
    limits,
    signal: controller.signal,
    progress(fraction) {
      const f = Math.min(1, Math.max(0, fraction));
      // Monotonic and at most one event per percent: analyzers may call this per chunk.
      if (controller.signal.aborted || !(f >= lastProgress + 0.01 || (f === 1 && lastProgress < 1))) return;
      lastProgress = f;
      Promise.resolve(report({ step, kind, state: "RUNNING", progress: Math.round(f * 1000) / 1000 })).catch((e) => {
        progressFailure ??= e;
      });
    },
  };

  try {
    await mkdir(workDir, { recursive: true });
    await report({ step, kind, state: "RUNNING", progress: 0 });
    const work = analyzer.analyze(ctx);
    // An analyzer that ignores its signal is not waited for: the step fails on time anyway.
    work.catch(() => {});
    const output = await Promise.race([work, rejectOnAbort(controller.signal)]);
    if (progressFailure) throw progressFailure;
    return { step, kind, state: "DONE", output, durationMs: elapsed() };
  } catch (e) {
    if (e === progressFailure) throw e;
    await rm(workDir, { recursive: true, force: true });
    if (e instanceof StepSkipped) return { step, kind, state: "SKIPPED", reason: e.reason, durationMs: elapsed() };
    // After an abort, whatever the analyzer threw is a consequence: report the abort's reason.
    const cause = controller.signal.aborted ? controller.signal.reason : e;
    if (cause instanceof AnalyzerError) return failed(cause);
    return failed(new AnalyzerError("INTERNAL", `${step} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause }));
  } finally {
    clearTimeout(timer);
    run.signal?.removeEventListener("abort", onOuterAbort);
  }
}

const abortedError = () => new AnalyzerError("ABORTED", "processing was cancelled", { retryable: true });

function rejectOnAbort(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}
