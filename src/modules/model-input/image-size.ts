// The size a provider wants an image in. Both providers downscale larger images
// themselves, but only after the bytes crossed the network and counted against
// the request's size limit, and (for OpenAI) the token bill is computed on the
// downscaled size anyway: sending the size they would pick costs nothing and saves
// both. Never enlarges. Pure; the pixels are made by processing/model-image.ts.

/** Whose recommendation an image is sized for. */
export type ImageProfile = "ANTHROPIC" | "OPENAI";

export type Size = { width: number; height: number };

/** Anthropic: the long edge at most 1568 px (larger images are scaled down before the model sees them). */
export const ANTHROPIC_MAX_LONG_EDGE = 1568;
/** OpenAI ("high" detail): fit within 2048 x 2048, then the short side at most 768 px. */
export const OPENAI_MAX_BOX = 2048;
export const OPENAI_MAX_SHORT_SIDE = 768;

/** The target size of `source` for `profile`: the same size when it already fits, else scaled down keeping the aspect ratio. */
export function modelImageSize(profile: ImageProfile, source: Size): Size {
  const { width, height } = source;
  if (!(Number.isFinite(width) && Number.isFinite(height) && width > 0 && height > 0)) {
    throw new RangeError(`image size must be positive, got ${width}x${height}`);
  }
  let scale: number;
  if (profile === "ANTHROPIC") {
    scale = Math.min(1, ANTHROPIC_MAX_LONG_EDGE / Math.max(width, height));
  } else {
    const box = Math.min(1, OPENAI_MAX_BOX / Math.max(width, height));
    scale = box * Math.min(1, OPENAI_MAX_SHORT_SIDE / (Math.min(width, height) * box));
  }
  if (scale >= 1) return { width, height };
  // The binding edge comes out at its bound (up to float error, which rounding removes).
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}
