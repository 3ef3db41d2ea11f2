import { ClearShotError } from '../errors/index.js';
import type { ScaleFactor } from './types.js';

/** Largest side the contract accepts (the contract: up to 4096 x 4096). */
export const MAX_SIDE = 4096;
/** Smallest long edge: the auto rule starts at (10, 512], so 10 px and below is refused. */
export const MIN_LONG_EDGE = 11;
/**
 * Largest output, in pixels (8192 x 8192). NOTE: the contract allows an explicit 4x of any
 * input up to 4096 px, which would be 268 MP; that needs several GB and minutes on a
 * CPU, so we refuse outputs above 67 MP with IMAGE_TOO_LARGE (state -5) and a message
 * that says which scale would fit. Documented in the README's limits.
 */
export const MAX_OUTPUT_PIXELS = 8192 * 8192;

/**
 * The contract's auto rule for an empty scale_factor, by the image's long edge:
 * (10,512] -> 4x, (512,1024] -> 2x, (1024,4096] -> 1x.
 */
export function autoScale(width: number, height: number): ScaleFactor {
  const longEdge = Math.max(width, height);
  if (longEdge <= 512) return 4;
  if (longEdge <= 1024) return 2;
  return 1;
}

/** Throws IMAGE_TOO_LARGE / IMAGE_TOO_SMALL for dimensions outside the contract. */
export function checkDimensions(width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new ClearShotError('INVALID_IMAGE', `invalid image dimensions ${width}x${height}`);
  }
  if (width > MAX_SIDE || height > MAX_SIDE) {
    throw new ClearShotError('IMAGE_TOO_LARGE', `image is ${width}x${height}; the limit is ${MAX_SIDE}x${MAX_SIDE}`);
  }
  if (Math.max(width, height) < MIN_LONG_EDGE) {
    throw new ClearShotError('IMAGE_TOO_SMALL', `image is ${width}x${height}; the long edge must be at least ${MIN_LONG_EDGE} px`);
  }
}

export function resolveScale(requested: ScaleFactor | undefined, width: number, height: number): ScaleFactor {
  return requested ?? autoScale(width, height);
}

/** Throws IMAGE_TOO_LARGE when width x height at `scale` would exceed MAX_OUTPUT_PIXELS. */
export function checkOutput(width: number, height: number, scale: number): void {
  const pixels = width * scale * height * scale;
  if (pixels <= MAX_OUTPUT_PIXELS) return;
  const fits = [2, 1].find((s) => s < scale && width * s * height * s <= MAX_OUTPUT_PIXELS);
  throw new ClearShotError(
    'IMAGE_TOO_LARGE',
    `a ${scale}x result would be ${width * scale}x${height * scale} (${(pixels / 1e6).toFixed(0)} MP); the largest output is ${MAX_OUTPUT_PIXELS / 1e6} MP (8192x8192)` +
      (fits ? `: use scale_factor ${fits}` : ''),
  );
}
