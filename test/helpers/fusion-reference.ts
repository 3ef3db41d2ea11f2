import { allocRaster } from '../../src/engine/image/raster.js';
import type { Raster } from '../../src/engine/types.js';
import type { ConsistencyOptions, FusionOptions } from '../../src/engine/adapt/fusion.js';
import { DEFAULT_CONSISTENCY } from '../../src/engine/adapt/fusion.js';

/**
 * REFERENCE: the fusion and consistency gate exactly as the engine computed them before
 * issue 21 (straightforward per-pixel loops), kept as the yardstick the engine's faster
 * implementation (src/engine/adapt/fusion.ts) is tested against. Not used by the engine.
 *
 * Fidelity fusion (issue 12): the network's output blended with the classically
 * resized input, per pixel, so that real texture the network erases survives while
 * what it fixes (JPEG blocks, noise, blur, jagged edges) is kept.
 *
 * With B the classical image (the input itself at 1x, Lanczos at 2x/4x) and N the
 * network's output at the same size, D = N - B is everything the network changed.
 * Where the local energy of D stays within what the input's own defects explain
 * (noise and JPEG error, `defect` in 8-bit levels), the change is a repair: trust the
 * network (g = 1). Where D is much larger than that, the network replaced structure
 * the input really has (moss, grass, grain), so g falls towards 0 (a Wiener-style
 * test of the residual). The per-pixel weight of the network is then
 *
 *     w = s ^ (1 + texture * (1 - g))
 *
 * for the request's strength s: exactly B at s = 0, exactly N at s = 1, and in
 * between the network is used less where it would erase texture. Finally the lowest
 * frequencies of the change are taken out again (`tone`): the network shifts the tone
 * of dark areas (a dark photo came out darker), and the input's local mean is right.
 */
/**
 * In-place separable box blur (edges clamped), repeated `passes` times (3 ~ Gaussian).
 * Both passes walk rows in memory order (the vertical one keeps running column sums),
 * so a 12 MP plane takes tens of milliseconds, not seconds.
 */
export function boxBlurRef(src: Float32Array, width: number, height: number, radius: number, passes = 1): Float32Array {
  const r = Math.round(radius);
  if (r < 1) return src;
  const norm = 1 / (2 * r + 1);
  const line = new Float32Array(width);
  const sums = new Float32Array(width);
  const copy = new Float32Array(src.length);
  for (let pass = 0; pass < passes; pass++) {
    for (let y = 0; y < height; y++) {
      const row = y * width;
      let acc = 0;
      for (let k = -r; k <= r; k++) acc += src[row + Math.min(width - 1, Math.max(0, k))]!;
      for (let x = 0; x < width; x++) {
        line[x] = acc * norm;
        acc += src[row + Math.min(width - 1, x + r + 1)]! - src[row + Math.max(0, x - r)]!;
      }
      src.set(line, row);
    }
    copy.set(src);
    sums.fill(0);
    for (let k = -r; k <= r; k++) {
      const row = Math.min(height - 1, Math.max(0, k)) * width;
      for (let x = 0; x < width; x++) sums[x]! += copy[row + x]!;
    }
    for (let y = 0; y < height; y++) {
      const row = y * width;
      const add = Math.min(height - 1, y + r + 1) * width;
      const drop = Math.max(0, y - r) * width;
      for (let x = 0; x < width; x++) {
        src[row + x] = sums[x]! * norm;
        sums[x]! += copy[add + x]! - copy[drop + x]!;
      }
    }
  }
  return src;
}

/** The default `defect` from the mean squared luma change of the network. */
const defectOf = (meanSquare: number) => 0.5 * Math.sqrt(meanSquare);

/** Luma (BT.601) of net - base at sample `j`, in 8-bit levels (`k` = 1/257 for 16-bit). */
function lumaDelta(b: Raster['data'], m: Raster['data'], j: number, ch: number, k: number): number {
  return (ch >= 3 ? 0.299 * (m[j]! - b[j]!) + 0.587 * (m[j + 1]! - b[j + 1]!) + 0.114 * (m[j + 2]! - b[j + 2]!) : m[j]! - b[j]!) * k;
}

/**
 * The `defect` that {@link fuse} estimates when none is given, taken from a pair before
 * one of them changes (the face step fuses its regions again after restoring them).
 */
export function estimateDefectRef(base: Raster, net: Raster): number {
  const n = base.width * base.height;
  const ch = base.channels;
  const k = base.depth === 16 ? 1 / 257 : 1;
  const b = base.data;
  const m = net.data;
  let se = 0;
  for (let i = 0, j = 0; i < n; i++, j += ch) {
    const d = lumaDelta(b, m, j, ch, k);
    se += Math.fround(d * d); // as fusionWeights sums its Float32Array: the same defect to the bit
  }
  return defectOf(se / n);
}

/** The per-pixel weight of the network, w in [0, 1] (exported for tests and benchmarks). */
export function fusionWeightsRef(base: Raster, net: Raster, o: FusionOptions): Float32Array {
  const n = base.width * base.height;
  const ch = base.channels;
  const k = base.depth === 16 ? 1 / 257 : 1;
  const b = base.data;
  const m = net.data;
  const energy = new Float32Array(n);
  for (let i = 0, j = 0; i < n; i++, j += ch) {
    const d = lumaDelta(b, m, j, ch, k);
    energy[i] = d * d;
  }
  let defect = o.defect;
  if (defect === undefined) {
    let se = 0;
    for (let i = 0; i < n; i++) se += energy[i]!;
    defect = defectOf(se / n);
  }
  boxBlurRef(energy, base.width, base.height, o.radius, 2);
  const s = Math.min(1, Math.max(0, o.strength));
  const allowed = o.tau * o.tau * Math.max(0.25, defect * defect);
  const w = energy; // reused in place
  if (s <= 0 || s >= 1) return w.fill(s <= 0 ? 0 : 1);
  // w = s^(1 + texture (1 - g)) = s * exp(ln(s) * texture * (1 - g))
  const lk = Math.log(s) * o.texture;
  for (let i = 0; i < n; i++) {
    const e = energy[i]!;
    const g = e <= allowed ? 1 : allowed / e;
    w[i] = g >= 1 ? s : s * Math.exp(lk * (1 - g));
  }
  return w;
}

/** B + w (N - B), minus the low-pass of that change (tone anchoring). Same shape as `base`. */
export function fuseRef(base: Raster, net: Raster, o: FusionOptions & { readonly toneFloor?: number }): Raster {
  if (base.width !== net.width || base.height !== net.height || base.channels !== net.channels || base.depth !== net.depth) {
    throw new Error(`fusion needs two rasters of one shape: ${base.width}x${base.height}x${base.channels}/${base.depth} vs ${net.width}x${net.height}x${net.channels}/${net.depth}`);
  }
  const s = Math.min(1, Math.max(0, o.strength));
  if (s >= 1) return net;
  if (s <= 0) return base;
  const { width, height, channels: ch } = base;
  const w = fusionWeightsRef(base, net, o);
  const b = base.data;
  const m = net.data;
  const out = allocRaster(width, height, ch, base.depth);
  const o8 = out.data;
  const max = base.depth === 16 ? 65535 : 255;
  if (o.toneRadius < 1) {
    for (let i = 0, j = 0; i < w.length; i++) {
      const wi = w[i]!;
      for (let c = 0; c < ch; c++, j++) {
        const v = b[j]! + wi * (m[j]! - b[j]!) + 0.5;
        o8[j] = v <= 0 ? 0 : v >= max ? max : v;
      }
    }
    return out;
  }
  // The change's low-pass at a quarter of the resolution: box-average 4x4 blocks, blur there
  // (radius / 4, three passes ~ Gaussian), bilinear back up; all channels in one pass each way.
  const f = 4;
  const sw = Math.ceil(width / f);
  const sh = Math.ceil(height / f);
  const small = Array.from({ length: ch }, () => new Float32Array(sw * sh));
  const count = new Float32Array(sw * sh);
  const floor = o.toneFloor ?? 0;
  const level = floor > 0 ? new Float32Array(sw * sh) : undefined;
  const lk = base.depth === 16 ? 1 / 257 : 1;
  for (let y = 0, i = 0, j = 0; y < height; y++) {
    const sy = (y >> 2) * sw;
    for (let x = 0; x < width; x++, i++) {
      const si = sy + (x >> 2);
      const wi = w[i]!;
      count[si]! += 1;
      if (level) level[si]! += (ch >= 3 ? 0.299 * b[j]! + 0.587 * b[j + 1]! + 0.114 * b[j + 2]! : b[j]!) * lk;
      for (let c = 0; c < ch; c++, j++) small[c]![si]! += wi * (m[j]! - b[j]!);
    }
  }
  for (const plane of small) {
    for (let k = 0; k < plane.length; k++) plane[k]! /= count[k]!;
    boxBlurRef(plane, sw, sh, Math.max(1, o.toneRadius / f), 3);
  }
  if (level) {
    // Anchoring fades out in deep shadows: there the input's mean is raised by clipped noise.
    for (let k = 0; k < level.length; k++) level[k]! /= count[k]!;
    boxBlurRef(level, sw, sh, Math.max(1, o.toneRadius / f), 3);
    for (let k = 0; k < level.length; k++) {
      const a = Math.min(1, Math.max(0, (level[k]! - floor) / floor));
      for (const plane of small) plane[k]! *= a;
    }
  }
  const xi0 = new Int32Array(width);
  const xi1 = new Int32Array(width);
  const xt = new Float32Array(width);
  for (let x = 0; x < width; x++) {
    const fx = Math.min(sw - 1, Math.max(0, (x + 0.5) / f - 0.5));
    xi0[x] = Math.floor(fx);
    xi1[x] = Math.min(sw - 1, xi0[x]! + 1);
    xt[x] = fx - xi0[x]!;
  }
  for (let y = 0, i = 0, j = 0; y < height; y++) {
    const fy = Math.min(sh - 1, Math.max(0, (y + 0.5) / f - 0.5));
    const r0 = Math.floor(fy) * sw;
    const r1 = Math.min(sh - 1, Math.floor(fy) + 1) * sw;
    const ty = fy - Math.floor(fy);
    for (let x = 0; x < width; x++, i++) {
      const a0 = r0 + xi0[x]!;
      const a1 = r0 + xi1[x]!;
      const b0 = r1 + xi0[x]!;
      const b1 = r1 + xi1[x]!;
      const t = xt[x]!;
      const wi = w[i]!;
      for (let c = 0; c < ch; c++, j++) {
        const p = small[c]!;
        const top = p[a0]! + (p[a1]! - p[a0]!) * t;
        const tone = top + (p[b0]! + (p[b1]! - p[b0]!) * t - top) * ty;
        const v = b[j]! + wi * (m[j]! - b[j]!) - tone + 0.5;
        o8[j] = v <= 0 ? 0 : v >= max ? max : v;
      }
    }
  }
  return out;
}

/** Luma (BT.601, 8-bit units) of a raster shrunk by an integer factor with an area filter. */
function areaLuma(r: Raster, f: number, width: number, height: number): Float32Array {
  const out = new Float32Array(width * height);
  const k = (r.depth === 16 ? 1 / 257 : 1) / (f * f);
  const ch = r.channels;
  const d = r.data;
  for (let y = 0; y < height * f; y++) {
    const row = Math.floor(y / f) * width;
    for (let x = 0, j = y * r.width * ch; x < width * f; x++, j += ch) {
      const v = ch >= 3 ? 0.299 * d[j]! + 0.587 * d[j + 1]! + 0.114 * d[j + 2]! : d[j]!;
      out[row + Math.floor(x / f)]! += v * k;
    }
  }
  return out;
}

/** The network's output with its change scaled down where it disagrees with the input (see ConsistencyOptions); `net` itself when scale is 1 or the sizes are not exact multiples. */
export function consistencyGateRef(base: Raster, net: Raster, input: Raster, scale: number, o: ConsistencyOptions = DEFAULT_CONSISTENCY): Raster {
  const f = Math.round(scale);
  const { width: iw, height: ih } = input;
  if (f < 2 || base.width !== iw * f || base.height !== ih * f || net.width !== base.width || net.height !== base.height || base.channels !== net.channels || base.depth !== net.depth) return net;
  const li = lumaOf(input);
  const eN = areaLuma(net, f, iw, ih);
  const eB = areaLuma(base, f, iw, ih);
  for (let i = 0; i < li.length; i++) {
    eN[i] = (eN[i]! - li[i]!) ** 2;
    eB[i] = (eB[i]! - li[i]!) ** 2;
  }
  boxBlurRef(eN, iw, ih, o.radius, 2);
  boxBlurRef(eB, iw, ih, o.radius, 2);
  const t2 = o.tau * o.tau;
  const c = eN; // reused in place
  let gated = false;
  for (let i = 0; i < c.length; i++) {
    const allowed = t2 * (eB[i]! + o.floor);
    const e = eN[i]!;
    c[i] = e <= allowed ? 1 : allowed / e;
    if (c[i]! < 1) gated = true;
  }
  if (!gated) return net;
  const { width, height, channels: ch } = base;
  const out = allocRaster(width, height, ch, base.depth);
  const b = base.data;
  const m = net.data;
  const o8 = out.data;
  // Bilinear from input to output pixels (pixel centres aligned).
  for (let y = 0, j = 0; y < height; y++) {
    const fy = Math.min(ih - 1, Math.max(0, (y + 0.5) / f - 0.5));
    const y0 = Math.floor(fy);
    const y1 = Math.min(ih - 1, y0 + 1);
    const ty = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = Math.min(iw - 1, Math.max(0, (x + 0.5) / f - 0.5));
      const x0 = Math.floor(fx);
      const x1 = Math.min(iw - 1, x0 + 1);
      const tx = fx - x0;
      const top = c[y0 * iw + x0]! + (c[y0 * iw + x1]! - c[y0 * iw + x0]!) * tx;
      const bottom = c[y1 * iw + x0]! + (c[y1 * iw + x1]! - c[y1 * iw + x0]!) * tx;
      const g = top + (bottom - top) * ty;
      for (let k = 0; k < ch; k++, j++) o8[j] = Math.round(b[j]! + g * (m[j]! - b[j]!));
    }
  }
  return out;
}

function lumaOf(r: Raster): Float32Array {
  const n = r.width * r.height;
  const out = new Float32Array(n);
  const k = r.depth === 16 ? 1 / 257 : 1;
  const ch = r.channels;
  const d = r.data;
  for (let i = 0, j = 0; i < n; i++, j += ch) out[i] = (ch >= 3 ? 0.299 * d[j]! + 0.587 * d[j + 1]! + 0.114 * d[j + 2]! : d[j]!) * k;
  return out;
}
