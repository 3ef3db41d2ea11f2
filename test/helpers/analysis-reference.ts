import type { Raster } from '../../src/engine/types.js';

/**
 * REFERENCE: the input analysis's measurements exactly as the engine computed them before
 * issue 21 (straightforward loops: a copy of the centred window, clamps and block indices
 * per pixel, one running sum over the whole plane), kept as the yardstick for the engine's
 * band kernels (src/engine/adapt/analysis.ts, analysis-kernels.ts): luma and noise must
 * match it bit for bit; blocking and sharpness within 1e-8 relative, because the kernels
 * add each row's sums in order and restart the vertical column sums every 64 rows (so
 * that any split over threads gives the same figures). Not used by the engine.
 */

export function lumaPlaneRef(src: Raster): Float32Array {
  const n = src.width * src.height;
  const out = new Float32Array(n);
  const k = src.depth === 16 ? 1 / 257 : 1;
  const d = src.data;
  if (src.channels <= 2) {
    for (let i = 0, j = 0; i < n; i++, j += src.channels) out[i] = d[j]! * k;
  } else {
    const c = src.channels;
    for (let i = 0, j = 0; i < n; i++, j += c) out[i] = (0.299 * d[j]! + 0.587 * d[j + 1]! + 0.114 * d[j + 2]!) * k;
  }
  return out;
}

const NOISE_BLOCK = 16;

export function estimateNoiseRef(luma: Float32Array, width: number, height: number): number {
  const bw = Math.floor((width - 2) / NOISE_BLOCK);
  const bh = Math.floor((height - 2) / NOISE_BLOCK);
  if (bw < 1 || bh < 1) return 0;
  const sums = new Float64Array(bw * bh);
  for (let y = 1; y <= bh * NOISE_BLOCK; y++) {
    const row = y * width;
    const by = Math.floor((y - 1) / NOISE_BLOCK) * bw;
    for (let x = 1; x <= bw * NOISE_BLOCK; x++) {
      const i = row + x;
      const v =
        luma[i - width - 1]! - 2 * luma[i - width]! + luma[i - width + 1]! -
        2 * luma[i - 1]! + 4 * luma[i]! - 2 * luma[i + 1]! +
        luma[i + width - 1]! - 2 * luma[i + width]! + luma[i + width + 1]!;
      sums[by + Math.floor((x - 1) / NOISE_BLOCK)]! += Math.abs(v);
    }
  }
  const sigmas = Array.from(sums, (s) => (s / (NOISE_BLOCK * NOISE_BLOCK)) * Math.sqrt(Math.PI / 2) / 6).sort((a, b) => a - b);
  const tenth = sigmas.slice(0, Math.max(1, Math.floor(sigmas.length / 10)));
  return tenth.reduce((a, b) => a + b, 0) / tenth.length;
}

export function estimateSharpnessRef(luma: Float32Array, width: number, height: number): number {
  if (width < 10 || height < 10) return 0;
  const r = 4;
  // Horizontal: a 9-tap box along each row.
  let sumF = 0;
  let sumV = 0;
  const blurred = new Float32Array(width);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    let acc = 0;
    for (let k = -r; k <= r; k++) acc += luma[row + Math.min(width - 1, Math.max(0, k))]!;
    for (let x = 0; x < width; x++) {
      blurred[x] = acc / 9;
      acc += luma[row + Math.min(width - 1, x + r + 1)]! - luma[row + Math.max(0, x - r)]!;
    }
    for (let x = 1; x < width; x++) {
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
    for (let x = 0; x < width; x++) {
      const b = sums[x]! / 9;
      if (y > 0) {
        const dF = Math.abs(luma[row + x]! - luma[row - width + x]!);
        sumF += dF;
        sumV += Math.max(0, dF - Math.abs(b - previous[x]!));
      }
      previous[x] = b;
      sums[x]! += luma[add + x]! - luma[drop + x]!;
    }
  }
  const vertical = sumF > 0 ? sumV / sumF : 0;
  return (horizontal + vertical) / 2;
}

export function estimateBlockingRef(luma: Float32Array, width: number, height: number): number {
  if (width < 16 || height < 16) return 1;
  let border = 0;
  let inner = 0;
  let nb = 0;
  let ni = 0;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 1; x < width; x++) {
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
  for (let y = 1; y < height; y++) {
    const row = y * width;
    const edge = (y & 7) === 0;
    for (let x = 0; x < width; x++) {
      const d = Math.abs(luma[row + x]! - luma[row - width + x]!);
      if (edge) {
        border += d;
        nb++;
      } else {
        inner += d;
        ni++;
      }
    }
  }
  const b = border / nb;
  const i = inner / ni;
  return i > 0 ? b / i : 1;
}

const ANALYSIS_WINDOW = 2048;

/** The centred window the analysis reads. */
export function analysisWindowRef(src: Raster): Raster {
  if (src.width <= ANALYSIS_WINDOW && src.height <= ANALYSIS_WINDOW) return src;
  const w = Math.min(src.width, ANALYSIS_WINDOW);
  const h = Math.min(src.height, ANALYSIS_WINDOW);
  const x0 = Math.floor((src.width - w) / 16) * 8;
  const y0 = Math.floor((src.height - h) / 16) * 8;
  const ch = src.channels;
  const data = src.depth === 16 ? new Uint16Array(w * h * ch) : new Uint8Array(w * h * ch);
  for (let y = 0; y < h; y++) {
    const start = ((y0 + y) * src.width + x0) * ch;
    data.set(src.data.subarray(start, start + w * ch), y * w * ch);
  }
  return { width: w, height: h, channels: src.channels, depth: src.depth, data };
}
