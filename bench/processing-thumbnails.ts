// Thumbnails through the processing pipeline against sharp called directly on
// the same files, in the same run (issue 12, point 8). The pipeline case is
// the `blob.analyze.images` handler (processing.analyze): the blob downloaded
// from the store to a temp file, the image analyzer, both thumbnails stored as
// DERIVED blobs, every step state written with its event. Its job reruns the
// step (reprocess resets it to QUEUED first, outside the timing). The direct
// case is the obvious sharp code for the same two WebP thumbnails. Both run one
// file at a time (a worker slot's view); rounds alternate, best round counts.
// Also reported (not gated): end to end through pg-boss with the default pool
// (2 workers), a backlog of reprocessed files drained by the running workers.
//
//   npx tsx bench/processing-thumbnails.ts      BENCH_PIPELINE_ROUNDS=7 ...
import { mkdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { transactionWithEvents } from "../src/events/event-log.ts";
import { log, round, runBench } from "./_support.ts";

const MIN_RATIO = 0.8;
const ROUNDS = Number(process.env.BENCH_PIPELINE_ROUNDS ?? 5);
const WEBP = { quality: 80, effort: 2 } as const;
const FIT = (edge: number) => ({ width: edge, height: edge, fit: "inside", withoutEnlargement: true }) as const;

async function makePhotos(dir: string) {
  const specs = [
    { name: "a.jpg", width: 4000, height: 3000, type: "image/jpeg" },
    { name: "b.jpg", width: 2000, height: 1500, type: "image/jpeg" },
    { name: "c.jpg", width: 1500, height: 2000, type: "image/jpeg" },
    { name: "d.png", width: 1600, height: 1200, type: "image/png" },
  ];
  await mkdir(dir, { recursive: true });
  const photos: { file: string; name: string; type: string }[] = [];
  for (const s of specs) {
    const file = path.join(dir, s.name);
    const img = sharp({ create: { width: s.width, height: s.height, channels: 3, background: "#808080", noise: { type: "gaussian", mean: 128, sigma: 40 } } });
    const blurred = sharp(await img.png().toBuffer()).blur(1.5);
    await (s.type === "image/png" ? blurred.png() : blurred.jpeg({ quality: 88 })).withMetadata({ orientation: 6 }).toFile(file);
    photos.push({ file, name: s.name, type: s.type });
  }
  return photos;
}

await runBench("processing-thumbnails", async (env, summary) => {
  const { deps } = env;
  const processing = deps.services.processing;
  const tmp = path.join(os.tmpdir(), `cabinet-bench-pipeline-${process.pid}`);
  try {
    const photos = await makePhotos(path.join(tmp, "in"));
    await deps.startWorkers(0.5);
    const assets: { id: string; blobId: string }[] = [];
    for (const p of photos) {
      const res = await fetch(`${env.url}/api/v1/space/${env.spaceId}/storage/${Buffer.from(`bench/${p.name}`).toString("base64url")}/upload`, {
        method: "POST",
        headers: { authorization: `Bearer ${env.token}`, "content-type": p.type },
        body: new Uint8Array(await readFile(p.file)),
      });
      const { id } = (await res.json()) as { id: string };
      const entry = await deps.prisma.entry.findUniqueOrThrow({ where: { id } });
      assets.push({ id, blobId: entry.blobId! });
    }
    const open = async () => deps.prisma.processingStep.count({ where: { status: { in: ["QUEUED", "RUNNING"] } } });
    const drained = async () => {
      while ((await open()) > 0) await new Promise((r) => setTimeout(r, 10));
    };
    await drained(); // the uploads' own processing
    const derived = await deps.prisma.blob.count({ where: { ownerKind: "DERIVED" } });
    if (derived !== photos.length * 2) throw new Error(`expected ${photos.length * 2} thumbnails after the uploads, found ${derived}`);
    log(`  ok   ${photos.length} uploads processed by the workers: ${derived} thumbnails stored`);

    const requeue = (a: { blobId: string }) =>
      transactionWithEvents(deps.prisma, async (tx) => processing.enqueue(tx, await tx.blob.findUniqueOrThrow({ where: { id: a.blobId } })));
    const out = path.join(tmp, "out");

    const directRound = async () => {
      await rm(out, { recursive: true, force: true });
      await mkdir(out, { recursive: true });
      const t0 = performance.now();
      for (const p of photos) {
        const base = path.join(out, p.name);
        await sharp(p.file).autoOrient().resize(FIT(1024)).webp(WEBP).toFile(`${base}-1024.webp`);
        await sharp(p.file).autoOrient().resize(FIT(256)).webp(WEBP).toFile(`${base}-256.webp`);
      }
      return (photos.length * 2 * 1000) / (performance.now() - t0);
    };
    // The step is reset without a job (the running workers would race the timed handler for one).
    // Its thumbnails go too (rows and objects, outside the timing), so each round processes a file as if new.
    const reset = async (a: { blobId: string }) => {
      const old = await deps.prisma.blob.findMany({ where: { sourceBlobId: a.blobId } });
      await deps.prisma.blob.deleteMany({ where: { id: { in: old.map((o) => o.id) } } });
      await Promise.all(old.map((o) => deps.blobStore.delete(o.key)));
      await deps.prisma.processingStep.updateMany({ where: { blobId: a.blobId }, data: { status: "QUEUED" } });
    };
    const pipelineRound = async () => {
      let ms = 0;
      for (const a of assets) {
        await reset(a);
        const t0 = performance.now();
        const r = await processing.analyze(a.blobId, "images");
        ms += performance.now() - t0;
        if (r.ran[0] !== "image" || r.failed.length) throw new Error(`image step did not run cleanly: ${JSON.stringify(r)}`);
      }
      return (photos.length * 2 * 1000) / ms;
    };
    await directRound();
    await pipelineRound();
    const direct: number[] = [];
    const pipeline: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      direct.push(await directRound());
      pipeline.push(await pipelineRound());
    }
    const ratio = Math.max(...pipeline) / Math.max(...direct);
    log(`  ${photos.length} photos (12, 3, 3 and 2 MP), 2 thumbnails each, ${ROUNDS} rounds, best round`);
    log(
      `  sharp directly           ${Math.max(...direct)
        .toFixed(1)
        .padStart(6)} thumbnails/s`,
    );
    log(
      `  pipeline (job handler)   ${Math.max(...pipeline)
        .toFixed(1)
        .padStart(6)} thumbnails/s`,
    );
    log(`  ratio pipeline / sharp: ${ratio.toFixed(3)} (goal >= ${MIN_RATIO})`);

    // End to end through pg-boss: the running pool (2 workers) takes the reprocessed files (reported only).
    const t0 = performance.now();
    for (const a of assets) await requeue(a);
    await drained();
    const e2e = (photos.length * 2 * 1000) / (performance.now() - t0);
    log(`  end to end (pg-boss, 2 workers, polling 0.5 s): ${e2e.toFixed(1)} thumbnails/s for ${photos.length} files (reported, not gated)`);

    Object.assign(summary, {
      rounds: ROUNDS,
      minRatio: MIN_RATIO,
      directPerSecond: round(Math.max(...direct), 1),
      pipelinePerSecond: round(Math.max(...pipeline), 1),
      ratio: round(ratio, 3),
      endToEndPerSecond: round(e2e, 1),
    });
    if (ratio < MIN_RATIO) {
      summary.error = `the pipeline makes ${ratio.toFixed(3)} of sharp's thumbnails per second, under ${MIN_RATIO}`;
      log(`  FAIL: ${summary.error}`);
      return false;
    }
    return true;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});
