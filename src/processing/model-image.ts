// Model-sized image variants: an image (or a rendered PDF page) scaled to the
// size a provider reads (modules/model-input/image-size.ts) and encoded as one
// of the types every provider takes.
//
// Memory: sharp buffers a *stream* input whole before decoding (its writable side
// concatenates the chunks), so a stream is first spooled to a temp file, as the
// pipeline does for analyzers. From a file, libvips decodes sequentially and holds
// a window of rows, so memory is bounded by the image's width and the (small)
// output, not by the file's size.
import { createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import sharp, { type Sharp } from "sharp";
import { type ImageProfile, modelImageSize, type Size } from "../modules/model-input/image-size.ts";
import { DEFAULT_LIMITS } from "./analyzer.ts";

export type ModelImageType = "image/webp" | "image/jpeg" | "image/png";

export type ModelImageOptions = {
  /** Displayed size of the source (orientation applied), as processing stored it. */
  source: Size;
  /** Refuse inputs declaring more pixels (decompression bombs); sharp's default. */
  maxInputPixels?: number;
  /** "image/webp" (default: small for photos and screenshots alike) or "image/jpeg" / "image/png". */
  format?: ModelImageType;
  /** Where a stream input is spooled (default: the OS temp directory). */
  tmpDir?: string;
};

/**
 * The `profile` variant of the image in `file` as a sharp pipeline (call toBuffer(), toFile(), or
 * pipe its output). Its size is modelImageSize(profile, source), known before encoding; EXIF
 * orientation is applied, metadata dropped.
 */
export function modelImagePipeline(file: string, profile: ImageProfile, options: ModelImageOptions): { image: Sharp; size: Size; mimeType: ModelImageType } {
  const size = modelImageSize(profile, options.source);
  const mimeType = options.format ?? "image/webp";
  const image = sharp(file, { limitInputPixels: options.maxInputPixels ?? DEFAULT_LIMITS.maxInputPixels, sequentialRead: true, failOn: "error" })
    .autoOrient()
    .resize({ width: size.width, height: size.height, fit: "fill" });
  if (mimeType === "image/webp") image.webp({ quality: 85, effort: 2 });
  else if (mimeType === "image/jpeg") image.flatten({ background: "#ffffff" }).jpeg({ quality: 85 });
  else image.png({ compressionLevel: 6 });
  return { image, size, mimeType };
}

/** The variant of a streamed image (e.g. from the blob store) as a Buffer, for base64 delivery. The spool file is always removed. */
export async function modelImageFromStream(
  input: Readable,
  profile: ImageProfile,
  options: ModelImageOptions,
): Promise<{ data: Buffer; mimeType: ModelImageType; size: Size }> {
  const dir = await mkdtemp(path.join(options.tmpDir ?? os.tmpdir(), "cabinet-model-image-"));
  try {
    const file = path.join(dir, "source");
    await pipeline(input, createWriteStream(file));
    const { image, size, mimeType } = modelImagePipeline(file, profile, options);
    return { data: await image.toBuffer(), mimeType, size };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
