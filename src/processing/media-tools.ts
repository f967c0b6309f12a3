// ffmpeg and ffprobe as child processes. The binaries ship inside npm packages
// (@ffmpeg-installer/*, @ffprobe-installer/*); their postinstall only runs
// `chmod u+x`, which npm 11 skips unless approved, and ffprobe is published
// 0744, so we make them executable on first use. Every run has a deadline and
// follows an AbortSignal: on either the child gets SIGKILL (a hostile file must
// not leave a decoder spinning), and its output is bounded.
import { spawn } from "node:child_process";
import { constants } from "node:fs";
import { access, chmod } from "node:fs/promises";
import { createRequire } from "node:module";
import { AnalyzerError } from "./analyzer.ts";

const require = createRequire(import.meta.url);

export type MediaTools = { ffmpeg: string; ffprobe: string };

let bundled: Promise<MediaTools> | undefined;

/** The bundled binaries, made executable once per process. */
export function bundledMediaTools(): Promise<MediaTools> {
  bundled ??= (async () => {
    const ffmpeg = (require("@ffmpeg-installer/ffmpeg") as { path: string }).path;
    const ffprobe = (require("@ffprobe-installer/ffprobe") as { path: string }).path;
    await Promise.all([ensureExecutable(ffmpeg), ensureExecutable(ffprobe)]);
    return { ffmpeg, ffprobe };
  })();
  bundled.catch(() => {
    bundled = undefined; // let a later call retry (e.g. after an operator fixed permissions)
  });
  return bundled;
}

async function ensureExecutable(file: string): Promise<void> {
  try {
    await access(file, constants.X_OK);
  } catch {
    await chmod(file, 0o755);
  }
}

export type RunOptions = {
  signal: AbortSignal;
  /** Kill after this many milliseconds even if nobody aborts. */
  timeoutMs?: number;
  /** stdout kept at most (the rest is discarded and `stdoutTruncated` set). */
  maxStdoutBytes?: number;
};

export type RunResult = { stdout: Buffer; stdoutTruncated: boolean; stderr: string };

const STDERR_TAIL = 4000;

/** Runs `bin args`, resolving on exit 0; rejects with AnalyzerError otherwise (TOOL_FAILED, TIMEOUT, or the abort's reason). */
export function runTool(bin: string, args: string[], options: RunOptions): Promise<RunResult> {
  const { signal, timeoutMs, maxStdoutBytes = 8 * 1024 * 1024 } = options;
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    let outBytes = 0;
    let stdoutTruncated = false;
    let stderr = "";
    let killedFor: unknown;

    const kill = (reason: unknown) => {
      killedFor ??= reason;
      child.kill("SIGKILL");
    };
    const onAbort = () => kill(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    const timer = timeoutMs ? setTimeout(() => kill(new AnalyzerError("TIMEOUT", `${toolName(bin)} ran longer than ${timeoutMs} ms`)), timeoutMs) : undefined;

    child.stdout.on("data", (chunk: Buffer) => {
      if (outBytes + chunk.length > maxStdoutBytes) {
        stdoutTruncated = true;
        chunk = chunk.subarray(0, Math.max(0, maxStdoutBytes - outBytes));
      }
      outBytes += chunk.length;
      if (chunk.length) out.push(chunk);
    });
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (s: string) => {
      stderr = (stderr + s).slice(-STDERR_TAIL);
    });
    child.once("error", (e) => {
      killedFor ??= new AnalyzerError("TOOL_FAILED", `${toolName(bin)} could not start: ${e.message}`, { cause: e });
    });
    child.once("close", (code, sig) => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      if (killedFor) return reject(killedFor);
      if (code === 0) return resolve({ stdout: Buffer.concat(out), stdoutTruncated, stderr });
      const last = stderr.trim().split("\n").slice(-3).join(" | ");
      reject(new AnalyzerError("TOOL_FAILED", `${toolName(bin)} exited with ${sig ?? code}${last ? `: ${last}` : ""}`));
    });
  });
}

const toolName = (bin: string) => bin.split("/").pop() ?? bin;
