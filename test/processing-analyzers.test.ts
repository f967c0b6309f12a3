// The analyzer library on real files: every fixture is made in code (see
// support/media-fixtures.ts) so the expected values are exact. No database, no
// server: the analyzers and the runner are the unit here. The transcription
// endpoint is the one stand-in: a local HTTP server speaking OpenAI's
// /v1/audio/transcriptions, because the real service is a paid third party.
import { readdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { parseBuffer } from "music-metadata";
import sharp from "sharp";
import { thumbHashToApproximateAspectRatio } from "thumbhash";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Analyzer,
  type AnalyzerOutput,
  type AnalyzerRegistryOptions,
  createAnalyzerRegistry,
  type DerivedFile,
  type RunContext,
  runAnalyzers,
  type StepEvent,
  type StepResult,
} from "../src/processing/index.ts";
import { bundledMediaTools, runTool } from "../src/processing/media-tools.ts";
import { imageAnalyzer } from "../src/processing/analyzers/image.ts";
import { DOCX_TYPE } from "../src/processing/analyzers/docx.ts";
import * as fixtures from "./support/media-fixtures.ts";

let dir: string;
const files: Record<string, string> = {};
const at = (name: string) => path.join(dir, name);

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "cabinet-analyzers-"));
  const made = await Promise.all([
    fixtures.pngWithExif(at("photo.png")),
    fixtures.jpeg(at("photo.jpg")),
    fixtures.corruptPng(at("corrupt.png")),
    fixtures.pngBomb(at("bomb.png")),
    fixtures.pdf(at("two-pages.pdf"), ["Hello first page", "Second page words"], { title: "Quarterly (draft)", author: "Ada Lovelace" }),
    fixtures.docx(at("letter.docx"), ["Dear reader,", "Zebra crossings & quiet streets."]),
    fixtures.docx(at("bomb.docx"), ["tiny"], { declaredDocumentSize: 0xfffffff0 }),
    fixtures.wav(at("tone.wav"), 1.5),
    fixtures.wav(at("speech.wav"), 10, 16000),
    fixtures.mp3(at("tone.mp3"), 2, { title: "Tone", artist: "Cabinet", album: "Fixtures" }),
    fixtures.video(at("turned.mp4"), { seconds: 2, width: 320, height: 240, clockwise: 90 }),
    fixtures.video(at("silent.mp4"), { seconds: 1, width: 160, height: 120, audio: false }),
  ]);
  for (const f of made) files[path.basename(f)] = f;
}, 120_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

type Run = { results: StepResult[]; events: StepEvent[]; workDir: string };

let runs = 0;
async function analyze(
  file: string,
  contentType: string,
  options: AnalyzerRegistryOptions = {},
  run: Partial<RunContext> = {},
  registry?: readonly Analyzer[],
): Promise<Run> {
  const events: StepEvent[] = [];
  const workDir = at(`work-${++runs}`);
  const { size } = await stat(file);
  const results = await runAnalyzers(
    { contentType, size },
    { inputPath: file, workDir, onStep: (e) => void events.push(e), ...run },
    registry ?? createAnalyzerRegistry(options),
  );
  return { results, events, workDir };
}

function done(run: Run, step: string): AnalyzerOutput {
  const r = run.results.find((x) => x.step === step);
  if (r?.state !== "DONE") throw new Error(`${step} did not finish: ${JSON.stringify(r)}`);
  return r.output;
}

/** The state sequence of one step, with consecutive RUNNING (progress) events folded. */
function states(events: StepEvent[], step: string): string[] {
  const out: string[] = [];
  for (const e of events.filter((x) => x.step === step)) if (out[out.length - 1] !== e.state) out.push(e.state);
  return out;
}

const file = (out: AnalyzerOutput, role: string): DerivedFile => {
  const f = out.files.find((x) => x.role === role);
  if (!f) throw new Error(`no ${role} among ${out.files.map((x) => x.role).join(", ")}`);
  return f;
};

/** A thumbnail really is WebP of the stated size, and carries no EXIF (nor orientation). */
async function expectCleanWebp(f: DerivedFile, width: number, height: number) {
  const m = await sharp(f.path).metadata();
  expect([m.format, m.width, m.height]).toEqual(["webp", width, height]);
  expect([f.contentType, f.width, f.height, f.size]).toEqual(["image/webp", width, height, (await stat(f.path)).size]);
  expect(m.exif).toBeUndefined();
  expect(m.orientation).toBeUndefined();
}

describe("image analyzer", () => {
  it("reads a PNG with EXIF orientation 6: display size, allow-listed EXIF without GPS, upright thumbnails without metadata", async () => {
    const run = await analyze(files["photo.png"]!, "image/png");
    expect(run.results.map((r) => r.step)).toEqual(["image"]);
    expect(states(run.events, "image")).toEqual(["QUEUED", "RUNNING", "DONE"]);
    const progress = run.events.filter((e) => e.state === "RUNNING").map((e) => e.progress);
    expect(progress[0]).toBe(0);
    expect(progress.at(-1)).toBe(1);
    expect(progress).toEqual([...progress].sort((a, b) => a! - b!));

    const out = done(run, "image");
    expect(out.metadata).toEqual({
      analyzer: "image",
      width: 1200,
      height: 1600,
      format: "png",
      orientation: 6,
      colorSpace: "srgb",
      hasAlpha: false,
      // Software, Artist and BodySerialNumber are in the file and must not come out; nor GPS by default.
      exif: { make: "Cabinet Optics", model: "TestCam 1", lens: "Fix 35mm f/2", takenAt: "2024-05-06T07:08:09" },
    });
    expect(out.files.map((f) => f.role)).toEqual(["thumbnail:1024", "thumbnail:256"]);
    // Stored 1600x1200 landscape; orientation 6 turns it portrait.
    await expectCleanWebp(file(out, "thumbnail:1024"), 768, 1024);
    await expectCleanWebp(file(out, "thumbnail:256"), 192, 256);
    for (const f of out.files) expect(path.dirname(f.path)).toBe(path.join(run.workDir, "image"));

    expect(out.placeholder?.kind).toBe("thumbhash");
    const hash = Buffer.from(out.placeholder!.base64, "base64");
    expect(hash.length).toBeLessThan(40);
    expect(thumbHashToApproximateAspectRatio(hash)).toBeCloseTo(0.75, 1);
  });

  it("keeps GPS only with storeGps", async () => {
    const out = done(await analyze(files["photo.png"]!, "image/png", { storeGps: true }), "image");
    expect((out.metadata as any).exif.gps).toEqual(fixtures.GPS);
  });

  it("reads a JPEG and never enlarges: an 800 px image keeps 800 px in the 1024 slot", async () => {
    const out = done(await analyze(files["photo.jpg"]!, "image/jpeg"), "image");
    expect(out.metadata).toMatchObject({
      width: 800,
      height: 600,
      format: "jpeg",
      orientation: 1,
      colorSpace: "srgb",
      hasAlpha: false,
      exif: { make: "JpegMaker" },
    });
    await expectCleanWebp(file(out, "thumbnail:1024"), 800, 600);
    await expectCleanWebp(file(out, "thumbnail:256"), 256, 192);
  });

  it("fails a corrupt PNG with a reason and leaves no files", async () => {
    const run = await analyze(files["corrupt.png"]!, "image/png");
    expect(states(run.events, "image")).toEqual(["QUEUED", "RUNNING", "FAILED"]);
    const [r] = run.results;
    expect(r).toMatchObject({ state: "FAILED", code: "CORRUPT", retryable: false });
    expect((r as any).reason).toMatch(/^not a readable image: /);
    expect(run.events.at(-1)).toMatchObject({ state: "FAILED", code: "CORRUPT", reason: (r as any).reason });
    await expect(stat(path.join(run.workDir, "image"))).rejects.toThrow(/ENOENT/);
  });

  it("fails a decompression bomb (a few hundred bytes declaring 100000 x 100000 pixels) without allocating it", async () => {
    expect((await stat(files["bomb.png"]!)).size).toBeLessThan(1000);
    const before = process.memoryUsage().rss;
    const run = await analyze(files["bomb.png"]!, "image/png");
    expect(run.results[0]).toMatchObject({ state: "FAILED", code: "TOO_LARGE", retryable: false });
    expect((run.results[0] as any).reason).toBe("image declares 100000x100000 pixels, over the 268402689 pixel limit");
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * 1024 * 1024);
  });

  it("applies a configured pixel limit", async () => {
    const run = await analyze(files["photo.jpg"]!, "image/jpeg", {}, { limits: { maxInputPixels: 100_000 } });
    expect(run.results[0]).toMatchObject({ state: "FAILED", code: "TOO_LARGE", reason: "image declares 800x600 pixels, over the 100000 pixel limit" });
  });
});

describe("document analyzers", () => {
  it("pdf: page count, title, author, text of both pages, page 1 rendered", async () => {
    const run = await analyze(files["two-pages.pdf"]!, "application/pdf");
    expect(states(run.events, "pdf")).toEqual(["QUEUED", "RUNNING", "DONE"]);
    const out = done(run, "pdf");
    expect(out.metadata).toEqual({ analyzer: "pdf", pages: 2, title: "Quarterly (draft)", author: "Ada Lovelace" });
    expect(out.text).toEqual({ text: "Hello first page\n\nSecond page words", truncated: false, bytes: 35 });
    expect(out.files.map((f) => f.role)).toEqual(["page:1", "thumbnail:1024", "thumbnail:256"]);
    // A US Letter page (612 x 792 pt) at a 1568 px long edge.
    await expectCleanWebp(file(out, "page:1"), 1211, 1568);
    await expectCleanWebp(file(out, "thumbnail:1024"), 791, 1024);
    await expectCleanWebp(file(out, "thumbnail:256"), 198, 256);
    // The page is white with black text at the top: the render is not blank.
    const stats = await sharp(file(out, "page:1").path).stats();
    expect(stats.channels[0]!.min).toBeLessThan(100);
    expect(stats.channels[0]!.max).toBe(255);
  });

  it("pdf: text stops at the cap and says so", async () => {
    const out = done(await analyze(files["two-pages.pdf"]!, "application/pdf", {}, { limits: { maxTextBytes: 10 } }), "pdf");
    expect(out.text).toEqual({ text: "Hello firs", truncated: true, bytes: 10 });
  });

  it("pdf: garbage fails with a reason", async () => {
    await writeFile(at("fake.pdf"), "%PDF-1.4\nthis is no pdf\n");
    const run = await analyze(at("fake.pdf"), "application/pdf");
    expect(run.results[0]).toMatchObject({ step: "pdf", state: "FAILED", code: "CORRUPT" });
  });

  it("docx: the paragraphs' text", async () => {
    const run = await analyze(files["letter.docx"]!, DOCX_TYPE);
    expect(states(run.events, "docx")).toEqual(["QUEUED", "RUNNING", "DONE"]);
    const out = done(run, "docx");
    expect(out.metadata).toEqual({ analyzer: "docx" });
    expect(out.text).toEqual({ text: "Dear reader,\n\nZebra crossings & quiet streets.", truncated: false, bytes: 46 });
  });

  it("docx: a zip that declares gigabytes is refused before unzipping; a non-zip is corrupt", async () => {
    const bomb = await analyze(files["bomb.docx"]!, DOCX_TYPE);
    expect(bomb.results[0]).toMatchObject({ state: "FAILED", code: "TOO_LARGE" });
    expect((bomb.results[0] as any).reason).toMatch(/^DOCX would unzip to 42949\d{5} bytes, over the 268435456 byte limit$/);
    await writeFile(at("fake.docx"), "not a zip at all");
    const fake = await analyze(at("fake.docx"), DOCX_TYPE);
    expect(fake.results[0]).toMatchObject({ state: "FAILED", code: "CORRUPT" });
  });

  it("text: UTF-8 Markdown, lines counted", async () => {
    await writeFile(at("notes.md"), "# Überblick\n\nZeile zwei — mit Strich\n");
    const out = done(await analyze(at("notes.md"), "text/markdown"), "text");
    expect(out.metadata).toEqual({ analyzer: "text", encoding: "utf-8", lines: 3 });
    expect(out.text).toEqual({ text: "# Überblick\n\nZeile zwei — mit Strich\n", truncated: false, bytes: 40 });
  });

  it("text: UTF-16 with byte order marks, both byte orders", async () => {
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from("héllo wörld\nline 2", "utf16le")]);
    const be = Buffer.from(le);
    be.swap16(); // FF FE -> FE FF and every code unit swapped
    await writeFile(at("le.txt"), le);
    await writeFile(at("be.txt"), be);
    const outLe = done(await analyze(at("le.txt"), "text/plain"), "text");
    const outBe = done(await analyze(at("be.txt"), "text/plain"), "text");
    expect([outLe.metadata, outLe.text?.text]).toEqual([{ analyzer: "text", encoding: "utf-16le", lines: 2 }, "héllo wörld\nline 2"]);
    expect([outBe.metadata, outBe.text?.text]).toEqual([{ analyzer: "text", encoding: "utf-16be", lines: 2 }, "héllo wörld\nline 2"]);
  });

  it("text: bytes that are not UTF-8 are read as latin1", async () => {
    await writeFile(at("latin1.txt"), Buffer.from("caf\xe9 cr\xe8me br\xfbl\xe9e", "latin1"));
    const out = done(await analyze(at("latin1.txt"), "text/plain"), "text");
    expect(out.metadata).toMatchObject({ encoding: "latin1", lines: 1 });
    expect(out.text?.text).toBe("café crème brûlée");
  });

  it("text: the cap cuts at a character boundary", async () => {
    await writeFile(at("euro.txt"), "€€€€€"); // 3 bytes each
    const out = done(await analyze(at("euro.txt"), "text/plain", {}, { limits: { maxTextBytes: 7 } }), "text");
    expect(out.text).toEqual({ text: "€€", truncated: true, bytes: 6 });
  });

  it("text: CSV rows and columns, RFC 4180 quoting (commas, quotes and line breaks inside quotes), CRLF", async () => {
    const csv = 'name,comment,score\r\n"Roe, Jane","said ""hi""\r\nthen left",3\r\nplain,,4\r\n\r\n"last","row",5';
    await writeFile(at("table.csv"), csv);
    const out = done(await analyze(at("table.csv"), "text/csv"), "text");
    expect((out.metadata as any).csv).toEqual({ rows: 4, columns: 3 });
    expect(out.text?.text).toBe(csv);
  });

  it("text: CSV counted across stream chunks (a 3 MB file, a quoted field split anywhere)", async () => {
    const row = '1,"a, ""b""\nc",x\n';
    await writeFile(at("big.csv"), `h1,h2,h3\n${row.repeat(150_000)}`);
    const out = done(await analyze(at("big.csv"), "text/csv"), "text");
    expect((out.metadata as any).csv).toEqual({ rows: 150_001, columns: 3 });
    expect(out.text?.truncated).toBe(true);
    expect(out.text?.bytes).toBe(1024 * 1024);
  });

  it("text: JSON validity", async () => {
    await writeFile(at("good.json"), '{"a": [1, 2, {"b": null}]}');
    await writeFile(at("bad.json"), '{"a": [1, 2,');
    expect(done(await analyze(at("good.json"), "application/json"), "text").metadata).toMatchObject({ json: { valid: true } });
    expect(done(await analyze(at("bad.json"), "application/json"), "text").metadata).toMatchObject({ json: { valid: false } });
    const big = done(await analyze(at("good.json"), "application/json", {}, { limits: { maxJsonValidateBytes: 5 } }), "text");
    expect(big.metadata).toMatchObject({ json: { valid: null } });
  });
});

describe("media analyzers", () => {
  it("audio: a WAV of exactly 1.5 s; transcription SKIPPED without configuration", async () => {
    const run = await analyze(files["tone.wav"]!, "audio/wav");
    expect(run.results.map((r) => [r.step, r.state])).toEqual([
      ["audio", "DONE"],
      ["transcription", "SKIPPED"],
    ]);
    expect(states(run.events, "transcription")).toEqual(["QUEUED", "RUNNING", "SKIPPED"]);
    expect(run.results[1]).toMatchObject({ reason: "no transcription endpoint is configured" });
    expect(done(run, "audio").metadata).toEqual({
      analyzer: "audio",
      durationSeconds: 1.5,
      bitRate: 128000,
      sampleRate: 8000,
      channels: 1,
      codec: "PCM",
      container: "WAVE",
      tags: {},
    });
  });

  it("audio: an MP3 made by ffmpeg, 2 s, with tags", async () => {
    const m = done(await analyze(files["tone.mp3"]!, "audio/mpeg"), "audio").metadata as any;
    expect(Math.abs(m.durationSeconds - 2)).toBeLessThan(0.05);
    expect(m).toMatchObject({
      bitRate: 128000,
      sampleRate: 44100,
      channels: 2,
      codec: "MPEG 1 Layer 3",
      tags: { title: "Tone", artist: "Cabinet", album: "Fixtures" },
    });
  });

  it("audio: garbage fails", async () => {
    await writeFile(at("noise.mp3"), Buffer.alloc(2000, 7));
    const run = await analyze(at("noise.mp3"), "audio/mpeg");
    expect(run.results[0]).toMatchObject({ step: "audio", state: "FAILED", code: "CORRUPT" });
  });

  it("video: duration, displayed size with rotation, frame rate, codecs; an upright poster", async () => {
    const run = await analyze(files["turned.mp4"]!, "video/mp4");
    expect(states(run.events, "video")).toEqual(["QUEUED", "RUNNING", "DONE"]);
    const out = done(run, "video");
    const m = out.metadata as any;
    expect(Math.abs(m.durationSeconds - 2)).toBeLessThan(0.05);
    expect(m).toMatchObject({ analyzer: "video", width: 240, height: 320, rotation: 90, frameRate: 25, videoCodec: "h264", audioCodec: "aac" });
    expect(out.files.map((f) => f.role)).toEqual(["poster", "thumbnail:1024", "thumbnail:256"]);
    await expectCleanWebp(file(out, "poster"), 240, 320);
    await expectCleanWebp(file(out, "thumbnail:256"), 192, 256);
    expect(out.placeholder?.kind).toBe("thumbhash");
    expect(await readdir(path.join(run.workDir, "video"))).toEqual(["poster.webp", "thumbnail-1024.webp", "thumbnail-256.webp"]);
  });

  it("video: garbage fails with ffprobe's reason", async () => {
    await writeFile(at("noise.mp4"), Buffer.alloc(5000, 3));
    const run = await analyze(at("noise.mp4"), "video/mp4");
    expect(run.results[0]).toMatchObject({ step: "video", state: "FAILED", code: "CORRUPT" });
    expect((run.results[0] as any).reason).toMatch(/^not readable media \(ffprobe exited with 1/);
  });
});

describe("runner", () => {
  const boom: Analyzer = {
    name: "docx",
    kind: "documents",
    timeoutMs: 1000,
    accepts: () => true,
    analyze: async () => {
      throw new Error("kaput");
    },
  };
  const stuck: Analyzer = {
    name: "pdf",
    kind: "documents",
    timeoutMs: 150,
    accepts: () => true,
    analyze: () => new Promise(() => {}), // ignores its signal on purpose
  };

  it("a failing step does not stop the others; an unexpected error is INTERNAL with its message", async () => {
    const run = await analyze(files["photo.jpg"]!, "image/jpeg", {}, {}, [boom, imageAnalyzer()]);
    expect(run.results.map((r) => [r.step, r.state])).toEqual([
      ["docx", "FAILED"],
      ["image", "DONE"],
    ]);
    expect(run.results[0]).toMatchObject({ code: "INTERNAL", reason: "docx failed: kaput", retryable: false });
    // Both are queued before either runs.
    expect(run.events.slice(0, 2).map((e) => [e.step, e.state])).toEqual([
      ["docx", "QUEUED"],
      ["image", "QUEUED"],
    ]);
  });

  it("a step that overruns its timeout FAILS on time even if it ignores the signal", async () => {
    const t0 = performance.now();
    const run = await analyze(files["photo.jpg"]!, "image/jpeg", {}, {}, [stuck, imageAnalyzer()]);
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(run.results[0]).toMatchObject({ step: "pdf", state: "FAILED", code: "TIMEOUT", reason: "pdf took longer than 150 ms" });
    expect(run.results[1]).toMatchObject({ step: "image", state: "DONE" });
  });

  it("a video step over its timeout kills ffprobe/ffmpeg", async () => {
    const run = await analyze(files["turned.mp4"]!, "video/mp4", {}, { timeouts: { video: 5 } });
    expect(run.results[0]).toMatchObject({ step: "video", state: "FAILED", code: "TIMEOUT" });
    await new Promise((r) => setTimeout(r, 200));
    expect(await processesMentioning(files["turned.mp4"]!)).toEqual([]);
  });

  it("aborting the run fails the running step and every later one as ABORTED (retryable)", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const run = await analyze(files["photo.jpg"]!, "image/jpeg", {}, { signal: controller.signal }, [{ ...stuck, timeoutMs: 60_000 }, imageAnalyzer()]);
    expect(run.results.map((r) => [r.step, r.state, (r as any).code, (r as any).retryable])).toEqual([
      ["pdf", "FAILED", "ABORTED", true],
      ["image", "FAILED", "ABORTED", true],
    ]);
  });

  it("runTool kills its child on abort", async () => {
    const { ffmpeg } = await bundledMediaTools();
    // -re: real time, so it would run for an hour.
    const marker = `testsrc=size=123x45:rate=7:duration=3600`;
    const controller = new AbortController();
    const running = runTool(ffmpeg, ["-v", "error", "-nostdin", "-re", "-f", "lavfi", "-i", marker, "-f", "null", "-"], { signal: controller.signal });
    await new Promise((r) => setTimeout(r, 300));
    expect((await processesMentioning(marker)).length).toBe(1);
    controller.abort(new Error("enough"));
    await expect(running).rejects.toThrow("enough");
    expect(await processesMentioning(marker)).toEqual([]);
  });
});

/** Pids of live processes whose command line contains `needle` (reads /proc). */
async function processesMentioning(needle: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    const status = await readFile(`/proc/${entry}/status`, "utf8").catch(() => "");
    if (cmdline.split("\0").some((arg) => arg.includes(needle)) && !/State:\s+Z/.test(status)) pids.push(Number(entry));
  }
  return pids;
}

describe("transcription (against a local server speaking OpenAI's /v1/audio/transcriptions: the real service is paid)", () => {
  type Received = { auth: string | undefined; fields: Record<string, string>; fileName: string; fileType: string; fileBytes: number; chunkSeconds: number };
  let server: Server;
  let url: string;
  let received: Received[] = [];
  let failWith: number | undefined;

  beforeAll(async () => {
    server = createServer(async (req, res) => {
      const body: Buffer[] = [];
      for await (const c of req) body.push(c as Buffer);
      if (req.method !== "POST" || req.url !== "/v1/audio/transcriptions") {
        res.writeHead(404).end();
        return;
      }
      if (failWith) {
        res.writeHead(failWith, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: "nope" } }));
        return;
      }
      // Parse the multipart body the standard way (undici's FormData parser).
      const form = await new Request("http://x/", { method: "POST", headers: req.headers as Record<string, string>, body: Buffer.concat(body) }).formData();
      const upload = form.get("file") as File;
      const bytes = Buffer.from(await upload.arrayBuffer());
      const { format } = await parseBuffer(bytes, { mimeType: upload.type }, { duration: true });
      const fields: Record<string, string> = {};
      for (const [k, v] of form.entries()) if (typeof v === "string") fields[k] = v;
      const n = received.length;
      const d = format.duration ?? 0;
      received.push({ auth: req.headers.authorization, fields, fileName: upload.name, fileType: upload.type, fileBytes: bytes.length, chunkSeconds: d });
      // Two segments per chunk, in the chunk's own time.
      res.writeHead(200, { "content-type": "application/json" }).end(
        JSON.stringify({
          task: "transcribe",
          language: "english",
          duration: d,
          text: `part ${n} one. part ${n} two.`,
          segments: [
            { id: 0, start: 0, end: d / 2, text: ` part ${n} one.` },
            { id: 1, start: d / 2, end: d, text: ` part ${n} two.` },
          ],
        }),
      );
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  });

  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("splits 10 s of audio into chunks under the size limit, sends them in order, and merges segments at their offsets", async () => {
    received = [];
    // 20 000 bytes at 4000 B/s with 10% headroom: 4 s chunks, so 4 + 4 + 2 s.
    const config = { url, apiKey: "test-key", model: "whisper-1", maxChunkBytes: 20_000 };
    const run = await analyze(files["speech.wav"]!, "audio/wav", { transcription: config });
    expect(states(run.events, "transcription")).toEqual(["QUEUED", "RUNNING", "DONE"]);
    const out = done(run, "transcription");
    expect(out.metadata).toEqual({ analyzer: "transcription", chunks: 3, durationSeconds: 10, model: "whisper-1" });

    expect(received.map((r) => [r.fileName, r.fileType, r.auth, r.fields.model, r.fields.response_format])).toEqual([
      ["chunk-00000.mp3", "audio/mpeg", "Bearer test-key", "whisper-1", "verbose_json"],
      ["chunk-00001.mp3", "audio/mpeg", "Bearer test-key", "whisper-1", "verbose_json"],
      ["chunk-00002.mp3", "audio/mpeg", "Bearer test-key", "whisper-1", "verbose_json"],
    ]);
    for (const r of received) expect(r.fileBytes).toBeLessThanOrEqual(20_000);
    expect(received.map((r) => Math.round(r.chunkSeconds))).toEqual([4, 4, 2]);
    // The previous chunks' text travels as the prompt.
    expect(received.map((r) => r.fields.prompt)).toEqual([undefined, "part 0 one. part 0 two.", "part 0 one. part 0 two. part 1 one. part 1 two."]);

    const t = out.transcript!;
    expect(t.language).toBe("english");
    expect(t.text).toBe("part 0 one. part 0 two. part 1 one. part 1 two. part 2 one. part 2 two.");
    expect(t.segments.map((s) => s.text)).toEqual(["part 0 one.", "part 0 two.", "part 1 one.", "part 1 two.", "part 2 one.", "part 2 two."]);
    // Chunk i's segments are shifted by where chunk i starts: 0, ~4, ~8 s; the timeline is continuous.
    const starts = [t.segments[0]!.start, t.segments[2]!.start, t.segments[4]!.start];
    expect(starts[0]).toBe(0);
    expect(Math.abs(starts[1]! - 4)).toBeLessThan(0.1);
    expect(Math.abs(starts[2]! - 8)).toBeLessThan(0.1);
    for (let i = 1; i < t.segments.length; i++) expect(Math.abs(t.segments[i]!.start - t.segments[i - 1]!.end)).toBeLessThan(0.1);
    expect(Math.abs(t.segments.at(-1)!.end - 10)).toBeLessThan(0.15);
    // The chunks are gone; nothing but outputs stays in the work directory.
    expect(await readdir(path.join(run.workDir, "transcription"))).toEqual([]);
  });

  it("transcribes the audio track of a video; a video without audio is SKIPPED", async () => {
    received = [];
    const config = { url, model: "whisper-1" };
    const out = done(await analyze(files["turned.mp4"]!, "video/mp4", { transcription: config }), "transcription");
    expect(out.metadata).toMatchObject({ chunks: 1 });
    expect(received).toHaveLength(1);
    expect(received[0]!.auth).toBeUndefined();
    // 2 s of sound; MP3 encoder padding and AAC priming make the chunk a little longer.
    expect(Math.abs(received[0]!.chunkSeconds - 2)).toBeLessThan(0.2);

    const silent = await analyze(files["silent.mp4"]!, "video/mp4", { transcription: config });
    expect(silent.results.find((r) => r.step === "transcription")).toMatchObject({ state: "SKIPPED", reason: "the file has no audio track" });
    expect(silent.results.find((r) => r.step === "video")).toMatchObject({ state: "DONE" });
    expect(received).toHaveLength(1);
  });

  it("endpoint errors fail the step: 5xx retryable, 4xx not", async () => {
    const config = { url, model: "whisper-1" };
    try {
      failWith = 503;
      const unavailable = await analyze(files["tone.wav"]!, "audio/wav", { transcription: config });
      expect(unavailable.results[1]).toMatchObject({ step: "transcription", state: "FAILED", code: "UPSTREAM", retryable: true });
      failWith = 401;
      const refused = await analyze(files["tone.wav"]!, "audio/wav", { transcription: config });
      expect(refused.results[1]).toMatchObject({ step: "transcription", state: "FAILED", code: "UPSTREAM", retryable: false });
      expect((refused.results[1] as any).reason).toMatch(/^transcription endpoint answered 401: /);
    } finally {
      failWith = undefined;
    }
  });
});
