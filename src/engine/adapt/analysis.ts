import type { Raster } from '../types.js';
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

/** Luma of the `w` x `h` window of `src` at (x0, y0), read in place. */
function lumaOf(src: Raster, x0: number, y0: number, w: number, h: number): Float32Array {
  const out = new Float32Array(w * h);
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

const NOISE_BLOCK = 16;

/**
 * Immerkaer (1996), "Fast noise variance estimation": the mean absolute response of a
 * mask that cancels linear structure, times sqrt(pi/2)/6, gives the noise sigma. Texture
 * raises it, so it is taken per 16x16 block and the flattest tenth of the blocks decides.
 */
export function estimateNoise(luma: Float32Array, width: number, height: number): number {
  const bw = Math.floor((width - 2) / NOISE_BLOCK);
  const bh = Math.floor((height - 2) / NOISE_BLOCK);
  if (bw < 1 || bh < 1) return 0;
  const sums = new Float64Array(bw * bh);
  // Block by block along each row: each block's sum takes its pixels in the same order as
  // a pixel-by-pixel sweep, without a block index per pixel.
  for (let y = 1; y <= bh * NOISE_BLOCK; y++) {
    const row = y * width;
    const by = Math.floor((y - 1) / NOISE_BLOCK) * bw;
    for (let bx = 0; bx < bw; bx++) {
      let s = sums[by + bx]!;
      const end = row + 1 + (bx + 1) * NOISE_BLOCK;
      for (let i = end - NOISE_BLOCK; i < end; i++) {
        const v =
          luma[i - width - 1]! - 2 * luma[i - width]! + luma[i - width + 1]! -
          2 * luma[i - 1]! + 4 * luma[i]! - 2 * luma[i + 1]! +
          luma[i + width - 1]! - 2 * luma[i + width]! + luma[i + width + 1]!;
        s += Math.abs(v);
      }
      sums[by + bx] = s;
    }
  }
  const sigmas = Array.from(sums, (s) => (s / (NOISE_BLOCK * NOISE_BLOCK)) * Math.sqrt(Math.PI / 2) / 6).sort((a, b) => a - b);
  const tenth = sigmas.slice(0, Math.max(1, Math.floor(sigmas.length / 10)));
  return tenth.reduce((a, b) => a + b, 0) / tenth.length;
}

/**
 * Crete-Roffet et al. (2007), "The blur effect": blur the image with a 9-tap box in
 * each direction and see how much of its variation survives; a sharp image loses much,
 * a blurred one little. Returns 1 - blur, the mean of both directions.
 */
export function estimateSharpness(luma: Float32Array, width: number, height: number): number {
  if (width < 10 || height < 10) return 0;
  const r = 4;
  // Horizontal: a 9-tap box along each row (edge samples repeated), as a running sum
  // whose clamped indices are needed only within r + 1 pixels of either end.
  let sumF = 0;
  let sumV = 0;
  const blurred = new Float32Array(width);
  const headEnd = Math.min(width, r + 1); // x <= r: the dropped sample is the first one
  const bodyEnd = Math.max(headEnd, width - r - 1); // from here the added sample is the last one
  for (let y = 0; y < height; y++) {
    const row = y * width;
    const last = row + width - 1;
    let acc = 0;
    for (let k = -r; k <= r; k++) acc += luma[row + Math.min(width - 1, Math.max(0, k))]!;
    let x = 0;
    for (; x < headEnd; x++) {
      blurred[x] = acc / 9;
      acc += luma[row + Math.min(width - 1, x + r + 1)]! - luma[row]!;
    }
    for (; x < bodyEnd; x++) {
      blurred[x] = acc / 9;
      acc += luma[row + x + r + 1]! - luma[row + x - r]!;
    }
    for (; x < width; x++) {
      blurred[x] = acc / 9;
      acc += luma[last]! - luma[row + Math.max(0, x - r)]!;
    }
    for (x = 1; x < width; x++) {
      const dF = Math.abs(luma[row + x]! - luma[row + x - 1]!);
      sumF += dF;
      sumV += Math.max(0, dF - Math.abs(blurred[x]! - blurred[x - 1]!));
    }
  }
  const horizontal = sumF > 0 ? sumV / sumF : 0;
  // Vertical: running column sums, rows in memory order.
  sumF = 0;
  sumV = 0;
  const sums = new Float32Array(width);
  for (let k = -r; k <= r; k++) {
    const row = Math.min(height - 1, Math.max(0, k)) * width;
    for (let x = 0; x < width; x++) sums[x]! += luma[row + x]!;
  }
  const previous = new Float32Array(width);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    const add = Math.min(height - 1, y + r + 1) * width;
    const drop = Math.max(0, y - r) * width;
    if (y === 0) {
      for (let x = 0; x < width; x++) {
        previous[x] = sums[x]! / 9;
        sums[x]! += luma[add + x]! - luma[drop + x]!;
      }
      continue;
    }
    const above = row - width;
    for (let x = 0; x < width; x++) {
      const b = sums[x]! / 9;
      const dF = Math.abs(luma[row + x]! - luma[above + x]!);
      sumF += dF;
      sumV += Math.max(0, dF - Math.abs(b - previous[x]!));
      previous[x] = b;
      sums[x]! += luma[add + x]! - luma[drop + x]!;
    }
  }
  const vertical = sumF > 0 ? sumV / sumF : 0;
  return (horizontal + vertical) / 2;
}

/** Blocking of an 8x8 grid anchored at (0, 0), the JPEG grid of an uncropped, unresized image. */
export function estimateBlocking(luma: Float32Array, width: number, height: number): number {
  if (width < 16 || height < 16) return 1;
  let border = 0;
  let inner = 0;
  let nb = 0;
  let ni = 0;
  // Across columns: x = 8, 16, ... are block borders. Eight steps at a time (seven inside
  // a block, then its border), each sum taking its steps in the same order as one by one.
  for (let y = 0; y < height; y++) {
    const row = y * width;
    let x = 1;
    for (; x + 8 <= width; x += 8) {
      const i = row + x;
      inner += Math.abs(luma[i]! - luma[i - 1]!);
      inner += Math.abs(luma[i + 1]! - luma[i]!);
      inner += Math.abs(luma[i + 2]! - luma[i + 1]!);
      inner += Math.abs(luma[i + 3]! - luma[i + 2]!);
      inner += Math.abs(luma[i + 4]! - luma[i + 3]!);
      inner += Math.abs(luma[i + 5]! - luma[i + 4]!);
      inner += Math.abs(luma[i + 6]! - luma[i + 5]!);
      border += Math.abs(luma[i + 7]! - luma[i + 6]!);
      ni += 7;
      nb++;
    }
    for (; x < width; x++) {
      const d = Math.abs(luma[row + x]! - luma[row + x - 1]!);
      if ((x & 7) === 0) {
        border += d;
        nb++;
      } else {
        inner += d;
        ni++;
      }
    }
  }
  // Across rows: rows 8, 16, ... start a block.
  for (let y = 1; y < height; y++) {
    const row = y * width;
    const above = row - width;
    if ((y & 7) === 0) {
      for (let x = 0; x < width; x++) border += Math.abs(luma[row + x]! - luma[above + x]!);
      nb += width;
    } else {
      for (let x = 0; x < width; x++) inner += Math.abs(luma[row + x]! - luma[above + x]!);
      ni += width;
    }
  }
  const b = border / nb;
  const i = inner / ni;
  return i > 0 ? b / i : 1;
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

/** The centred window of `src` that the analysis reads (the whole image when small), as luma. */
function analysisLuma(src: Raster): { luma: Float32Array; width: number; height: number } {
  const w = Math.min(src.width, ANALYSIS_WINDOW);
  const h = Math.min(src.height, ANALYSIS_WINDOW);
  const x0 = Math.floor((src.width - w) / 16) * 8;
  const y0 = Math.floor((src.height - h) / 16) * 8;
  return { luma: lumaOf(src, x0, y0, w, h), width: w, height: h };
}

export function analyzeImage(image: Raster, bytes: Uint8Array | undefined, format: string | undefined): ImageAnalysis {
  const { luma, width, height } = analysisLuma(image);
  const blocking = estimateBlocking(luma, width, height);
  const fromTables = format === 'jpeg' && bytes ? jpegQualityFromTables(bytes) : undefined;
  const estimated = fromTables === undefined ? qualityFromBlocking(blocking) : undefined;
  return {
    jpegQuality: fromTables ?? estimated,
    jpegQualitySource: fromTables !== undefined ? 'tables' : estimated !== undefined ? 'blocking' : undefined,
    noise: estimateNoise(luma, width, height),
    sharpness: estimateSharpness(luma, width, height),
    blocking,
  };
}
