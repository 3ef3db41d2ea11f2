import type { Raster } from '../types.js';
import { GRADIENT_SLOTS, G_BORDER_X, G_BORDER_Y, G_INNER_X, G_INNER_Y, G_SHARP_F, G_SHARP_V, NOISE_BLOCK, SHARP_CHUNK } from './analysis-kernels.js';
import { crewFloat32, crewFloat64, crewFor, type Crew } from './fusion-crew.js';
import { jpegQualityFromTables } from './jpeg-quality.js';

/**
 * What the engine measures on an input before choosing how to restore it (issue 12).
 * Every figure is no-reference (the original is unknown) and cheap: a few passes over
 * the luma plane, well under the network's cost.
 */
export interface ImageAnalysis {
  /**
   * JPEG quality, 1-100. From the quantization tables when the input is a JPEG
   * (`jpegQualitySource: 'tables'`); estimated from the 8x8 blocking of the pixels
   * for other formats that show it (`'blocking'`); undefined when neither applies.
   */
  readonly jpegQuality: number | undefined;
  readonly jpegQualitySource: 'tables' | 'blocking' | undefined;
  /** Noise standard deviation in 8-bit levels (Immerkaer's estimator on the flattest tenth of the image). */
  readonly noise: number;
  /**
   * Sharpness relative to the pixel grid, 0-1: how much detail a 9-tap blur removes
   * (1 - Crete-Roffet's blur metric). About 0.45-0.8 for sharp photos, below 0.4 for
   * blurred or upscaled ones (a Gaussian blur of sigma 2.5: 0.38).
   */
  readonly sharpness: number;
  /** Mean step across 8x8 block borders over the mean step inside blocks (1 = no blocking). */
  readonly blocking: number;
}

/** Luma (BT.601) in 8-bit units. */
export function lumaPlane(src: Raster): Float32Array {
  return lumaOf(src, 0, 0, src.width, src.height);
}

/** Luma of the `w` x `h` window of `src` at (x0, y0), read in place (into `out` if given). */
function lumaOf(src: Raster, x0: number, y0: number, w: number, h: number, out: Float32Array = new Float32Array(w * h)): Float32Array {
  const k = src.depth === 16 ? 1 / 257 : 1;
  const d = src.data;
  const c = src.channels;
  for (let y = 0; y < h; y++) {
    const o = y * w;
    let j = ((y0 + y) * src.width + x0) * c;
    if (c <= 2) {
      for (let x = 0; x < w; x++, j += c) out[o + x] = d[j]! * k;
    } else {
      for (let x = 0; x < w; x++, j += c) out[o + x] = (0.299 * d[j]! + 0.587 * d[j + 1]! + 0.114 * d[j + 2]!) * k;
    }
  }
  return out;
}

/**
 * Immerkaer (1996), "Fast noise variance estimation": the mean absolute response of a
 * mask that cancels linear structure, times sqrt(pi/2)/6, gives the noise sigma. Texture
 * raises it, so it is taken per 16x16 block and the flattest tenth of the blocks decides.
 */
export function estimateNoise(luma: Float32Array, width: number, height: number): number {
  return noiseOf(crewFor(0), luma, width, height);
}

/**
 * Crete-Roffet et al. (2007), "The blur effect": blur the image with a 9-tap box in
 * each direction and see how much of its variation survives; a sharp image loses much,
 * a blurred one little. Returns 1 - blur, the mean of both directions.
 */
export function estimateSharpness(luma: Float32Array, width: number, height: number): number {
  return measure(crewFor(0), luma, width, height).sharpness;
}

/** Blocking of an 8x8 grid anchored at (0, 0), the JPEG grid of an uncropped, unresized image. */
export function estimateBlocking(luma: Float32Array, width: number, height: number): number {
  return measure(crewFor(0), luma, width, height).blocking;
}

/*
 * The sweeps run as kernels over bands of rows (adapt/analysis-kernels.ts) on the fusion's
 * crew when the plane is large enough: each row's partial sums, then the rows in order, so
 * the figures are the same on any number of threads. Their working memory is the crew's
 * ({@link crewFloat32}: shared and kept between calls for a crew; the analysis is
 * synchronous, one call at a time per thread).
 */

function noiseOf(crew: Crew, luma: Float32Array, width: number, height: number): number {
  const bw = Math.floor((width - 2) / NOISE_BLOCK);
  const bh = Math.floor((height - 2) / NOISE_BLOCK);
  if (bw < 1 || bh < 1) return 0;
  const sums = crewFloat64(crew, bw * bh, 'analysis noise').fill(0);
  crew.run({ kind: 'noise', luma, width, bw, sums }, bh);
  const sigmas = Array.from(sums, (s) => (s / (NOISE_BLOCK * NOISE_BLOCK)) * Math.sqrt(Math.PI / 2) / 6).sort((a, b) => a - b);
  const tenth = sigmas.slice(0, Math.max(1, Math.floor(sigmas.length / 10)));
  return tenth.reduce((a, b) => a + b, 0) / tenth.length;
}

/** Blocking (steps on the 8 px grid over steps inside blocks) and sharpness of a luma plane. */
function measure(crew: Crew, luma: Float32Array, width: number, height: number): { blocking: number; sharpness: number } {
  if (width < 10 || height < 10) return { blocking: 1, sharpness: 0 };
  const rows = crewFloat64(crew, height * GRADIENT_SLOTS, 'analysis gradients');
  crew.run({ kind: 'gradients', luma, width, rows }, height);
  const vertical = crewFloat64(crew, height * 2, 'analysis vertical sharpness');
  crew.run({ kind: 'sharp-columns', luma, width, height, rows: vertical }, height, SHARP_CHUNK);
  let border = 0;
  let inner = 0;
  let fx = 0;
  let vx = 0;
  let fy = 0;
  let vy = 0;
  for (let y = 0; y < height; y++) {
    const o = y * GRADIENT_SLOTS;
    border += rows[o + G_BORDER_X]!;
    inner += rows[o + G_INNER_X]!;
    fx += rows[o + G_SHARP_F]!;
    vx += rows[o + G_SHARP_V]!;
    fy += vertical[2 * y]!;
    vy += vertical[2 * y + 1]!;
  }
  for (let y = 1; y < height; y++) {
    border += rows[y * GRADIENT_SLOTS + G_BORDER_Y]!;
    inner += rows[y * GRADIENT_SLOTS + G_INNER_Y]!;
  }
  const sharpness = ((fx > 0 ? vx / fx : 0) + (fy > 0 ? vy / fy : 0)) / 2;
  if (width < 16 || height < 16) return { blocking: 1, sharpness };
  // Steps on the grid: columns 8, 16, ... of every row, and every column of rows 8, 16, ...
  const nb = height * Math.floor((width - 1) / 8) + width * Math.floor((height - 1) / 8);
  const ni = height * (width - 1) + (height - 1) * width - nb;
  const b = border / nb;
  const i = inner / ni;
  return { blocking: i > 0 ? b / i : 1, sharpness };
}

/**
 * Quality that a given blocking ratio corresponds to, for images that lost their JPEG
 * container (a screenshot of a JPEG, a PNG saved from one). Fitted on the benchmark
 * photos saved at known qualities (docs/BENCHMARKS.md, "Adaptive enhancement");
 * undefined below the ratio that clean images reach.
 */
export function qualityFromBlocking(blocking: number): number | undefined {
  if (blocking < BLOCKING_CLEAN) return undefined;
  // Piecewise-linear through measured (ratio, quality) points, clamped to 10-95.
  const points = BLOCKING_CURVE;
  if (blocking <= points[0]![0]) return points[0]![1];
  for (let k = 1; k < points.length; k++) {
    const [b1, q1] = points[k]!;
    const [b0, q0] = points[k - 1]!;
    if (blocking <= b1) return Math.round(q0 + ((blocking - b0) / (b1 - b0)) * (q1 - q0));
  }
  return points[points.length - 1]![1];
}

/** Below this ratio an image shows no JPEG blocking (see qualityFromBlocking). */
export const BLOCKING_CLEAN = 1.12;
/** (blocking ratio, JPEG quality), increasing ratio. */
const BLOCKING_CURVE: ReadonlyArray<readonly [number, number]> = [
  [1.12, 90],
  [1.2, 80],
  [1.35, 65],
  [1.6, 45],
  [2.0, 25],
  [2.6, 10],
];

/** Images above this many pixels are measured on a centred window of this size (8-px aligned, so the JPEG grid stays in place). */
const ANALYSIS_WINDOW = 2048;

/** The centred window of `src` that the analysis reads (the whole image when small), as luma, and the crew that measures it. */
function analysisLuma(src: Raster): { luma: Float32Array; width: number; height: number; crew: Crew } {
  const w = Math.min(src.width, ANALYSIS_WINDOW);
  const h = Math.min(src.height, ANALYSIS_WINDOW);
  const x0 = Math.floor((src.width - w) / 16) * 8;
  const y0 = Math.floor((src.height - h) / 16) * 8;
  const crew = crewFor(w * h);
  return { luma: lumaOf(src, x0, y0, w, h, crewFloat32(crew, w * h, 'analysis luma')), width: w, height: h, crew };
}

export function analyzeImage(image: Raster, bytes: Uint8Array | undefined, format: string | undefined): ImageAnalysis {
  const { luma, width, height, crew } = analysisLuma(image);
  const { blocking, sharpness } = measure(crew, luma, width, height);
  const fromTables = format === 'jpeg' && bytes ? jpegQualityFromTables(bytes) : undefined;
  const estimated = fromTables === undefined ? qualityFromBlocking(blocking) : undefined;
  return {
    jpegQuality: fromTables ?? estimated,
    jpegQualitySource: fromTables !== undefined ? 'tables' : estimated !== undefined ? 'blocking' : undefined,
    noise: noiseOf(crew, luma, width, height),
    sharpness,
    blocking,
  };
}
