import { allocRaster } from '../image/raster.js';
import type { Raster } from '../types.js';

/**
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
export interface FusionOptions {
  /** 0 = B, 1 = N. */
  readonly strength: number;
  /**
   * Expected error of the input in 8-bit levels (noise and compression). Unset: half
   * the RMS of D's luma, which matched an oracle (the true error against the original)
   * on the benchmark corpus to within 0.1 dB (docs/BENCHMARKS.md, "Adaptive enhancement").
   */
  readonly defect?: number | undefined;
  /** Radius in output pixels of the window that measures the local energy of D. */
  readonly radius: number;
  /** Trust threshold: D up to `tau` x defect counts as a repair. */
  readonly tau: number;
  /** How much less the network is used on texture (the exponent above). */
  readonly texture: number;
  /** Radius of the low-pass whose share of the change is removed (0 = keep the network's tone). */
  readonly toneRadius: number;
}

export const DEFAULT_FUSION: Omit<FusionOptions, 'strength' | 'defect'> = { radius: 4, tau: 2, texture: 3, toneRadius: 12 };

/** Fusion settings for a target scale: the windows grow with the output's pixel size. */
export function fusionFor(scale: number, strength: number): FusionOptions {
  const k = scale > 1 ? scale / 2 : 1;
  return { ...DEFAULT_FUSION, strength, radius: DEFAULT_FUSION.radius, toneRadius: Math.round(DEFAULT_FUSION.toneRadius * k) };
}

/**
 * In-place separable box blur (edges clamped), repeated `passes` times (3 ~ Gaussian).
 * Horizontal and vertical box passes commute, so every horizontal pass of a row is made
 * while the row is in cache (one sweep of the plane), then the vertical passes.
 */
export function boxBlur(src: Float32Array, width: number, height: number, radius: number, passes = 1): Float32Array {
  const r = Math.round(radius);
  if (r < 1 || width < 1 || height < 1) return src;
  const line = new Float32Array(width);
  for (let y = 0; y < height; y++) blurRowPasses(src, y * width, width, r, passes, line);
  for (let pass = 0; pass < passes; pass++) blurColumns(src, width, height, r);
  return src;
}

/** `passes` horizontal box passes over one row, in place. */
function blurRowPasses(src: Float32Array, row: number, width: number, r: number, passes: number, line: Float32Array): void {
  const norm = 1 / (2 * r + 1);
  for (let pass = 0; pass < passes; pass++) blurRow(src, row, width, r, norm, line);
}

/**
 * One vertical box pass, in place: running column sums; the rows that leave the window
 * are read from a ring of the last 2r + 2 original rows, so no copy of the plane is made.
 */
function blurColumns(src: Float32Array, width: number, height: number, r: number): void {
  const norm = 1 / (2 * r + 1);
  const sums = new Float64Array(width);
  const ringRows = 2 * r + 2;
  const ring = new Float32Array(ringRows * width);
  // out[y] = mean of rows clamp(y - r) .. clamp(y + r) of the original.
  for (let k = -r; k <= r; k++) {
    const row = Math.min(height - 1, Math.max(0, k)) * width;
    for (let x = 0; x < width; x++) sums[x]! += src[row + x]!;
  }
  // Rows are overwritten in order; an original row y is still needed until row y + r
  // (as the row that leaves the window), so it is kept in the ring until then.
  for (let y = 0; y < height; y++) {
    const row = y * width;
    const slot = (y % ringRows) * width;
    ring.set(src.subarray(row, row + width), slot);
    const addY = Math.min(height - 1, y + r + 1);
    const dropY = Math.max(0, y - r);
    const drop = (dropY % ringRows) * width;
    // The row that enters is original (not yet overwritten: addY > y, or the clamped last row).
    const addFromRing = addY <= y;
    const addBase = addFromRing ? (addY % ringRows) * width : addY * width;
    const addSrc = addFromRing ? ring : src;
    for (let x = 0; x < width; x++) {
      const v = sums[x]!;
      src[row + x] = v * norm;
      sums[x] = v + addSrc[addBase + x]! - ring[drop + x]!;
    }
  }
}

/** One horizontal box pass over a row, in place (clamped ends). */
function blurRow(src: Float32Array, row: number, width: number, r: number, norm: number, line: Float32Array): void {
  const last = width - 1;
  let acc = 0;
  for (let k = -r; k <= r; k++) acc += src[row + (k < 0 ? 0 : k > last ? last : k)]!;
  // x where both x - r >= 0 and x + r + 1 <= last: no clamping.
  const lo = Math.min(width, r);
  const hi = Math.max(lo, width - r - 1);
  let x = 0;
  for (; x < lo; x++) {
    line[x] = acc * norm;
    const a = x + r + 1;
    acc += src[row + (a > last ? last : a)]! - src[row]!;
  }
  for (; x < hi; x++) {
    line[x] = acc * norm;
    acc += src[row + x + r + 1]! - src[row + x - r]!;
  }
  for (; x < width; x++) {
    line[x] = acc * norm;
    const d = x - r;
    acc += src[row + last]! - src[row + (d < 0 ? 0 : d)]!;
  }
  src.set(line, row);
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
export function estimateDefect(base: Raster, net: Raster): number {
  const n = base.width * base.height;
  const ch = base.channels;
  const k = base.depth === 16 ? 1 / 257 : 1;
  const b = base.data;
  const m = net.data;
  let se = 0;
  for (let i = 0, j = 0; i < n; i++, j += ch) {
    const d = lumaDelta(b, m, j, ch, k);
    se += Math.fround(d * d); // as the fusion sums its Float32Array: the same defect to the bit
  }
  return defectOf(se / n);
}

/**
 * Squared luma change of one row (pixels [i0, i0 + width)) into `energy`, then its
 * horizontal blur passes; returns the row's sum of squares before the blur (for the
 * default defect).
 */
function energyRow(b: Raster['data'], m: Raster['data'], ch: number, k: number, energy: Float32Array, i0: number, width: number, r: number, line: Float32Array): number {
  let se = 0;
  if (ch === 3) {
    for (let x = 0, i = i0, j = i0 * 3; x < width; x++, i++, j += 3) {
      const d = (0.299 * (m[j]! - b[j]!) + 0.587 * (m[j + 1]! - b[j + 1]!) + 0.114 * (m[j + 2]! - b[j + 2]!)) * k;
      const e = Math.fround(d * d);
      energy[i] = e;
      se += e;
    }
  } else {
    for (let x = 0, i = i0, j = i0 * ch; x < width; x++, i++, j += ch) {
      const d = lumaDelta(b, m, j, ch, k);
      const e = Math.fround(d * d);
      energy[i] = e;
      se += e;
    }
  }
  if (r >= 1) blurRowPasses(energy, i0, width, r, ENERGY_PASSES, line);
  return se;
}

/** Box passes of the energy window (2 ~ a triangle of radius 2r). */
const ENERGY_PASSES = 2;

/** The threshold and exponent of the weight (see {@link weightOf}). */
interface WeightParams {
  readonly s: number;
  readonly allowed: number;
  readonly lk: number;
}

function weightParams(o: FusionOptions, defect: number): WeightParams {
  const s = Math.min(1, Math.max(0, o.strength));
  return { s, allowed: o.tau * o.tau * Math.max(0.25, defect * defect), lk: Math.log(s) * o.texture };
}

/** w = s^(1 + texture (1 - g)) = s * exp(ln(s) * texture * (1 - g)), g the Wiener test of the local energy. */
function weightOf(e: number, p: WeightParams): number {
  const g = Math.min(1, p.allowed / e); // 1 where e <= allowed (e = 0 included)
  return g >= 1 ? p.s : p.s * Math.exp(p.lk * (1 - g));
}

/**
 * The blurred local energy of the luma change and the defect (given, or estimated from
 * it); rows of `net` come from `rowOf` (the gated network output is made row by row).
 */
function localEnergy(base: Raster, net: Raster, o: FusionOptions, into: Float32Array, rowOf?: (y: number) => void): { energy: Float32Array; defect: number } {
  const { width, height, channels: ch } = base;
  const n = width * height;
  const k = base.depth === 16 ? 1 / 257 : 1;
  const energy = into.subarray(0, n);
  const r = Math.round(o.radius);
  const line = new Float32Array(width);
  let se = 0;
  for (let y = 0; y < height; y++) {
    rowOf?.(y);
    se += energyRow(base.data, net.data, ch, k, energy, y * width, width, r, line);
  }
  if (r >= 1) for (let pass = 0; pass < ENERGY_PASSES; pass++) blurColumns(energy, width, height, r);
  return { energy, defect: o.defect ?? defectOf(se / n) };
}

/** The per-pixel weight of the network, w in [0, 1] (exported for tests and benchmarks). */
export function fusionWeights(base: Raster, net: Raster, o: FusionOptions, into?: Float32Array): Float32Array {
  const { energy, defect } = localEnergy(base, net, o, into ?? new Float32Array(base.width * base.height));
  const p = weightParams(o, defect);
  const w = energy; // reused in place
  if (p.s <= 0 || p.s >= 1) return w.fill(p.s <= 0 ? 0 : 1);
  for (let i = 0; i < w.length; i++) w[i] = weightOf(energy[i]!, p);
  return w;
}

/**
 * Working memory kept between fusions (grow-only, one per thread): on a VM, touching
 * fresh pages costs ~2 ms per MB, so a 4 MP fusion that allocated its weight plane and
 * gated copy anew spent ~60 ms on page faults alone (docs/BENCHMARKS.md, "End to end").
 */
let planeScratch = new Float32Array(0);
let gateScratch8 = new Uint8Array(0);
let gateScratch16 = new Uint16Array(0);

function scratchPlane(n: number): Float32Array {
  if (planeScratch.length < n) planeScratch = new Float32Array(n);
  return planeScratch.subarray(0, n);
}

function scratchRaster(like: Raster): Raster {
  const n = like.width * like.height * like.channels;
  let data: Uint8Array | Uint16Array;
  if (like.depth === 16) {
    if (gateScratch16.length < n) gateScratch16 = new Uint16Array(n);
    data = gateScratch16.subarray(0, n);
  } else {
    if (gateScratch8.length < n) gateScratch8 = new Uint8Array(n);
    data = gateScratch8.subarray(0, n);
  }
  return { ...like, data };
}

/**
 * fuse(base, consistencyGate(base, net, input, scale), o) in one implementation: the
 * gated network output is made row by row, in working memory, as the fusion reads it
 * (the gate applies only at 2x/4x, as there).
 */
export function fuseGated(base: Raster, net: Raster, input: Raster, scale: number, o: FusionOptions, use: OutputBuffer = {}, gate: ConsistencyOptions = DEFAULT_CONSISTENCY): Raster {
  if (o.strength <= 0) return base;
  const c = gateMap(base, net, input, scale, gate);
  if (!c) return fuse(base, net, o, use);
  if (o.strength >= 1) return consistencyGateWith(base, net, c, input.width, input.height);
  const gated = scratchRaster(base);
  // The gated copy is made row by row from `net` before the output pass: `net` may take the result.
  return fuseWith(base, gated, o, use.overwriteNet ? net.data : undefined, gateRows(base, net, c, input.width, input.height, gated));
}

/**
 * Where the result goes. `overwriteNet`: into the network output's own memory, which the
 * caller no longer needs (the pipeline outside face mode): a fresh 4 MP result cost ~35 ms
 * of page faults on the 2-core VM, and 12 MB more at the peak.
 */
export interface OutputBuffer {
  readonly overwriteNet?: boolean;
}

/** B + w (N - B), minus the low-pass of that change (tone anchoring). Same shape as `base`. */
export function fuse(base: Raster, net: Raster, o: FusionOptions, use: OutputBuffer = {}): Raster {
  if (base.width !== net.width || base.height !== net.height || base.channels !== net.channels || base.depth !== net.depth) {
    throw new Error(`fusion needs two rasters of one shape: ${base.width}x${base.height}x${base.channels}/${base.depth} vs ${net.width}x${net.height}x${net.channels}/${net.depth}`);
  }
  const s = Math.min(1, Math.max(0, o.strength));
  if (s >= 1) return net;
  if (s <= 0) return base;
  return fuseWith(base, net, o, use.overwriteNet ? net.data : undefined);
}

/**
 * The fusion for 0 < strength < 1, in four sweeps of the output: (1) the net's rows (made
 * by `rowOf` when gated) and their squared luma change, blurred along the row; (2) the
 * vertical blur passes; (3) the weights, with the change's 4x4 block sums for the tone
 * low-pass; (4) the output.
 */
function fuseWith(base: Raster, net: Raster, o: FusionOptions, into?: Raster['data'], rowOf?: (y: number) => void): Raster {
  const { width, height, channels: ch } = base;
  const { energy, defect } = localEnergy(base, net, o, scratchPlane(width * height), rowOf);
  const p = weightParams(o, defect);
  const w = energy; // reused in place
  const b = base.data;
  const m = net.data;
  // Each output sample is written after the last read of its own index in `net` and
  // `base` (both read only there in this pass): `into` may be either's memory.
  const out: Raster = into ? { width, height, channels: ch, depth: base.depth, data: into } : allocRaster(width, height, ch, base.depth);
  const o8 = out.data;
  const max = base.depth === 16 ? 65535 : 255;
  if (o.toneRadius < 1) {
    for (let i = 0, j = 0; i < w.length; i++) {
      const wi = weightOf(energy[i]!, p);
      for (let c = 0; c < ch; c++, j++) {
        const v = b[j]! + wi * (m[j]! - b[j]!) + 0.5;
        o8[j] = Math.min(max, Math.max(0, v));
      }
    }
    return out;
  }
  // The change's low-pass at a quarter of the resolution: box-average 4x4 blocks (a
  // partial block at the right or bottom edge over its own pixels), blur there (radius / 4,
  // three passes ~ Gaussian), bilinear back up. Blocks are kept interleaved (sw x ch).
  const f = 4;
  const sw = Math.ceil(width / f);
  const sh = Math.ceil(height / f);
  const small = new Float32Array(sw * sh * ch);
  for (let y = 0; y < height; y++) weightsAndBlocks(b, m, energy, p, small, y, width, ch, sw);
  const lastW = width - (sw - 1) * f;
  const lastH = height - (sh - 1) * f;
  for (let by = 0; by < sh; by++) {
    const rows = by === sh - 1 ? lastH : f;
    for (let bx = 0; bx < sw; bx++) {
      const inv = 1 / (rows * (bx === sw - 1 ? lastW : f));
      const k = (by * sw + bx) * ch;
      for (let c = 0; c < ch; c++) small[k + c]! *= inv;
    }
  }
  const planes = Array.from({ length: ch }, (_, c) => {
    const plane = new Float32Array(sw * sh);
    for (let k = 0; k < plane.length; k++) plane[k] = small[k * ch + c]!;
    return boxBlur(plane, sw, sh, Math.max(1, o.toneRadius / f), 3);
  });
  // Bilinear weights along x, once; per output row the two block rows are mixed in y
  // first (sw x ch values), then each pixel mixes two neighbours of that row.
  const xi0 = new Int32Array(width);
  const xi1 = new Int32Array(width);
  const xt = new Float32Array(width);
  for (let x = 0; x < width; x++) {
    const fx = Math.min(sw - 1, Math.max(0, (x + 0.5) / f - 0.5));
    xi0[x] = Math.floor(fx) * ch;
    xi1[x] = Math.min(sw - 1, Math.floor(fx) + 1) * ch;
    xt[x] = fx - Math.floor(fx);
  }
  const toneRow = new Float32Array(sw * ch);
  for (let y = 0; y < height; y++) {
    const fy = Math.min(sh - 1, Math.max(0, (y + 0.5) / f - 0.5));
    const r0 = Math.floor(fy) * sw;
    const r1 = Math.min(sh - 1, Math.floor(fy) + 1) * sw;
    const ty = fy - Math.floor(fy);
    for (let c = 0; c < ch; c++) {
      const pl = planes[c]!;
      for (let k = 0; k < sw; k++) toneRow[k * ch + c] = pl[r0 + k]! + (pl[r1 + k]! - pl[r0 + k]!) * ty;
    }
    if (ch === 3) outputRow3(b, m, w, toneRow, xi0, xi1, xt, o8, y, width, max);
    else outputRow(b, m, w, toneRow, xi0, xi1, xt, o8, y, width, ch, max);
  }
  return out;
}

/** Row `y`: the weights (into `w`, over the energy) and the 4x4 block sums of w (N - B). */
function weightsAndBlocks(b: Raster['data'], m: Raster['data'], w: Float32Array, p: WeightParams, small: Float32Array, y: number, width: number, ch: number, sw: number): void {
  const sRow = (y >> 2) * sw * ch;
  let i = y * width;
  let j = i * ch;
  if (ch === 3) {
    for (let x = 0; x < width; x++, i++, j += 3) {
      const wi = weightOf(w[i]!, p);
      w[i] = wi;
      const si = sRow + (x >> 2) * 3;
      small[si]! += wi * (m[j]! - b[j]!);
      small[si + 1]! += wi * (m[j + 1]! - b[j + 1]!);
      small[si + 2]! += wi * (m[j + 2]! - b[j + 2]!);
    }
    return;
  }
  for (let x = 0; x < width; x++, i++) {
    const wi = weightOf(w[i]!, p);
    w[i] = wi;
    const si = sRow + (x >> 2) * ch;
    for (let c = 0; c < ch; c++, j++) small[si + c]! += wi * (m[j]! - b[j]!);
  }
}

/**
 * Output row `y` of an RGB fusion: B + w (N - B) - tone, rounded and clamped. The clamps
 * are Math.min/max, not `v <= 0 ? 0 : ...`: V8 keeps those in float registers, where the
 * ternary mixing integer constants with doubles made this loop 2.5x slower (110 vs 42 ms
 * per 4 MP); the values stored are the same.
 */
function outputRow3(b: Raster['data'], m: Raster['data'], w: Float32Array, toneRow: Float32Array, xi0: Int32Array, xi1: Int32Array, xt: Float32Array, o8: Raster['data'], y: number, width: number, max: number): void {
  let i = y * width;
  let j = i * 3;
  for (let x = 0; x < width; x++, i++, j += 3) {
    const a0 = xi0[x]!;
    const a1 = xi1[x]!;
    const t = xt[x]!;
    const wi = w[i]!;
    const t0 = toneRow[a0]!;
    const t1 = toneRow[a0 + 1]!;
    const t2 = toneRow[a0 + 2]!;
    const b0 = b[j]!;
    const b1 = b[j + 1]!;
    const b2 = b[j + 2]!;
    const v0 = b0 + wi * (m[j]! - b0) - (t0 + (toneRow[a1]! - t0) * t) + 0.5;
    const v1 = b1 + wi * (m[j + 1]! - b1) - (t1 + (toneRow[a1 + 1]! - t1) * t) + 0.5;
    const v2 = b2 + wi * (m[j + 2]! - b2) - (t2 + (toneRow[a1 + 2]! - t2) * t) + 0.5;
    o8[j] = Math.min(max, Math.max(0, v0));
    o8[j + 1] = Math.min(max, Math.max(0, v1));
    o8[j + 2] = Math.min(max, Math.max(0, v2));
  }
}

/** Output row `y` for any channel count. */
function outputRow(b: Raster['data'], m: Raster['data'], w: Float32Array, toneRow: Float32Array, xi0: Int32Array, xi1: Int32Array, xt: Float32Array, o8: Raster['data'], y: number, width: number, ch: number, max: number): void {
  let i = y * width;
  let j = i * ch;
  for (let x = 0; x < width; x++, i++) {
    const a0 = xi0[x]!;
    const a1 = xi1[x]!;
    const t = xt[x]!;
    const wi = w[i]!;
    for (let c = 0; c < ch; c++, j++) {
      const t0 = toneRow[a0 + c]!;
      const tone = t0 + (toneRow[a1 + c]! - t0) * t;
      const v = b[j]! + wi * (m[j]! - b[j]!) - tone + 0.5;
      o8[j] = Math.min(max, Math.max(0, v));
    }
  }
}

/**
 * Consistency with the input at 2x and 4x: the output, shrunk back by the scale with an
 * area filter, should give the input again. Lanczos's does, up to its own filter error;
 * a network output that sharpened an edge the photo really has soft (a motion-blurred
 * rail, a defocused branch) or invented structure does not. Where the shrunk network
 * output departs from the input clearly more than the shrunk classical image does
 * (local energies eN and eB of the luma residual, in input pixels), the network's
 * change is scaled down by c = min(1, tau^2 (eB + floor) / eN) before the fusion.
 */
export interface ConsistencyOptions {
  /** How much less consistent than the classical image the network may be (ratio of residual RMS). */
  readonly tau: number;
  /** Residual energy (8-bit levels squared) that always passes: the input's own JPEG error. */
  readonly floor: number;
  /** Radius in input pixels of the window that measures the residual energy. */
  readonly radius: number;
}

export const DEFAULT_CONSISTENCY: ConsistencyOptions = { tau: 1.5, floor: 1, radius: 2 };

/**
 * Luma (BT.601, 8-bit units) of two rasters of one shape shrunk by an integer factor with
 * an area filter, in one pass over both.
 */
function areaLumas(n: Raster, b: Raster, f: number, width: number, height: number): [Float32Array, Float32Array] {
  const outN = new Float32Array(width * height);
  const outB = new Float32Array(width * height);
  const k = (n.depth === 16 ? 1 / 257 : 1) / (f * f);
  const ch = n.channels;
  const dn = n.data;
  const db = b.data;
  const accN = new Float64Array(width);
  const accB = new Float64Array(width);
  for (let yi = 0; yi < height; yi++) {
    accN.fill(0);
    accB.fill(0);
    for (let dy = 0; dy < f; dy++) {
      let j = (yi * f + dy) * n.width * ch;
      // One loop per layout: a ternary between a double and an integer sample inside the
      // loop kept V8 from staying in float registers (see outputRow3).
      if (ch >= 3) {
        for (let xi = 0; xi < width; xi++) {
          let sN = 0;
          let sB = 0;
          for (let dx = 0; dx < f; dx++, j += ch) {
            sN += 0.299 * dn[j]! + 0.587 * dn[j + 1]! + 0.114 * dn[j + 2]!;
            sB += 0.299 * db[j]! + 0.587 * db[j + 1]! + 0.114 * db[j + 2]!;
          }
          accN[xi]! += sN;
          accB[xi]! += sB;
        }
      } else {
        for (let xi = 0; xi < width; xi++) {
          let sN = 0;
          let sB = 0;
          for (let dx = 0; dx < f; dx++, j += ch) {
            sN += dn[j]!;
            sB += db[j]!;
          }
          accN[xi]! += sN;
          accB[xi]! += sB;
        }
      }
    }
    const row = yi * width;
    for (let xi = 0; xi < width; xi++) {
      outN[row + xi] = accN[xi]! * k;
      outB[row + xi] = accB[xi]! * k;
    }
  }
  return [outN, outB];
}

/** The network's output with its change scaled down where it disagrees with the input (see ConsistencyOptions); `net` itself when scale is 1 or the sizes are not exact multiples. */
export function consistencyGate(base: Raster, net: Raster, input: Raster, scale: number, o: ConsistencyOptions = DEFAULT_CONSISTENCY): Raster {
  const c = gateMap(base, net, input, scale, o);
  return c ? consistencyGateWith(base, net, c, input.width, input.height) : net;
}

function consistencyGateWith(base: Raster, net: Raster, c: Float32Array, iw: number, ih: number): Raster {
  const out = allocRaster(base.width, base.height, base.channels, base.depth);
  const row = gateRows(base, net, c, iw, ih, out);
  for (let y = 0; y < base.height; y++) row(y);
  return out;
}

/**
 * The gate's weights c at input resolution (see ConsistencyOptions), or undefined when
 * nothing is gated (every c is 1), the scale is 1 or the sizes are not exact multiples.
 */
export function gateMap(base: Raster, net: Raster, input: Raster, scale: number, o: ConsistencyOptions = DEFAULT_CONSISTENCY): Float32Array | undefined {
  const f = Math.round(scale);
  const { width: iw, height: ih } = input;
  if (f < 2 || base.width !== iw * f || base.height !== ih * f || net.width !== base.width || net.height !== base.height || base.channels !== net.channels || base.depth !== net.depth) return undefined;
  const li = lumaOf(input);
  const [eN, eB] = areaLumas(net, base, f, iw, ih);
  for (let i = 0; i < li.length; i++) {
    eN[i] = (eN[i]! - li[i]!) ** 2;
    eB[i] = (eB[i]! - li[i]!) ** 2;
  }
  boxBlur(eN, iw, ih, o.radius, 2);
  boxBlur(eB, iw, ih, o.radius, 2);
  const t2 = o.tau * o.tau;
  const c = eN; // reused in place
  let gated = false;
  for (let i = 0; i < c.length; i++) {
    const allowed = t2 * (eB[i]! + o.floor);
    const e = eN[i]!;
    c[i] = e <= allowed ? 1 : allowed / e;
    if (c[i]! < 1) gated = true;
  }
  return gated ? c : undefined;
}

/**
 * The gated output row by row: the returned function writes row `y` of `out` as
 * B + g (N - B), rounded, with g the gate map bilinearly at output pixels (centres
 * aligned). Per output row the two input rows are mixed first; a row whose weights are
 * all 1 is the network's row as it is.
 */
function gateRows(base: Raster, net: Raster, c: Float32Array, iw: number, ih: number, out: Raster): (y: number) => void {
  const { width, channels: ch } = base;
  const f = Math.round(width / iw);
  const b = base.data;
  const m = net.data;
  const o8 = out.data;
  const x0s = new Int32Array(width);
  const x1s = new Int32Array(width);
  const txs = new Float32Array(width);
  for (let x = 0; x < width; x++) {
    const fx = Math.min(iw - 1, Math.max(0, (x + 0.5) / f - 0.5));
    x0s[x] = Math.floor(fx);
    x1s[x] = Math.min(iw - 1, Math.floor(fx) + 1);
    txs[x] = fx - Math.floor(fx);
  }
  const cRow = new Float32Array(iw);
  const rowLen = width * ch;
  return (y: number) => {
    const fy = Math.min(ih - 1, Math.max(0, (y + 0.5) / f - 0.5));
    const r0 = Math.floor(fy) * iw;
    const r1 = Math.min(ih - 1, Math.floor(fy) + 1) * iw;
    const ty = fy - Math.floor(fy);
    let all = true;
    for (let xi = 0; xi < iw; xi++) {
      const top = c[r0 + xi]!;
      const v = top + (c[r1 + xi]! - top) * ty;
      cRow[xi] = v;
      if (v < 1) all = false;
    }
    const start = y * rowLen;
    if (all) {
      o8.set(m.subarray(start, start + rowLen), start);
      return;
    }
    if (ch === 3) gateRow3(b, m, o8, cRow, x0s, x1s, txs, start, width);
    else {
      for (let x = 0, j = start; x < width; x++) {
        const a = cRow[x0s[x]!]!;
        const g = a + (cRow[x1s[x]!]! - a) * txs[x]!;
        if (g >= 1) for (let k = 0; k < ch; k++, j++) o8[j] = m[j]!;
        else for (let k = 0; k < ch; k++, j++) o8[j] = Math.round(b[j]! + g * (m[j]! - b[j]!));
      }
    }
  };
}

function gateRow3(b: Raster['data'], m: Raster['data'], o8: Raster['data'], cRow: Float32Array, x0s: Int32Array, x1s: Int32Array, txs: Float32Array, start: number, width: number): void {
  for (let x = 0, j = start; x < width; x++, j += 3) {
    const a = cRow[x0s[x]!]!;
    const g = a + (cRow[x1s[x]!]! - a) * txs[x]!;
    if (g >= 1) {
      o8[j] = m[j]!;
      o8[j + 1] = m[j + 1]!;
      o8[j + 2] = m[j + 2]!;
    } else {
      // Non-negative: + 0.5 and the typed array's truncation round as Math.round does.
      const b0 = b[j]!;
      const b1 = b[j + 1]!;
      const b2 = b[j + 2]!;
      o8[j] = b0 + g * (m[j]! - b0) + 0.5;
      o8[j + 1] = b1 + g * (m[j + 1]! - b1) + 0.5;
      o8[j + 2] = b2 + g * (m[j + 2]! - b2) + 0.5;
    }
  }
}

function lumaOf(r: Raster): Float32Array {
  const n = r.width * r.height;
  const out = new Float32Array(n);
  const k = r.depth === 16 ? 1 / 257 : 1;
  const ch = r.channels;
  const d = r.data;
  if (ch >= 3) for (let i = 0, j = 0; i < n; i++, j += ch) out[i] = (0.299 * d[j]! + 0.587 * d[j + 1]! + 0.114 * d[j + 2]!) * k;
  else for (let i = 0, j = 0; i < n; i++, j += ch) out[i] = d[j]! * k;
  return out;
}
