import { allocRaster } from '../image/raster.js';
import type { Raster } from '../types.js';
import { allocSharedRaster, crewFloat32, crewFloat64, crewFor, isShared, sharedCopy, sharedFloat32, type Crew } from './fusion-crew.js';
import { blurColumns, blurRowPasses, ENERGY_PASSES, gateRows, lumaDelta, TONE_BLOCK, weightOf, type GateInput, type ToneInput, type WeightParams } from './fusion-kernels.js';

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

/** The default `defect` from the mean squared luma change of the network. */
const defectOf = (meanSquare: number) => 0.5 * Math.sqrt(meanSquare);

/**
 * The `defect` that {@link fuse} estimates when none is given, taken from a pair before
 * one of them changes (the face step fuses its regions again after restoring them). Sums
 * as the fusion does (rows of float32 squares, then the rows in order): the same defect
 * to the bit.
 */
export function estimateDefect(base: Raster, net: Raster): number {
  const { width, height, channels: ch } = base;
  const k = base.depth === 16 ? 1 / 257 : 1;
  const b = base.data;
  const m = net.data;
  let se = 0;
  for (let y = 0, j = 0; y < height; y++) {
    let row = 0;
    for (let x = 0; x < width; x++, j += ch) {
      const d = lumaDelta(b, m, j, ch, k);
      row += Math.fround(d * d);
    }
    se += row;
  }
  return defectOf(se / (width * height));
}

function weightParams(o: FusionOptions, defect: number): WeightParams {
  const s = Math.min(1, Math.max(0, o.strength));
  return { s, allowed: o.tau * o.tau * Math.max(0.25, defect * defect), lk: Math.log(s) * o.texture };
}

/**
 * The blurred local energy of the luma change and the defect (given, or estimated from
 * it), in `into`; with `gate`, the gated network output is made row by row as it is read.
 */
function localEnergy(crew: Crew, base: Raster, net: Raster, o: FusionOptions, into: Float32Array, gate?: GateInput): { energy: Float32Array; defect: number } {
  const { width, height, channels: ch } = base;
  const n = width * height;
  const energy = into.subarray(0, n);
  const r = Math.round(o.radius);
  const rowSums = crewFloat64(crew, height, 'fusion row sums');
  crew.run({ kind: 'energy', b: base.data, m: net.data, gate, ch, k: base.depth === 16 ? 1 / 257 : 1, energy, width, r, rowSums }, height);
  if (r >= 1) crew.run({ kind: 'columns', plane: energy, width, height, r, passes: ENERGY_PASSES }, width);
  let se = 0;
  for (let y = 0; y < height; y++) se += rowSums[y]!;
  return { energy, defect: o.defect ?? defectOf(se / n) };
}

/** The per-pixel weight of the network, w in [0, 1] (exported for tests and benchmarks). */
export function fusionWeights(base: Raster, net: Raster, o: FusionOptions, into?: Float32Array): Float32Array {
  const crew = crewFor(base.width * base.height);
  const n = base.width * base.height;
  const { energy, defect } = localEnergy(crew, base, net, o, into ?? (crew.size > 1 ? sharedFloat32(n) : new Float32Array(n)));
  const p = weightParams(o, defect);
  const w = energy; // reused in place
  if (p.s <= 0 || p.s >= 1) return w.fill(p.s <= 0 ? 0 : 1);
  for (let i = 0; i < w.length; i++) w[i] = weightOf(energy[i]!, p);
  return w;
}

/**
 * Working memory kept between fusions (grow-only, one set per thread that fuses; shared,
 * so that the crew's helpers work in it): on a VM, touching fresh pages costs ~2 ms per
 * MB, so a 4 MP fusion that allocated its weight plane and gated copy anew spent ~60 ms on
 * page faults alone (docs/BENCHMARKS.md, "End to end"). Only used within one call.
 */
let planeScratch = sharedFloat32(0);
let gatedScratch8: Uint8Array = new Uint8Array(0);
let gatedScratch16: Uint16Array = new Uint16Array(0);

function scratchPlane(n: number): Float32Array {
  if (planeScratch.length < n) planeScratch = sharedFloat32(n);
  return planeScratch.subarray(0, n);
}

/** Shared working memory for the gated network output, shaped like `like` (contents undefined). */
function gatedScratch(like: Raster): Raster['data'] {
  const n = like.width * like.height * like.channels;
  if (like.depth === 16) {
    if (gatedScratch16.length < n) gatedScratch16 = allocSharedRaster(n, 1, 1, 16).data as Uint16Array;
    return gatedScratch16.subarray(0, n);
  }
  if (gatedScratch8.length < n) gatedScratch8 = allocSharedRaster(n, 1, 1, 8).data as Uint8Array;
  return gatedScratch8.subarray(0, n);
}

/**
 * The crew for a pair, and the pair as it reads it. The crew takes a fusion whose network
 * output is in shared memory already (the tile runner's, used at its own size: 4x up to
 * 4 MP, the 1x restoration network's up to 16.8 MP); `base` (the photo, or its libvips
 * resize) is then copied into shared memory ({@link baseCopy}). A
 * network output that was resized
 * first (1x and 2x with the x4 network) is fused on the calling thread alone: sharing it
 * would take two more copies of the output's size, for ~2% of those runs' time.
 */
function crewInputs(base: Raster, net: Raster, use: OutputBuffer): { crew: Crew; b: Raster; m: Raster; into: Raster['data'] | undefined } {
  const into = use.overwriteNet ? net.data : undefined;
  const crew = crewFor(base.width * base.height);
  if (crew.size === 1 || !isShared(net.data)) return { crew: crewFor(0), b: base, m: net, into };
  return { crew, b: baseCopy(base), m: net, into };
}

let baseScratch8: Uint8Array = new Uint8Array(0);

/**
 * `base` in shared memory: an 8-bit one (12 MB at 4 MP, at most 48 MB at 16.8 MP) in
 * working memory kept between calls, a 16-bit one in fresh memory. Fresh shared buffers
 * are collected late: a 512 px 4x run with one per job peaked ~100 MB higher.
 */
function baseCopy(base: Raster): Raster {
  const n = base.width * base.height * base.channels;
  if (isShared(base.data) || base.depth !== 8) return sharedCopy(base);
  if (baseScratch8.length < n) baseScratch8 = allocSharedRaster(n, 1, 1, 8).data as Uint8Array;
  const data = baseScratch8.subarray(0, n);
  data.set(base.data);
  return { ...base, data };
}

/** Small working arrays, zeroed ({@link crewFloat32}: shared and kept between calls for a crew). */
const floats = (crew: Crew, n: number, slot: string): Float32Array => crewFloat32(crew, n, `fusion ${slot}`).fill(0);

/** A result raster the crew can write. */
const allocOut = (crew: Crew, like: Raster): Raster => (crew.size > 1 ? allocSharedRaster : allocRaster)(like.width, like.height, like.channels, like.depth);

/**
 * fuse(base, consistencyGate(base, net, input, scale), o) in one implementation: the
 * gated network output is made row by row, in working memory, as the fusion reads it
 * (the gate applies only at 2x/4x, as there).
 */
export function fuseGated(base: Raster, net: Raster, input: Raster, scale: number, o: FusionOptions, use: OutputBuffer = {}, gate: ConsistencyOptions = DEFAULT_CONSISTENCY): Raster {
  if (o.strength <= 0) return base;
  if (!sameShape(base, net)) return fuse(base, net, o, use); // throws the shape error
  const { crew, b, m, into } = crewInputs(base, net, use);
  const c = gateMapWith(crew, b, m, input, scale, gate);
  if (!c) return o.strength >= 1 ? net : fuseWith(crew, b, m, o, into);
  const gateInput = (out: Raster['data']): GateInput => ({ c, iw: input.width, ih: input.height, out });
  if (o.strength >= 1) {
    const out = allocOut(crew, b);
    crew.run({ kind: 'gate', b: b.data, m: m.data, gate: gateInput(out.data), width: b.width, ch: b.channels }, b.height);
    return out;
  }
  // The gated copy is made row by row from `net` before the output pass: `net` may take the result.
  return fuseWith(crew, b, m, o, into, gateInput(gatedScratch(b)));
}

/**
 * Where the result goes. `overwriteNet`: into the network output's own memory, which the
 * caller no longer needs (the pipeline outside face mode): a fresh 4 MP result cost ~35 ms
 * of page faults on the 2-core VM, and 12 MB more at the peak.
 */
export interface OutputBuffer {
  readonly overwriteNet?: boolean;
}

const sameShape = (a: Raster, b: Raster) => a.width === b.width && a.height === b.height && a.channels === b.channels && a.depth === b.depth;

/** B + w (N - B), minus the low-pass of that change (tone anchoring). Same shape as `base`. */
export function fuse(base: Raster, net: Raster, o: FusionOptions, use: OutputBuffer = {}): Raster {
  if (!sameShape(base, net)) {
    throw new Error(`fusion needs two rasters of one shape: ${base.width}x${base.height}x${base.channels}/${base.depth} vs ${net.width}x${net.height}x${net.channels}/${net.depth}`);
  }
  const s = Math.min(1, Math.max(0, o.strength));
  if (s >= 1) return net;
  if (s <= 0) return base;
  const { crew, b, m, into } = crewInputs(base, net, use);
  return fuseWith(crew, b, m, o, into);
}

/**
 * The fusion for 0 < strength < 1, in four sweeps of the output: (1) the net's rows (made
 * from the gate map when gated) and their squared luma change, blurred along the row;
 * (2) the vertical blur passes; (3) the weights, with the change's 4x4 block sums for the
 * tone low-pass; (4) the output. Each sweep is one crew call.
 */
function fuseWith(crew: Crew, base: Raster, net: Raster, o: FusionOptions, into?: Raster['data'], gate?: GateInput): Raster {
  const { width, height, channels: ch } = base;
  const { energy, defect } = localEnergy(crew, base, net, o, scratchPlane(width * height), gate);
  const p = weightParams(o, defect);
  const w = energy; // reused in place
  const b = base.data;
  const m = gate ? gate.out : net.data;
  // Each output sample is written after the last read of its own index in `net` and
  // `base` (both read only there in this pass): `into` may be either's memory.
  const out: Raster = into ? { width, height, channels: ch, depth: base.depth, data: into } : allocOut(crew, base);
  const max = base.depth === 16 ? 65535 : 255;
  const output = (tone: ToneInput | undefined) => crew.run({ kind: 'output', b, m, w, p, tone, out: out.data, width, height, ch, max }, height);
  if (o.toneRadius < 1) {
    output(undefined);
    return out;
  }
  // The change's low-pass at a quarter of the resolution: box-average 4x4 blocks (a
  // partial block at the right or bottom edge over its own pixels), blur there (radius / 4,
  // three passes ~ Gaussian), bilinear back up. Blocks are kept interleaved (sw x ch).
  const f = TONE_BLOCK;
  const sw = Math.ceil(width / f);
  const sh = Math.ceil(height / f);
  const small = floats(crew, sw * sh * ch, 'tone blocks');
  crew.run({ kind: 'weights', b, m, w, p, small, width, ch, sw }, height, f);
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
    const plane = floats(crew, sw * sh, `tone ${c}`);
    for (let k = 0; k < plane.length; k++) plane[k] = small[k * ch + c]!;
    return boxBlur(plane, sw, sh, Math.max(1, o.toneRadius / f), 3);
  });
  output({ planes, sw, sh });
  return out;
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

/** The network's output with its change scaled down where it disagrees with the input (see ConsistencyOptions); `net` itself when scale is 1 or the sizes are not exact multiples. */
export function consistencyGate(base: Raster, net: Raster, input: Raster, scale: number, o: ConsistencyOptions = DEFAULT_CONSISTENCY): Raster {
  const c = gateMap(base, net, input, scale, o);
  if (!c) return net;
  const out = allocRaster(base.width, base.height, base.channels, base.depth);
  const row = gateRows(base.data, net.data, { c, iw: input.width, ih: input.height, out: out.data }, base.width, base.channels);
  for (let y = 0; y < base.height; y++) row(y);
  return out;
}

/**
 * The gate's weights c at input resolution (see ConsistencyOptions), or undefined when
 * nothing is gated (every c is 1), the scale is 1 or the sizes are not exact multiples.
 */
export function gateMap(base: Raster, net: Raster, input: Raster, scale: number, o: ConsistencyOptions = DEFAULT_CONSISTENCY): Float32Array | undefined {
  return gateMapWith(crewFor(0), base, net, input, scale, o);
}

function gateMapWith(crew: Crew, base: Raster, net: Raster, input: Raster, scale: number, o: ConsistencyOptions): Float32Array | undefined {
  const f = Math.round(scale);
  const { width: iw, height: ih } = input;
  if (f < 2 || base.width !== iw * f || base.height !== ih * f || net.width !== base.width || net.height !== base.height || base.channels !== net.channels || base.depth !== net.depth) return undefined;
  const li = lumaOf(input);
  // The luma of both shrunk back by the scale (area filter).
  const eN = floats(crew, iw * ih, 'gate N');
  const eB = floats(crew, iw * ih, 'gate B');
  crew.run({ kind: 'area', n: net.data, b: base.data, ch: net.channels, k: (net.depth === 16 ? 1 / 257 : 1) / (f * f), f, srcWidth: net.width, iw, outN: eN, outB: eB }, ih);
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
