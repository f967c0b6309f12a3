// A client for OpenAI-compatible `POST {baseUrl}/audio/transcriptions` (OpenAI,
// Groq, whisper.cpp server, LocalAI, vLLM all speak it): multipart with `file`,
// `model`, `response_format=verbose_json` (for segment timings) and optionally
// `prompt` (the previous chunk's last words, which OpenAI recommends for
// continuity across chunks). The file is sent from disk (fs.openAsBlob).
import { openAsBlob } from "node:fs";
import path from "node:path";
import { AnalyzerError, type TranscriptSegment } from "./analyzer.ts";

export type TranscriptionConfig = {
  /** Base URL including the version, e.g. "https://api.openai.com/v1". */
  url: string;
  apiKey?: string;
  /** e.g. "whisper-1" */
  model: string;
  /** Chunks stay below this (OpenAI's limit is 25 MB per request). */
  maxChunkBytes?: number;
  /** Per-request deadline in milliseconds. */
  requestTimeoutMs?: number;
};

export const DEFAULT_MAX_CHUNK_BYTES = 24 * 1024 * 1024;

export type ChunkTranscript = { text: string; language?: string; segments: TranscriptSegment[] };

type VerboseJson = { text?: unknown; language?: unknown; segments?: { start?: unknown; end?: unknown; text?: unknown }[] };

export async function transcribeFile(
  config: TranscriptionConfig,
  file: string,
  options: { signal: AbortSignal; prompt?: string; contentType: string },
): Promise<ChunkTranscript> {
  const form = new FormData();
  form.append("file", await openAsBlob(file, { type: options.contentType }), path.basename(file));
  form.append("model", config.model);
  form.append("response_format", "verbose_json");
  if (options.prompt) form.append("prompt", options.prompt);

  const endpoint = `${config.url.replace(/\/+$/, "")}/audio/transcriptions`;
  const signal = AbortSignal.any([options.signal, AbortSignal.timeout(config.requestTimeoutMs ?? 300_000)]);
  let res: Response;
  try {
    res = await fetch(endpoint, { method: "POST", body: form, signal, headers: config.apiKey ? { authorization: `Bearer ${config.apiKey}` } : {} });
  } catch (e) {
    if (options.signal.aborted) throw options.signal.reason;
    throw new AnalyzerError("UPSTREAM", `transcription request failed: ${(e as Error).message}`, { retryable: true, cause: e });
  }
  const body = await res.text().catch(() => "");
  if (!res.ok) {
    // Rate limits and server errors pass; a 4xx (bad key, unsupported model, bad audio) will not.
    const retryable = res.status === 429 || res.status >= 500;
    throw new AnalyzerError("UPSTREAM", `transcription endpoint answered ${res.status}: ${body.slice(0, 300)}`, { retryable });
  }
  let json: VerboseJson;
  try {
    json = JSON.parse(body) as VerboseJson;
  } catch {
    throw new AnalyzerError("UPSTREAM", "transcription endpoint sent no JSON", { retryable: true });
  }
  const text = typeof json.text === "string" ? json.text.trim() : "";
  const segments: TranscriptSegment[] = [];
  for (const s of json.segments ?? []) {
    if (typeof s.start === "number" && typeof s.end === "number" && typeof s.text === "string")
      segments.push({ start: s.start, end: s.end, text: s.text.trim() });
  }
  return { text, segments, ...(typeof json.language === "string" ? { language: json.language } : {}) };
}
