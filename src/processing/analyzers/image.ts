// Images through sharp: dimensions, format, orientation, colour space, alpha, an
// EXIF allow-list; thumbnails (EXIF orientation applied, no metadata kept) and a
// thumbhash placeholder. The declared pixel count is checked before any pixel is
// decoded, and sharp enforces the same limit itself, so a decompression bomb (a
// tiny file declaring a huge canvas) FAILS instead of allocating gigabytes.
import sharp from "sharp";
import { type Analyzer, AnalyzerError, asCorrupt, type ImageMetadata, isMime } from "../analyzer.ts";
import { decodeRaw, fitInside, thumbnailSet, THUMBNAIL_EDGES } from "../derived-files.ts";
import { pickExif } from "../exif.ts";

// SVG is left out on purpose: rendering it runs librsvg on untrusted XML.
const IMAGE_TYPES = ["image/png", "image/jpeg", "image/webp", "image/gif", "image/avif", "image/heic", "image/heif", "image/tiff"];

export type ImageAnalyzerOptions = { storeGps?: boolean };

export function imageAnalyzer(options: ImageAnalyzerOptions = {}): Analyzer<ImageMetadata> {
  return {
    name: "image",
    kind: "images",
    timeoutMs: 60_000,
    accepts: (blob) => isMime(blob.contentType, ...IMAGE_TYPES),
    async analyze(ctx) {
      // failOn "error": reject broken pixel data (truncated files included), tolerate mere warnings.
      const input = () => sharp(ctx.inputPath, { limitInputPixels: ctx.limits.maxInputPixels, sequentialRead: true, failOn: "error" });
      // The header alone, without sharp's limit, so an oversized image is refused below with its dimensions.
      const meta = await sharp(ctx.inputPath, { limitInputPixels: false })
        .metadata()
        .catch((e) => {
          throw overLimit(e, ctx.limits.maxInputPixels) ?? asCorrupt(e, "not a readable image");
        });
      const pixels = meta.width * meta.height;
      if (!(pixels > 0)) throw new AnalyzerError("CORRUPT", "image has no dimensions");
      if (pixels > ctx.limits.maxInputPixels) {
        throw new AnalyzerError("TOO_LARGE", `image declares ${meta.width}x${meta.height} pixels, over the ${ctx.limits.maxInputPixels} pixel limit`);
      }
      ctx.progress(0.2);

      const decoded = await decodeRaw(input().autoOrient().resize(fitInside(THUMBNAIL_EDGES[0]))).catch((e) => {
        throw overLimit(e, ctx.limits.maxInputPixels) ?? asCorrupt(e, "image could not be decoded");
      });
      ctx.progress(0.7);
      const { files, thumbhash } = await thumbnailSet(decoded, ctx.workDir);
      ctx.progress(1);

      const metadata: ImageMetadata = {
        analyzer: "image",
        width: meta.autoOrient.width,
        height: meta.autoOrient.height,
        format: meta.format,
        orientation: meta.orientation ?? 1,
        colorSpace: meta.space,
        hasAlpha: meta.hasAlpha,
        exif: pickExif(meta.exif, { storeGps: options.storeGps ?? false }),
      };
      return { metadata, files, placeholder: { kind: "thumbhash", base64: thumbhash } };
    },
  };
}

/** sharp's own pixel-limit refusal (it checks the header in metadata() too) as TOO_LARGE. */
function overLimit(e: unknown, limit: number): AnalyzerError | undefined {
  if (!(e instanceof Error && /pixel limit/i.test(e.message))) return undefined;
  return new AnalyzerError("TOO_LARGE", `image declares more than the ${limit} pixel limit`, { cause: e });
}
