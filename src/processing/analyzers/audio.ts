// Audio through music-metadata: duration, bit rate, sample rate, channels, codec
// and the common tags. It reads the file through its own tokenizer (bounded
// buffers); `duration: true` scans a file that has no length header (a VBR MP3
// without Xing), still streaming.
import { type Analyzer, AnalyzerError, asCorrupt, type AudioMetadata } from "../analyzer.ts";

const TAG_LENGTH = 500;

export function audioAnalyzer(): Analyzer<AudioMetadata> {
  return {
    name: "audio",
    kind: "media",
    timeoutMs: 60_000,
    accepts: (blob) => blob.contentType.toLowerCase().startsWith("audio/"),
    async analyze(ctx) {
      const { parseFile } = await import("music-metadata");
      const parsed = await parseFile(ctx.inputPath, { duration: true, skipCovers: true }).catch((e) => {
        throw asCorrupt(e, "not readable audio");
      });
      const { format, common } = parsed;
      if (!(typeof format.duration === "number" && Number.isFinite(format.duration))) throw new AnalyzerError("CORRUPT", "audio has no duration");
      ctx.progress(1);
      const metadata: AudioMetadata = { analyzer: "audio", durationSeconds: format.duration, tags: {} };
      if (format.bitrate) metadata.bitRate = Math.round(format.bitrate);
      if (format.sampleRate) metadata.sampleRate = format.sampleRate;
      if (format.numberOfChannels) metadata.channels = format.numberOfChannels;
      if (format.codec) metadata.codec = format.codec;
      if (format.container) metadata.container = format.container;
      for (const key of ["title", "artist", "album"] as const) {
        const v = common[key];
        if (typeof v === "string" && v.trim()) metadata.tags[key] = v.trim().slice(0, TAG_LENGTH);
      }
      return { metadata, files: [] };
    },
  };
}
