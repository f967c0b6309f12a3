// Video through ffprobe (duration, dimensions, frame rate, codecs, rotation) and
// ffmpeg (one poster frame), both child processes with deadlines, killed on
// timeout or abort. ffmpeg applies the rotation itself (autorotate), so the
// poster is upright; sharp turns the frame into the poster and thumbnails.
import { rm, stat } from "node:fs/promises";
import path from "node:path";
import sharp from "sharp";
import { type Analyzer, AnalyzerError, asCorrupt, StepSkipped, type VideoMetadata } from "../analyzer.ts";
import { decodeRaw, fitInside, fromRaw, thumbnailSet, writeWebp } from "../derived-files.ts";
import { bundledMediaTools, type MediaTools, runTool } from "../media-tools.ts";
import { probeMedia } from "../probe.ts";

/** Long edge of the "poster" image. */
export const POSTER_EDGE = 1568;

export type VideoAnalyzerOptions = { tools?: MediaTools };

export function videoAnalyzer(options: VideoAnalyzerOptions = {}): Analyzer<VideoMetadata> {
  return {
    name: "video",
    kind: "media",
    timeoutMs: 180_000,
    accepts: (blob) => blob.contentType.toLowerCase().startsWith("video/"),
    async analyze(ctx) {
      const tools = options.tools ?? (await bundledMediaTools());
      const probe = await probeMedia(tools, ctx.inputPath, ctx.signal);
      const v = probe.video;
      if (!v) throw new StepSkipped("the file has no video stream");
      if (v.width * v.height > ctx.limits.maxInputPixels) {
        throw new AnalyzerError("TOO_LARGE", `video frames are ${v.width}x${v.height}, over the ${ctx.limits.maxInputPixels} pixel limit`);
      }
      ctx.progress(0.2);

      // A frame a little into the video (the first is often black); at 0 when that seek finds nothing.
      const frame = path.join(ctx.workDir, "frame.png");
      const at = Math.min(5, probe.durationSeconds * 0.1);
      if (!(await grabFrame(tools, ctx.inputPath, at, frame, ctx.signal)) && at > 0) await grabFrame(tools, ctx.inputPath, 0, frame, ctx.signal);
      const grabbed = await stat(frame).catch(() => null);
      if (!grabbed?.size) throw new AnalyzerError("CORRUPT", "no video frame could be decoded");
      ctx.progress(0.7);

      const decoded = await decodeRaw(sharp(frame, { limitInputPixels: ctx.limits.maxInputPixels }).resize(fitInside(POSTER_EDGE))).catch((e) => {
        throw asCorrupt(e, "the poster frame could not be read");
      });
      await rm(frame, { force: true }); // only the WebP outputs stay in the work directory
      const poster = await writeWebp(fromRaw(decoded), ctx.workDir, "poster");
      const set = await thumbnailSet(decoded, ctx.workDir);
      ctx.progress(1);

      const turned = v.rotation === 90 || v.rotation === 270;
      const metadata: VideoMetadata = {
        analyzer: "video",
        durationSeconds: probe.durationSeconds,
        width: turned ? v.height : v.width,
        height: turned ? v.width : v.height,
        rotation: v.rotation,
      };
      if (v.frameRate) metadata.frameRate = v.frameRate;
      if (v.codec) metadata.videoCodec = v.codec;
      if (probe.audio?.codec) metadata.audioCodec = probe.audio.codec;
      if (probe.container) metadata.container = probe.container;
      return { metadata, files: [poster, ...set.files], placeholder: { kind: "thumbhash", base64: set.thumbhash } };
    },
  };
}

/** Writes one frame at `seconds` as PNG; false when ffmpeg produced none. */
async function grabFrame(tools: MediaTools, input: string, seconds: number, out: string, signal: AbortSignal): Promise<boolean> {
  const args = ["-v", "error", "-nostdin", "-y", "-ss", seconds.toFixed(3), "-i", input, "-map", "0:v:0", "-frames:v", "1", "-f", "image2", "-c:v", "png", out];
  try {
    await runTool(tools.ffmpeg, args, { signal, timeoutMs: 60_000 });
  } catch (e) {
    if (e instanceof AnalyzerError && e.code === "TOOL_FAILED") return false;
    throw e;
  }
  const s = await stat(out).catch(() => null);
  return Boolean(s?.size);
}
