// Writing derived images (thumbnails, posters, page images) into a step's work
// directory, always as WebP without metadata (sharp writes none unless asked),
// and describing them for the caller.
import { stat } from "node:fs/promises";
import path from "node:path";
import sharp, { type ResizeOptions, type Sharp } from "sharp";
import type { DerivedFile } from "./analyzer.ts";

/** Long edges of the thumbnails every visual analyzer makes. */
export const THUMBNAIL_EDGES = [1024, 256] as const;

const WEBP = { quality: 80, effort: 2 } as const; // effort 2: most of the size win at a fraction of effort 4's time

/** `role` "thumbnail:256" becomes the file name "thumbnail-256.webp". */
export const derivedPath = (workDir: string, role: string) => path.join(workDir, `${role.replace(/[^a-z0-9]+/gi, "-")}.webp`);

/** Encodes `image` (a pipeline that already has its size) as WebP under `role`. */
export async function writeWebp(image: Sharp, workDir: string, role: string): Promise<DerivedFile> {
  const file = derivedPath(workDir, role);
  const info = await image.webp(WEBP).toFile(file);
  const { size } = await stat(file);
  return { role, path: file, contentType: "image/webp", size, width: info.width, height: info.height };
}

/** Fits within an edge x edge box, never enlarging. */
export const fitInside = (edge: number): ResizeOptions => ({ width: edge, height: edge, fit: "inside", withoutEnlargement: true });

export type RawImage = { data: Buffer; width: number; height: number; channels: 1 | 2 | 3 | 4 };

export const fromRaw = (img: RawImage) => sharp(img.data, { raw: { width: img.width, height: img.height, channels: img.channels } });

/**
 * The standard set from one decoded, oriented image of at most 1024 px: "thumbnail:1024" and
 * "thumbnail:256" (WebP), and a thumbhash of a <= 100 px copy. Deriving the small sizes from the
 * decoded pixels keeps it to one decode of the source.
 */
export async function thumbnailSet(decoded: RawImage, workDir: string, rolePrefix = "thumbnail"): Promise<{ files: DerivedFile[]; thumbhash: string }> {
  const files: DerivedFile[] = [];
  for (const edge of THUMBNAIL_EDGES) files.push(await writeWebp(fromRaw(decoded).resize(fitInside(edge)), workDir, `${rolePrefix}:${edge}`));
  const { rgbaToThumbHash } = await import("thumbhash");
  const tiny = await fromRaw(decoded).resize(fitInside(100)).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const hash = rgbaToThumbHash(tiny.info.width, tiny.info.height, tiny.data);
  return { files, thumbhash: Buffer.from(hash).toString("base64") };
}

/** Decodes `source` (already oriented, resized as needed) to 8-bit sRGB pixels (3 or 4 channels). */
export async function decodeRaw(source: Sharp): Promise<RawImage> {
  const { data, info } = await source.toColourspace("srgb").raw({ depth: "uchar" }).toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}
