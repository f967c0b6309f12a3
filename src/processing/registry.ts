// The analyzers Cabinet runs, in the order their steps run. Options come from
// the caller's config (deps.ts wires them; nothing here reads the environment).
import type { Analyzer } from "./analyzer.ts";
import { audioAnalyzer } from "./analyzers/audio.ts";
import { docxAnalyzer } from "./analyzers/docx.ts";
import { imageAnalyzer } from "./analyzers/image.ts";
import { pdfAnalyzer } from "./analyzers/pdf.ts";
import { textAnalyzer } from "./analyzers/text.ts";
import { transcriptionAnalyzer } from "./analyzers/transcription.ts";
import { videoAnalyzer } from "./analyzers/video.ts";
import type { MediaTools } from "./media-tools.ts";
import type { TranscriptionConfig } from "./transcription-client.ts";

export type AnalyzerRegistryOptions = {
  /** Keep EXIF GPS coordinates in image metadata (off by default: location is personal data). */
  storeGps?: boolean;
  /** Without it the transcription step is SKIPPED. */
  transcription?: TranscriptionConfig;
  /** ffmpeg/ffprobe binaries; the bundled npm ones by default. */
  mediaTools?: MediaTools;
};

export function createAnalyzerRegistry(options: AnalyzerRegistryOptions = {}): readonly Analyzer[] {
  const tools = options.mediaTools ? { tools: options.mediaTools } : {};
  const registry: Analyzer[] = [
    imageAnalyzer({ storeGps: options.storeGps ?? false }),
    pdfAnalyzer(),
    docxAnalyzer(),
    textAnalyzer(),
    audioAnalyzer(),
    videoAnalyzer(tools),
    transcriptionAnalyzer({ ...tools, ...(options.transcription ? { config: options.transcription } : {}) }),
  ];
  const names = new Set(registry.map((a) => a.name));
  if (names.size !== registry.length) throw new Error("analyzer names must be unique"); // step names key stored states
  return Object.freeze(registry);
}
