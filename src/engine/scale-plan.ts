import { DEFAULT_MAX_NET_PIXELS, type ScaleFactor } from './types.js';

/**
 * How a target scale is reached with a x4 network.
 *
 * The image is first shrunk by `preDownscale` (1 = not at all), run through the x4
 * network, and the network's output is resized to the exact target size with a
 * Lanczos filter. Chosen by measuring quality (PSNR/SSIM against clean originals)
 * and time; the numbers are in docs/BENCHMARKS.md ("Scale strategy"):
 *
 * - 4x: the network as is.
 * - 2x: the network at full input size, then halved. Pre-halving the input instead is
 *   4x cheaper but loses 2 dB and 0.06 SSIM.
 * - 1x: shrink by 1.5, network, resize. The knee of the curve: +0.5 dB and +0.03 SSIM
 *   over the degraded input at 0.44x the cost of running at full size; shrinking by 2
 *   gains almost no PSNR, by 4 is worse than the input itself.
 *
 * A compute budget caps the network's input at `maxNetPixels`: larger images are
 * shrunk a little more (never so far that the output would need classical upscaling),
 * so that a 4096 x 4096 image stays within the service's time target on a CPU.
 */
export interface ScalePlan {
  readonly preDownscale: number;
  readonly netInput: { readonly width: number; readonly height: number };
  readonly netOutput: { readonly width: number; readonly height: number };
  readonly output: { readonly width: number; readonly height: number };
}

export type PreDownscaleTable = Readonly<Record<ScaleFactor, number>>;

/** Minimum pre-downscale per target scale. */
export const DEFAULT_PRE_DOWNSCALE: PreDownscaleTable = { 4: 1, 2: 1, 1: 1.5 };

export { DEFAULT_MAX_NET_PIXELS };

export interface ScalePlanOptions {
  readonly preDownscale?: PreDownscaleTable | undefined;
  readonly maxNetPixels?: number | undefined;
}

export function planScale(width: number, height: number, scale: ScaleFactor, netScale: number, options: ScalePlanOptions = {}): ScalePlan {
  const table = options.preDownscale ?? DEFAULT_PRE_DOWNSCALE;
  const budget = options.maxNetPixels ?? DEFAULT_MAX_NET_PIXELS;
  const wanted = Math.max(table[scale], Math.sqrt((width * height) / budget));
  // Never shrink so far that the network's output would need classical upscaling.
  const pre = Math.max(1, Math.min(wanted, netScale / scale));
  const netInput = { width: Math.max(1, Math.round(width / pre)), height: Math.max(1, Math.round(height / pre)) };
  return {
    preDownscale: pre,
    netInput,
    netOutput: { width: netInput.width * netScale, height: netInput.height * netScale },
    output: { width: width * scale, height: height * scale },
  };
}
