// Transcripts through an OpenAI-compatible transcription endpoint. The audio
// (of an audio file, or a video's first audio track) is re-encoded by ffmpeg to
// mono 16 kHz MP3 at a constant 32 kbit/s (4000 bytes per second, plenty for
// speech) and cut by duration into chunks that stay under the endpoint's size
// limit; the chunks are sent in order and their segments shifted by each chunk's
// start time (from ffmpeg's segment list) into one transcript.
// Without configuration the step is SKIPPED.
import { mkdir, readFile, rm, stat } from "node:fs/promises";
import path from "node:path";
import { type Analyzer, AnalyzerError, StepSkipped, type TranscriptionMetadata, type TranscriptSegment } from "../analyzer.ts";
import { bundledMediaTools, type MediaTools, runTool } from "../media-tools.ts";
import { probeMedia } from "../probe.ts";
import { DEFAULT_MAX_CHUNK_BYTES, type TranscriptionConfig, transcribeFile } from "../transcription-client.ts";

const BITRATE_BYTES_PER_SECOND = 4000; // 32 kbit/s CBR
/** Chunks are planned at 90% of the limit: MP3 frames and the segmenter's cut points overshoot a little. */
const CHUNK_HEADROOM = 0.9;
/** The previous chunk's last characters go along as `prompt`. */
const PROMPT_CHARS = 200;

export type TranscriptionAnalyzerOptions = { config?: TranscriptionConfig; tools?: MediaTools };

/** Seconds of audio per chunk for a given byte limit. */
export const chunkSeconds = (maxChunkBytes: number) => Math.max(1, Math.floor((maxChunkBytes * CHUNK_HEADROOM) / BITRATE_BYTES_PER_SECOND));

export function transcriptionAnalyzer(options: TranscriptionAnalyzerOptions = {}): Analyzer<TranscriptionMetadata> {
  return {
    name: "transcription",
    kind: "media",
    timeoutMs: 30 * 60_000,
    accepts: (blob) => /^(audio|video)\//i.test(blob.contentType),
    async analyze(ctx) {
      const config = options.config;
      if (!config) throw new StepSkipped("no transcription endpoint is configured");
      const tools = options.tools ?? (await bundledMediaTools());
      const probe = await probeMedia(tools, ctx.inputPath, ctx.signal);
      if (!probe.audio) throw new StepSkipped("the file has no audio track");
      ctx.progress(0.05);

      const maxChunkBytes = config.maxChunkBytes ?? DEFAULT_MAX_CHUNK_BYTES;
      const chunksDir = path.join(ctx.workDir, "chunks");
      const chunks = await splitAudio(tools, ctx.inputPath, chunksDir, chunkSeconds(maxChunkBytes), ctx.signal);
      ctx.progress(0.15);

      try {
        const segments: TranscriptSegment[] = [];
        const texts: string[] = [];
        let language: string | undefined;
        for (const [i, chunk] of chunks.entries()) {
          const { size } = await stat(chunk.file);
          if (size > maxChunkBytes) throw new AnalyzerError("INTERNAL", `audio chunk ${i} is ${size} bytes, over the ${maxChunkBytes} byte limit`);
          const prompt = texts.join(" ").slice(-PROMPT_CHARS);
          const part = await transcribeFile(config, chunk.file, { signal: ctx.signal, contentType: "audio/mpeg", ...(prompt ? { prompt } : {}) });
          language ??= part.language;
          if (part.text) texts.push(part.text);
          const own = part.segments.length ? part.segments : part.text ? [{ start: 0, end: chunk.end - chunk.start, text: part.text }] : [];
          for (const s of own) segments.push({ start: round(s.start + chunk.start), end: round(s.end + chunk.start), text: s.text });
          await rm(chunk.file, { force: true });
          ctx.progress(0.15 + 0.85 * ((i + 1) / chunks.length));
        }
        const metadata: TranscriptionMetadata = {
          analyzer: "transcription",
          chunks: chunks.length,
          durationSeconds: probe.durationSeconds,
          model: config.model,
        };
        return { metadata, files: [], transcript: { text: texts.join(" "), segments, ...(language ? { language } : {}) } };
      } finally {
        await rm(chunksDir, { recursive: true, force: true });
      }
    },
  };
}

type Chunk = { file: string; start: number; end: number };

/** Re-encodes the first audio track and cuts it every `seconds`; returns the chunks in order with their times. */
async function splitAudio(tools: MediaTools, input: string, dir: string, seconds: number, signal: AbortSignal): Promise<Chunk[]> {
  await mkdir(dir, { recursive: true });
  const list = path.join(dir, "chunks.csv");
  // -map 0:a:0: the first audio track only; -reset_timestamps: every chunk starts at 0 (the endpoint's times are per chunk).
  const args = ["-v", "error", "-nostdin", "-y", "-i", input, "-map", "0:a:0", "-vn", "-ac", "1", "-ar", "16000", "-c:a", "libmp3lame", "-b:a", "32k"];
  args.push("-f", "segment", "-segment_time", String(seconds), "-reset_timestamps", "1", "-segment_list", list, "-segment_list_type", "csv");
  args.push(path.join(dir, "chunk-%05d.mp3"));
  await runTool(tools.ffmpeg, args, { signal, timeoutMs: 20 * 60_000 }).catch((e) => {
    if (e instanceof AnalyzerError && e.code === "TOOL_FAILED") throw new AnalyzerError("CORRUPT", `the audio could not be decoded (${e.message})`);
    throw e;
  });
  // Each line: "chunk-00000.mp3,0.000000,4.000000"
  const lines = (await readFile(list, "utf8")).split("\n").filter((l) => l.trim());
  const chunks = lines.map((line) => {
    const [name, start, end] = line.split(",");
    return { file: path.join(dir, path.basename(name ?? "")), start: Number(start), end: Number(end) };
  });
  if (chunks.length === 0 || chunks.some((c) => !Number.isFinite(c.start) || !Number.isFinite(c.end)))
    throw new AnalyzerError("CORRUPT", "the audio produced no chunks");
  return chunks;
}

const round = (n: number) => Math.round(n * 1000) / 1000;
