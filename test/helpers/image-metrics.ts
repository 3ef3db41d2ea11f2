import sharp from 'sharp';
import { colourspaceOf, viewAs } from '../../src/engine/image/raster.js';
import type { Raster } from '../../src/engine/types.js';

/** Decodes any image to a raster of its own channel count and depth (no colour conversion). */
export async function readRaster(input: string | Uint8Array): Promise<Raster> {
  const meta = await sharp(input).metadata();
  const depth = meta.depth === 'ushort' ? 16 : 8;
  const { data, info } = await sharp(input)
    .keepIccProfile()
    .toColourspace(colourspaceOf(meta.channels ?? 3, depth))
    .raw({ depth: depth === 16 ? 'ushort' : 'uchar' })
    .toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, channels: info.channels as Raster['channels'], depth, data: viewAs(data, depth) };
}

export interface Region {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** PSNR in dB over a region (default: all), values normalised to [0, 1] by each raster's depth. */
export function psnr(a: Raster, b: Raster, region?: Region): number {
  if (a.width !== b.width || a.height !== b.height || a.channels !== b.channels) {
    throw new Error(`size mismatch ${a.width}x${a.height}x${a.channels} vs ${b.width}x${b.height}x${b.channels}`);
  }
  const r = region ?? { x: 0, y: 0, width: a.width, height: a.height };
  const ka = 1 / (a.depth === 16 ? 65535 : 255);
  const kb = 1 / (b.depth === 16 ? 65535 : 255);
  let se = 0;
  let n = 0;
  for (let y = r.y; y < r.y + r.height; y++) {
    for (let x = r.x; x < r.x + r.width; x++) {
      for (let c = 0; c < a.channels; c++) {
        const i = (y * a.width + x) * a.channels + c;
        const d = a.data[i]! * ka - b.data[i]! * kb;
        se += d * d;
        n++;
      }
    }
  }
  return se === 0 ? Infinity : 10 * Math.log10(n / se);
}

/** Largest absolute difference of two same-shape rasters' samples (in their own units) and the share of samples that differ. */
export function sampleDiff(a: Raster, b: Raster): { max: number; differ: number; share: number } {
  let max = 0;
  let differ = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = Math.abs(a.data[i]! - b.data[i]!);
    if (d > 0) differ++;
    max = Math.max(max, d);
  }
  return { max, differ, share: differ / a.data.length };
}

/** Sorted absolute differences in 8-bit levels over a region. */
export function absDiffs(a: Raster, b: Raster, region?: Region): number[] {
  const r = region ?? { x: 0, y: 0, width: a.width, height: a.height };
  const ka = 255 / (a.depth === 16 ? 65535 : 255);
  const kb = 255 / (b.depth === 16 ? 65535 : 255);
  const out: number[] = [];
  for (let y = r.y; y < r.y + r.height; y++) {
    for (let x = r.x; x < r.x + r.width; x++) {
      for (let c = 0; c < a.channels; c++) {
        const i = (y * a.width + x) * a.channels + c;
        out.push(Math.abs(Math.round(a.data[i]! * ka) - Math.round(b.data[i]! * kb)));
      }
    }
  }
  return out.sort((p, q) => p - q);
}

export function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))]!;
}

/** Luma (BT.601) of an RGB or gray raster, in 8-bit units, as floats. */
export function luma(r: Raster): Float32Array {
  const n = r.width * r.height;
  const out = new Float32Array(n);
  const k = r.depth === 16 ? 255 / 65535 : 1;
  const d = r.data;
  if (r.channels <= 2) {
    for (let i = 0; i < n; i++) out[i] = d[i * r.channels]! * k;
  } else {
    for (let i = 0, j = 0; i < n; i++, j += r.channels) out[i] = (0.299 * d[j]! + 0.587 * d[j + 1]! + 0.114 * d[j + 2]!) * k;
  }
  return out;
}

function gaussianBlur(src: Float32Array, width: number, height: number): Float32Array {
  // 11-tap Gaussian, sigma 1.5, as in Wang et al. (2004); borders clamp.
  const taps = Array.from({ length: 11 }, (_, i) => Math.exp(-((i - 5) ** 2) / (2 * 1.5 * 1.5)));
  const sum = taps.reduce((a, b) => a + b, 0);
  const w = taps.map((t) => t / sum);
  const tmp = new Float32Array(src.length);
  const out = new Float32Array(src.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let acc = 0;
      for (let k = -5; k <= 5; k++) acc += w[k + 5]! * src[y * width + Math.min(width - 1, Math.max(0, x + k))]!;
      tmp[y * width + x] = acc;
    }
  }
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let acc = 0;
      for (let k = -5; k <= 5; k++) acc += w[k + 5]! * tmp[Math.min(height - 1, Math.max(0, y + k)) * width + x]!;
      out[y * width + x] = acc;
    }
  }
  return out;
}

/** Mean SSIM on luma (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03). */
export function ssim(a: Raster, b: Raster): number {
  if (a.width !== b.width || a.height !== b.height) throw new Error('size mismatch');
  const { width, height } = a;
  const x = luma(a);
  const y = luma(b);
  const n = x.length;
  const xx = new Float32Array(n);
  const yy = new Float32Array(n);
  const xy = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    xx[i] = x[i]! * x[i]!;
    yy[i] = y[i]! * y[i]!;
    xy[i] = x[i]! * y[i]!;
  }
  const [mx, my, sxx, syy, sxy] = [x, y, xx, yy, xy].map((m) => gaussianBlur(m, width, height)) as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];
  const c1 = (0.01 * 255) ** 2;
  const c2 = (0.03 * 255) ** 2;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const ux = mx[i]!;
    const uy = my[i]!;
    const vx = sxx[i]! - ux * ux;
    const vy = syy[i]! - uy * uy;
    const cxy = sxy[i]! - ux * uy;
    total += ((2 * ux * uy + c1) * (2 * cxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
  }
  return total / n;
}

/** Prewitt gradient magnitude of a plane (borders clamped). */
function prewitt(p: Float32Array, width: number, height: number): Float32Array {
  const out = new Float32Array(width * height);
  const at = (x: number, y: number) => p[Math.min(height - 1, Math.max(0, y)) * width + Math.min(width - 1, Math.max(0, x))]!;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const gx = (at(x + 1, y - 1) + at(x + 1, y) + at(x + 1, y + 1) - at(x - 1, y - 1) - at(x - 1, y) - at(x - 1, y + 1)) / 3;
      const gy = (at(x - 1, y + 1) + at(x, y + 1) + at(x + 1, y + 1) - at(x - 1, y - 1) - at(x, y - 1) - at(x + 1, y - 1)) / 3;
      out[y * width + x] = Math.sqrt(gx * gx + gy * gy);
    }
  }
  return out;
}

/** 2x2 average pooling (odd last row/column dropped). */
function pool2(p: Float32Array, width: number, height: number): { plane: Float32Array; width: number; height: number } {
  const w = Math.floor(width / 2);
  const h = Math.floor(height / 2);
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = 2 * y * width + 2 * x;
      out[y * w + x] = (p[i]! + p[i + 1]! + p[i + width]! + p[i + width + 1]!) / 4;
    }
  }
  return { plane: out, width: w, height: h };
}

/**
 * Gradient Magnitude Similarity Deviation (Xue, Zhang, Mou and Bovik 2014): the
 * standard deviation over the image of the gradient-magnitude similarity between a
 * distorted image and its reference, on luma pooled 2x2, Prewitt gradients, c = 170
 * (for 8-bit levels). 0 = identical; it grows with blur as with artefacts, so a
 * smoothed image does not score well (unlike PSNR, which rewards it).
 */
export function gmsd(distorted: Raster, reference: Raster): number {
  if (distorted.width !== reference.width || distorted.height !== reference.height) throw new Error('size mismatch');
  const a = pool2(luma(distorted), distorted.width, distorted.height);
  const b = pool2(luma(reference), reference.width, reference.height);
  const ga = prewitt(a.plane, a.width, a.height);
  const gb = prewitt(b.plane, b.width, b.height);
  const c = 170;
  const n = ga.length;
  let sum = 0;
  let sum2 = 0;
  for (let i = 0; i < n; i++) {
    const s = (2 * ga[i]! * gb[i]! + c) / (ga[i]! * ga[i]! + gb[i]! * gb[i]! + c);
    sum += s;
    sum2 += s * s;
  }
  const mean = sum / n;
  return Math.sqrt(Math.max(0, sum2 / n - mean * mean));
}

/** Mean squared Prewitt gradient of luma: detail energy, to compare an output's sharpness with the original's. */
export function gradientEnergy(r: Raster): number {
  const g = prewitt(luma(r), r.width, r.height);
  let s = 0;
  for (let i = 0; i < g.length; i++) s += g[i]! * g[i]!;
  return s / g.length;
}
