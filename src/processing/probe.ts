// ffprobe's view of a media file, reduced to what the video and transcription
// analyzers need. ffprobe reads only what it must (headers, a few packets).
import { AnalyzerError } from "./analyzer.ts";
import { type MediaTools, runTool } from "./media-tools.ts";

export type MediaProbe = {
  durationSeconds: number;
  container?: string;
  video?: { codec?: string; width: number; height: number; frameRate?: number; rotation: number };
  audio?: { codec?: string };
};

type FfprobeStream = {
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  duration?: string;
  disposition?: { attached_pic?: number };
  tags?: Record<string, string>;
  side_data_list?: { side_data_type?: string; rotation?: number }[];
};
type FfprobeOutput = { streams?: FfprobeStream[]; format?: { duration?: string; format_name?: string } };

export async function probeMedia(tools: MediaTools, file: string, signal: AbortSignal, timeoutMs = 30_000): Promise<MediaProbe> {
  const { stdout } = await runTool(tools.ffprobe, ["-v", "error", "-print_format", "json", "-show_format", "-show_streams", file], {
    signal,
    timeoutMs,
    maxStdoutBytes: 4 * 1024 * 1024,
  }).catch((e) => {
    // ffprobe exiting non-zero means it could not read the file: the input's fault.
    if (e instanceof AnalyzerError && e.code === "TOOL_FAILED") throw new AnalyzerError("CORRUPT", `not readable media (${e.message})`);
    throw e;
  });
  let out: FfprobeOutput;
  try {
    out = JSON.parse(stdout.toString("utf8")) as FfprobeOutput;
  } catch {
    throw new AnalyzerError("CORRUPT", "ffprobe gave no readable description of the file");
  }
  const streams = out.streams ?? [];
  // Cover art in audio files is a "video" stream with attached_pic: not a video.
  const v = streams.find((s) => s.codec_type === "video" && !s.disposition?.attached_pic);
  const a = streams.find((s) => s.codec_type === "audio");
  const duration = Number(out.format?.duration ?? v?.duration ?? a?.duration);
  const probe: MediaProbe = { durationSeconds: Number.isFinite(duration) && duration >= 0 ? duration : 0 };
  if (out.format?.format_name) probe.container = out.format.format_name;
  if (v?.width && v.height) {
    const frameRate = rate(v.avg_frame_rate) ?? rate(v.r_frame_rate);
    probe.video = {
      width: v.width,
      height: v.height,
      rotation: rotation(v),
      ...(v.codec_name ? { codec: v.codec_name } : {}),
      ...(frameRate ? { frameRate } : {}),
    };
  }
  if (a) probe.audio = a.codec_name ? { codec: a.codec_name } : {};
  return probe;
}

/** "30000/1001" -> 29.97 */
function rate(r: string | undefined): number | undefined {
  const [n, d] = (r ?? "").split("/").map(Number);
  if (!n || !d || !Number.isFinite(n / d)) return undefined;
  return Math.round((n / d) * 1000) / 1000;
}

/** Clockwise degrees a player turns the frames: the `rotate` tag (older muxers) or the display matrix (counter-clockwise there). */
function rotation(s: FfprobeStream): number {
  const tag = s.tags?.rotate;
  const matrix = s.side_data_list?.find((d) => typeof d.rotation === "number")?.rotation;
  const degrees = tag !== undefined ? Number(tag) : matrix !== undefined ? -matrix : 0;
  if (!Number.isFinite(degrees)) return 0;
  return (((Math.round(degrees / 90) * 90) % 360) + 360) % 360;
}
