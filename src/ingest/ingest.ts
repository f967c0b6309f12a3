// Stores one incoming stream as a blob: bytes flow source -> meter (count,
// hash, limit) -> sniffer (holds back only the head until it has decided the
// content type, or refused it) -> blob store. Every upload path ends here.
// On any failure nothing is left under `key` and the source is drained.
// Failures are told apart by where they started: the source (the client hung
// up, or sent a broken body) is UPLOAD_INTERRUPTED, the client's side; an
// AppError (a limit, the content type, a URL import's fetch) is itself; the
// rest is the store's (STORAGE_UNAVAILABLE).
import type { Readable } from "node:stream";
import { AppError, errors } from "../errors.ts";
import type { BlobStore } from "../storage/blob-store.ts";
import { ContentTypeSniffer } from "./content-type.ts";
import { MeteredStream } from "./metered-stream.ts";

export type IngestLimits = {
  /** Bytes the file may have at most (min of file-size limit and quota left). */
  limitBytes: number;
  /** The error for crossing `limitBytes`. */
  onLimit: (limit: number) => AppError;
};

export type Ingested = { contentType: string; size: bigint; sha256: string };

export async function ingest(blobStore: BlobStore, key: string, source: Readable, options: IngestLimits & { declaredType?: string | null }): Promise<Ingested> {
  const meter = new MeteredStream(options.limitBytes, options.onLimit);
  const sniffer = new ContentTypeSniffer(options.declaredType);
  let sourceError: unknown;
  source.on("error", (e) => {
    sourceError ??= e;
    meter.destroy(e);
  });
  // The store's pipeline (or the sniffer's decision) reports these errors; the
  // listeners only stop the source feeding a destroyed stream, pass the meter's
  // error on, and keep a late duplicate error from going uncaught.
  meter.on("error", (e) => {
    source.unpipe(meter);
    sniffer.destroy(e);
  });
  sniffer.on("error", () => meter.unpipe(sniffer));
  try {
    const { contentType } = await source.pipe(meter).pipe(sniffer).decision;
    await blobStore.put(key, sniffer, { contentType });
    return { contentType, size: BigInt(meter.bytes), sha256: meter.sha256() };
  } catch (e) {
    source.unpipe(meter);
    source.resume(); // drain whatever the client still sends
    if (e instanceof AppError) throw e;
    if (sourceError !== undefined) throw sourceError instanceof AppError ? sourceError : errors.uploadInterrupted(sourceError);
    throw errors.storageUnavailable(e);
  }
}
