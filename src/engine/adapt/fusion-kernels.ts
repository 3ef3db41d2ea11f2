import type { Raster } from '../types.js';
import { runAnalysisKernel, type AnalysisCall } from './analysis-kernels.js';

/**
 * The fusion's loops (adapt/fusion.ts), each over a range of rows or columns, so that a
 * crew of threads (adapt/fusion-crew.ts) can share one fusion: every kernel writes only
 * its own rows (or columns, or 4-row blocks), reads nothing another band writes in the
 * same call, and gives the same values in any split, so the result does not depend on
 * the number of threads. A call is plain data: it crosses to a helper thread as a message,
 * its arrays views of SharedArrayBuffers there.
 */
type Data = Raster['data'];

/** Box passes of the energy window (2 ~ a triangle of radius 2r). */
export const ENERGY_PASSES = 2;

/** The threshold and exponent of the weight (see {@link weightOf}). */
export interface WeightParams {
  readonly s: number;
  readonly allowed: number;
  readonly lk: number;
}

/** w = s^(1 + texture (1 - g)) = s * exp(ln(s) * texture * (1 - g)), g the Wiener test of the local energy. */
export function weightOf(e: number, p: WeightParams): number {
  const g = Math.min(1, p.allowed / e); // 1 where e <= allowed (e = 0 included)
  return g >= 1 ? p.s : p.s * Math.exp(p.lk * (1 - g));
}

/** Luma (BT.601) of net - base at sample `j`, in 8-bit levels (`k` = 1/257 for 16-bit). */
export function lumaDelta(b: Data, m: Data, j: number, ch: number, k: number): number {
  return (ch >= 3 ? 0.299 * (m[j]! - b[j]!) + 0.587 * (m[j + 1]! - b[j + 1]!) + 0.114 * (m[j + 2]! - b[j + 2]!) : m[j]! - b[j]!) * k;
}

/** The consistency gate's map at input resolution, to be applied to output rows. */
export interface GateInput {
  /** Weights c in [0, 1], iw x ih. */
  readonly c: Float32Array;
  readonly iw: number;
  readonly ih: number;
  /** Where the gated rows go. */
  readonly out: Data;
}

export type KernelCall =
  /** Input rows: the luma of both rasters shrunk by `f` (area filter). */
  | { readonly kind: 'area'; readonly n: Data; readonly b: Data; readonly ch: number; readonly k: number; readonly f: number; readonly srcWidth: number; readonly iw: number; readonly outN: Float32Array; readonly outB: Float32Array }
  /** Output rows: the gated network output alone (strength 1). */
  | { readonly kind: 'gate'; readonly b: Data; readonly m: Data; readonly gate: GateInput; readonly width: number; readonly ch: number }
  /** Output rows: (gated rows, then) the squared luma change, its horizontal blur passes, each row's sum of squares. */
  | { readonly kind: 'energy'; readonly b: Data; readonly m: Data; readonly gate: GateInput | undefined; readonly ch: number; readonly k: number; readonly energy: Float32Array; readonly width: number; readonly r: number; readonly rowSums: Float64Array }
  /** Columns: `passes` vertical box passes of a plane, in place. */
  | { readonly kind: 'columns'; readonly plane: Float32Array; readonly width: number; readonly height: number; readonly r: number; readonly passes: number }
  /** Output rows (bands of whole 4-row blocks): the weights over the energy, and the 4x4 block sums of w (N - B). */
  | { readonly kind: 'weights'; readonly b: Data; readonly m: Data; readonly w: Float32Array; readonly p: WeightParams; readonly small: Float32Array; readonly width: number; readonly ch: number; readonly sw: number }
  /** Output rows: B + w (N - B) - tone, rounded and clamped (`tone` unset: weights from the energy, no tone). */
  | { readonly kind: 'output'; readonly b: Data; readonly m: Data; readonly w: Float32Array; readonly p: WeightParams; readonly tone: ToneInput | undefined; readonly out: Data; readonly width: number; readonly height: number; readonly ch: number; readonly max: number }
  /** The input analysis's sweeps (adapt/analysis-kernels.ts). */
  | AnalysisCall;

/** The tone low-pass at a quarter of the resolution, one blurred plane per channel. */
export interface ToneInput {
  readonly planes: readonly Float32Array[];
  readonly sw: number;
  readonly sh: number;
}

/** Runs `call` over [lo, hi): rows, or columns for `columns`. */
export function runKernel(call: KernelCall, lo: number, hi: number): void {
  switch (call.kind) {
    case 'area':
      return areaRows(call, lo, hi);
    case 'gate': {
      const row = gateRows(call.b, call.m, call.gate, call.width, call.ch);
      for (let y = lo; y < hi; y++) row(y);
      return;
    }
    case 'energy':
      return energyRows(call, lo, hi);
    case 'columns':
      for (let pass = 0; pass < call.passes; pass++) blurColumns(call.plane, call.width, call.height, call.r, lo, hi);
      return;
    case 'weights':
      for (let y = lo; y < hi; y++) weightsAndBlocks(call.b, call.m, call.w, call.p, call.small, y, call.width, call.ch, call.sw);
      return;
    case 'output':
      return outputRows(call, lo, hi);
    default:
      return runAnalysisKernel(call, lo, hi);
  }
}

/** `passes` horizontal box passes over one row, in place. */
export function blurRowPasses(src: Float32Array, row: number, width: number, r: number, passes: number, line: Float32Array): void {
  const norm = 1 / (2 * r + 1);
  for (let pass = 0; pass < passes; pass++) blurRow(src, row, width, r, norm, line);
}

/**
 * One vertical box pass over columns [x0, x1), in place: running column sums; the rows
 * that leave the window are read from a ring of the last 2r + 2 original rows, so no
 * copy of the plane is made.
 */
export function blurColumns(src: Float32Array, width: number, height: number, r: number, x0 = 0, x1 = width): void {
  const cols = x1 - x0;
  if (cols <= 0) return;
  const norm = 1 / (2 * r + 1);
  const sums = new Float64Array(cols);
  const ringRows = 2 * r + 2;
  const ring = new Float32Array(ringRows * cols);
  // out[y] = mean of rows clamp(y - r) .. clamp(y + r) of the original.
  for (let k = -r; k <= r; k++) {
    const row = Math.min(height - 1, Math.max(0, k)) * width + x0;
    for (let x = 0; x < cols; x++) sums[x]! += src[row + x]!;
  }
  // Rows are overwritten in order; an original row y is still needed until row y + r
  // (as the row that leaves the window), so it is kept in the ring until then.
  for (let y = 0; y < height; y++) {
    const row = y * width + x0;
    const slot = (y % ringRows) * cols;
    ring.set(src.subarray(row, row + cols), slot);
    const addY = Math.min(height - 1, y + r + 1);
    const dropY = Math.max(0, y - r);
    const drop = (dropY % ringRows) * cols;
    // The row that enters is original (not yet overwritten: addY > y, or the clamped last row).
    const addFromRing = addY <= y;
    const addBase = addFromRing ? (addY % ringRows) * cols : addY * width + x0;
    const addSrc = addFromRing ? ring : src;
    for (let x = 0; x < cols; x++) {
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

/**
 * Squared luma change of one row (pixels [i0, i0 + width)) into `energy`, then its
 * horizontal blur passes; returns the row's sum of squares before the blur (for the
 * default defect).
 */
export function energyRow(b: Data, m: Data, ch: number, k: number, energy: Float32Array, i0: number, width: number, r: number, line: Float32Array): number {
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

function energyRows(call: Extract<KernelCall, { kind: 'energy' }>, lo: number, hi: number): void {
  const { b, ch, k, energy, width, r, rowSums, gate } = call;
  const line = new Float32Array(width);
  const gated = gate ? gateRows(b, call.m, gate, width, ch) : undefined;
  const m = gate ? gate.out : call.m;
  for (let y = lo; y < hi; y++) {
    gated?.(y);
    rowSums[y] = energyRow(b, m, ch, k, energy, y * width, width, r, line);
  }
}

/** Row `y`: the weights (into `w`, over the energy) and the 4x4 block sums of w (N - B). */
function weightsAndBlocks(b: Data, m: Data, w: Float32Array, p: WeightParams, small: Float32Array, y: number, width: number, ch: number, sw: number): void {
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

/** Block size of the tone low-pass (a quarter of the resolution). */
export const TONE_BLOCK = 4;

function outputRows(call: Extract<KernelCall, { kind: 'output' }>, lo: number, hi: number): void {
  const { b, m, w, p, tone, out: o8, width, ch, max } = call;
  if (!tone) {
    for (let i = lo * width, j = i * ch, end = hi * width; i < end; i++) {
      const wi = weightOf(w[i]!, p);
      for (let c = 0; c < ch; c++, j++) {
        const v = b[j]! + wi * (m[j]! - b[j]!) + 0.5;
        o8[j] = Math.min(max, Math.max(0, v));
      }
    }
    return;
  }
  // Bilinear weights along x, once; per output row the two block rows are mixed in y
  // first (sw x ch values), then each pixel mixes two neighbours of that row.
  const f = TONE_BLOCK;
  const { planes, sw, sh } = tone;
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
  for (let y = lo; y < hi; y++) {
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
}

/**
 * Output row `y` of an RGB fusion: B + w (N - B) - tone, rounded and clamped. The clamps
 * are Math.min/max, not `v <= 0 ? 0 : ...`: V8 keeps those in float registers, where the
 * ternary mixing integer constants with doubles made this loop 2.5x slower (110 vs 42 ms
 * per 4 MP); the values stored are the same.
 */
function outputRow3(b: Data, m: Data, w: Float32Array, toneRow: Float32Array, xi0: Int32Array, xi1: Int32Array, xt: Float32Array, o8: Data, y: number, width: number, max: number): void {
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
function outputRow(b: Data, m: Data, w: Float32Array, toneRow: Float32Array, xi0: Int32Array, xi1: Int32Array, xt: Float32Array, o8: Data, y: number, width: number, ch: number, max: number): void {
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

/** Input rows [lo, hi) of the area-shrunk lumas of two rasters of one shape. */
function areaRows(call: Extract<KernelCall, { kind: 'area' }>, lo: number, hi: number): void {
  const { n, b, ch, k, f, srcWidth, iw: width, outN, outB } = call;
  const dn = n;
  const db = b;
  const accN = new Float64Array(width);
  const accB = new Float64Array(width);
  for (let yi = lo; yi < hi; yi++) {
    accN.fill(0);
    accB.fill(0);
    for (let dy = 0; dy < f; dy++) {
      let j = (yi * f + dy) * srcWidth * ch;
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
}

/**
 * The gated output row by row: the returned function writes row `y` of `gate.out` as
 * B + g (N - B), rounded, with g the gate map bilinearly at output pixels (centres
 * aligned). Per output row the two input rows are mixed first; a row whose weights are
 * all 1 is the network's row as it is.
 */
export function gateRows(b: Data, m: Data, gate: GateInput, width: number, ch: number): (y: number) => void {
  const { c, iw, ih, out: o8 } = gate;
  const f = Math.round(width / iw);
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
        // Non-negative: + 0.5 and the typed array's truncation round as Math.round does.
        if (g >= 1) for (let k = 0; k < ch; k++, j++) o8[j] = m[j]!;
        else for (let k = 0; k < ch; k++, j++) o8[j] = b[j]! + g * (m[j]! - b[j]!) + 0.5;
      }
    }
  };
}

function gateRow3(b: Data, m: Data, o8: Data, cRow: Float32Array, x0s: Int32Array, x1s: Int32Array, txs: Float32Array, start: number, width: number): void {
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
