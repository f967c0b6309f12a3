// Model-sized image variants: an image (or a rendered PDF page) scaled to the
// size a provider reads (modules/model-input/image-size.ts) and encoded as one
// of the types every provider takes. Streams in, streams out: sharp decodes
// sequentially (libvips holds a window of rows, not the whole decoded image) and
// the output is at most the provider's size, so memory is bounded by the image's
// width and the target, not by the file.
import type { Readable } from "node:stream";
import sharp, { type Sharp } from "sharp";
import { type ImageProfile, modelImageSize, type Size } from "../modules/model-input/image-size.ts";
import { DEFAULT_LIMITS } from "./analyzer.ts";

export type ModelImageOptions = {
  /** Displayed size of the source (orientation applied), as processing stored it. */
  source: Size;
  /** Refuse inputs declaring more pixels (decompression bombs); sharp's default. */
  maxInputPixels?: number;
  /** "image/webp" (default: smallest for photos and screenshots alike) or "image/jpeg" / "image/png". */
  format?: "image/webp" | "image/jpeg" | "image/png";
};

/**
 * A transform stream: original image bytes in, the `profile` variant out. The output size is
 * modelImageSize(profile, source) (resize with fit "fill" to exactly that size, so callers can
 * record it before encoding finishes); EXIF orientation is applied, metadata dropped.
 */
export function modelImageTransform(profile: ImageProfile, options: ModelImageOptions): { stream: Sharp; size: Size; mimeType: string } {
  const size = modelImageSize(profile, options.source);
  const format = options.format ?? "image/webp";
  let pipeline = sharp({ limitInputPixels: options.maxInputPixels ?? DEFAULT_LIMITS.maxInputPixels, sequentialRead: true, failOn: "error" })
    .autoOrient()
    .resize({ width: size.width, height: size.height, fit: "fill" });
  if (format === "image/webp") pipeline = pipeline.webp({ quality: 85, effort: 2 });
  else if (format === "image/jpeg") pipeline = pipeline.flatten({ background: "#ffffff" }).jpeg({ quality: 85, mozjpeg: false });
  else pipeline = pipeline.png({ compressionLevel: 6 });
  return { stream: pipeline, size, mimeType: format };
}

/** Convenience for base64 delivery: the whole variant as a Buffer (bounded by the target size, not the source's). */
export async function modelImageBuffer(
  input: Readable,
  profile: ImageProfile,
  options: ModelImageOptions,
): Promise<{ data: Buffer; mimeType: string; size: Size }> {
  const { stream, size, mimeType } = modelImageTransform(profile, options);
  // pipe() does not pass a source error on: fail the promise with it instead of waiting forever.
  const failed = new Promise<never>((_, reject) => input.once("error", reject));
  const done = stream.toBuffer();
  input.pipe(stream);
  try {
    return { data: await Promise.race([done, failed]), mimeType, size };
  } catch (e) {
    stream.destroy();
    input.destroy();
    throw e;
  }
}
