import { performance } from 'node:perf_hooks';
import { ClearShotError } from '../errors/index.js';
import { decodeImage } from './image/decode.js';
import { defaultFormat, encodeImage } from './image/encode.js';
import { cropRaster, grayToRgb, resizeRaster, rgbToGray } from './image/raster.js';
import { MODELS, type ModelSpec } from './models/model-registry.js';
import type { ModelSession } from './models/onnx-session.js';
import { DEFAULT_PRE_DOWNSCALE, planScale, type PreDownscaleTable } from './scale-plan.js';
import { analyzeImage } from './adapt/analysis.js';
import { consistencyGate, DEFAULT_CONSISTENCY, estimateDefect, fuse, fusionFor, type FusionOptions } from './adapt/fusion.js';
import { chooseRestoration, faceRegionStrength, preDownscale1x } from './adapt/policy.js';
import { checkOutput, resolveScale } from './scale-rules.js';
import { runTiled, throwIfAborted } from './tile-runner.js';
import { enhanceFaces, faceMask, maskSupport, MAX_FACES, type FaceStageDeps } from './face/face-stage.js';
import type { PipelineTuning } from './engine-config.js';
import type { EnhanceOptions, EnhanceResult, FaceReport, ModelName, Raster } from './types.js';

/**
 * The enhancement pipeline: decode -> (pre-resize) -> tiled network -> (post-resize)
 * -> encode. Pure apart from the sessions it is handed: no HTTP, no storage, no
 * globals. Progress is reported per tile; the abort signal is checked between steps
 * and between tiles.
 */
export interface PipelineContext {
  /** Returns the (cached) session for a model. */
  session(model: ModelName): Promise<ModelSession>;
  /** The face step's detector and restorers (loaded on first use). */
  faces?(): Promise<FaceStageDeps>;
  /** Overrides for benchmarks and tests. */
  readonly tuning?: PipelineTuning;
}

/** Share of the progress bar given to each phase (decode, network, faces, encode). */
const DECODE_END = 5;
const NETWORK_END = 95;
/** With `kind: 'face'` the clean network ends here and the faces take the rest. */
const FACE_NETWORK_END = 80;

export async function enhance(bytes: Uint8Array, options: EnhanceOptions, ctx: PipelineContext): Promise<EnhanceResult> {
  const timings: Record<string, number> = {};
  let last = -1;
  const report = (p: number) => {
    const v = Math.min(99, Math.floor(p));
    if (v > last) {
      last = v;
      options.onProgress?.(v);
    }
  };
  let mark = performance.now();
  const lap = (name: string) => {
    const now = performance.now();
    timings[name] = (timings[name] ?? 0) + (now - mark);
    mark = now;
  };

  report(0);
  const model: ModelName = options.model ?? 'fast';
  const spec: ModelSpec = MODELS[model];
  const decoded = await decodeImage(bytes, { keepGps: options.keepGps });
  const scale = resolveScale(options.scale, decoded.width, decoded.height);
  checkOutput(decoded.width, decoded.height, scale);
  lap('decode');

  // Measure the input, then decide how much of the network's output to use.
  const analysis = analyzeImage(decoded.color, bytes, decoded.format);
  const faceMode = options.kind === 'face';
  const fixFaceOnly = faceMode && options.fixFaceOnly === true;
  const restoration = chooseRestoration(analysis, scale, fixFaceOnly ? 0 : options.strength);
  const preTable = ctx.tuning?.preDownscale ?? { ...DEFAULT_PRE_DOWNSCALE, 1: preDownscale1x(analysis) };
  const plan = planScale(decoded.width, decoded.height, scale, spec.netScale, { preDownscale: preTable, maxNetPixels: ctx.tuning?.maxNetPixels });
  lap('analysis');
  report(DECODE_END);
  throwIfAborted(options.signal);

  const gray = decoded.color.channels === 1;
  const rgbInput = gray ? grayToRgb(decoded.color) : decoded.color;
  // The classical image: the input itself at 1x, Lanczos at 2x and 4x. Not made when
  // the network's output is used as it is (strength 1, no fix_face_only).
  const useNetwork = restoration.strength > 0 || faceMode;
  const needsClassical = !useNetwork || fixFaceOnly || restoration.strength < 1;
  const classical = needsClassical ? await resizeRaster(rgbInput, plan.output.width, plan.output.height) : undefined;
  let up = classical!; // undefined only when the network runs, and then replaced below
  let faces: FaceReport | undefined;
  const precisionNotes: string[] = [];
  if (useNetwork) {
    const session = await ctx.session(model);
    if (session.precision === 'int8') precisionNotes.push('network run in int8 (precision)');
    lap('load');
    const faceDeps = faceMode ? await faceStageDeps(ctx) : undefined;
    const color = await resizeRaster(rgbInput, plan.netInput.width, plan.netInput.height);
    lap('prepare');

    const networkEnd = faceMode ? FACE_NETWORK_END : NETWORK_END;
    const net = await runTiled(session, color, spec.netScale, {
      tileSize: ctx.tuning?.tileSize ?? spec.tileSize,
      overlap: ctx.tuning?.overlap ?? spec.overlap,
      signal: options.signal,
      onTile: (f) => report(DECODE_END + f * (networkEnd - DECODE_END)),
    });
    lap('inference');
    const netOut = await resizeRaster(net, plan.output.width, plan.output.height);
    // fix_face_only keeps the network's output for the faces' surroundings inside the masks.
    // At 2x/4x the network's change is first held back where it disagrees with the input.
    const fused = !fixFaceOnly && classical !== undefined;
    up = fused ? fuse(classical, consistencyGate(classical, netOut, rgbInput, scale), fusionFor(scale, restoration.strength)) : netOut;
    const fusesFaces = fused && faceDeps !== undefined && !faceDeps.aligned;
    lap('fusion');
    if (faceDeps) {
      const faceStrength = options.faceStrength ?? faceDeps.strength;
      const onProgress = (f: number) => report(networkEnd + f * (NETWORK_END - networkEnd));
      if (!fusesFaces) {
        // A user's aligned model (CLEARSHOT_FACE_MODEL) has the last word: its face is
        // pasted on the final photo at face_strength, not judged by the fusion.
        faces = await enhanceFaces({ input: rgbInput, netInput: color, netScale: spec.netScale, output: up, scale, signal: options.signal, onProgress }, { ...faceDeps, strength: faceStrength });
        // fix_face_only: outside every face mask, the classical image.
        if (fixFaceOnly && classical) up = blendMasked(classical, up, faceMask(faces, up.width, up.height));
      } else {
        // Built-in fidelity network: the faces are restored on the network's output and
        // fused with the input like the rest of the photo, at the face region's strength;
        // outside the masks the fused photo stays as it is. (Mixed into the fused photo
        // instead, the fidelity face pulled it below the clean path: docs/BENCHMARKS.md,
        // "Face enhancement".) The defect of the network's whole, ungated change (fuse's own estimate on it),
        // taken before the faces change it. (From the gated change, as the photo's fusion
        // takes it at 2x/4x, x4 faces scored 30.68 dB / 0.8911 against 30.72 / 0.8918.)
        const defect = estimateDefect(classical, netOut);
        faces = await enhanceFaces({ input: rgbInput, netInput: color, netScale: spec.netScale, output: netOut, scale, signal: options.signal, onProgress }, { ...faceDeps, strength: faceStrength });
        // face_strength 0: the faces stay as the clean path made them.
        if (faces.enhanced > 0 && faceStrength > 0) {
          if (up === classical) up = { ...up, data: up.data.slice() } as Raster;
          fuseFaceRegions(up, classical, netOut, rgbInput, scale, faces, { ...fusionFor(scale, faceRegionStrength(restoration, scale)), defect });
        }
      }
      lap('faces');
    }
  }
  if (gray) up = rgbToGray(up);
  // Alpha is never fed to the network as colour: a smooth classical filter keeps
  // transparent edges clean.
  const alpha = decoded.alpha ? await resizeRaster(decoded.alpha, plan.output.width, plan.output.height, 'mitchell') : undefined;
  lap('finish');
  throwIfAborted(options.signal);

  const format = options.format ?? defaultFormat(decoded.format, alpha !== undefined);
  const encoded = await encodeImage({ color: up, alpha, icc: decoded.icc, exif: decoded.exif }, format);
  lap('encode');
  report(99);

  return {
    data: encoded.data,
    format: encoded.format,
    contentType: encoded.contentType,
    width: plan.output.width,
    height: plan.output.height,
    inputWidth: decoded.width,
    inputHeight: decoded.height,
    inputFormat: decoded.format,
    scale,
    model,
    notes: [...decoded.notes, ...encoded.notes, ...restorationNotes(restoration.strength, useNetwork), ...precisionNotes, ...faceNotes(faces, fixFaceOnly)],
    ...(faces ? { faces } : {}),
    analysis: {
      jpegQuality: analysis.jpegQuality,
      jpegQualitySource: analysis.jpegQualitySource,
      noise: round(analysis.noise, 2),
      sharpness: round(analysis.sharpness, 3),
      blocking: round(analysis.blocking, 3),
    },
    restoration: { ...restoration, preDownscale: useNetwork ? round(plan.preDownscale, 3) : 1 },
    timings,
  };
}

async function faceStageDeps(ctx: PipelineContext): Promise<FaceStageDeps> {
  if (!ctx.faces) throw new ClearShotError('INTERNAL', 'this engine was built without the face step');
  return ctx.faces();
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

function restorationNotes(strength: number, useNetwork: boolean): string[] {
  if (!useNetwork) return ['strength 0: the input resized with a classical filter (Lanczos), no network'];
  return [];
}

/**
 * Fuses the face regions again at their own strength and blends the result into `up`
 * (in place) with the faces' feathered masks. Only the rectangle around the masks is
 * fused, with a margin wider than every window of the fusion and the gate, its origin
 * on the 4-pixel grid of the tone low-pass: inside the masks the result is what a fusion
 * of the whole photo gives, at a fraction of the cost (a 12 MP fusion takes 1-3 s).
 */
function fuseFaceRegions(up: Raster, base: Raster, net: Raster, input: Raster, scale: number, faces: FaceReport, o: FusionOptions): void {
  if (faces.boxes.length === 0) return;
  const margin = 3 * o.toneRadius + 2 * o.radius + 4 * scale * DEFAULT_CONSISTENCY.radius + 16;
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = 0;
  let y1 = 0;
  for (const b of faces.boxes) {
    const m = maskSupport(b);
    x0 = Math.min(x0, m.x0);
    y0 = Math.min(y0, m.y0);
    x1 = Math.max(x1, m.x1);
    y1 = Math.max(y1, m.y1);
  }
  const grid = 4; // a multiple of every scale (1, 2, 4) and the tone's block size
  const rx0 = Math.max(0, Math.floor((x0 - margin) / grid) * grid);
  const ry0 = Math.max(0, Math.floor((y0 - margin) / grid) * grid);
  const rx1 = Math.min(up.width, Math.ceil((x1 + margin) / grid) * grid);
  const ry1 = Math.min(up.height, Math.ceil((y1 + margin) / grid) * grid);
  const w = rx1 - rx0;
  const h = ry1 - ry0;
  if (w <= 0 || h <= 0) return;
  const b = cropRaster(base, rx0, ry0, w, h);
  const n = cropRaster(net, rx0, ry0, w, h);
  // The gate compares with the input: its crop covers the same area (sizes stay exact
  // multiples of the scale, as the image's own are).
  const i = scale > 1 ? cropRaster(input, rx0 / scale, ry0 / scale, Math.ceil(w / scale), Math.ceil(h / scale)) : input;
  const fused = fuse(b, consistencyGate(b, n, i, scale), o);
  const mask = faceMask({ ...faces, boxes: faces.boxes.map((x) => ({ ...x, x: x.x - rx0, y: x.y - ry0 })) }, w, h);
  blendInto(up, fused, mask, rx0, ry0);
}

/** out = a (1 - m) + b m, per pixel, for two RGB rasters of one shape. */
function blendMasked(a: Raster, b: Raster, mask: Float32Array): Raster {
  const out = { ...a, data: a.data.slice() } as Raster;
  blendInto(out, b, mask, 0, 0);
  return out;
}

/** dst = dst (1 - m) + src m in place, for RGB `src` (and its mask) placed at (`x0`, `y0`) of `dst`. */
function blendInto(dst: Raster, src: Raster, mask: Float32Array, x0: number, y0: number): void {
  const o = dst.data;
  const f = src.data;
  for (let y = 0; y < src.height; y++) {
    for (let x = 0; x < src.width; x++) {
      const m = mask[y * src.width + x]!;
      if (m <= 0) continue;
      const oi = ((y0 + y) * dst.width + x0 + x) * 3;
      const fi = (y * src.width + x) * 3;
      for (let c = 0; c < 3; c++) o[oi + c] = Math.round(o[oi + c]! * (1 - m) + f[fi + c]! * m);
    }
  }
}

function faceNotes(faces: FaceReport | undefined, fixFaceOnly: boolean): string[] {
  if (!faces) return [];
  if (faces.detected === 0) return [fixFaceOnly ? 'no face found: fix_face_only returned the input resized with a classical filter' : 'no face found: enhanced as clean'];
  const notes = [`face enhancement: ${faces.enhanced} face${faces.enhanced === 1 ? '' : 's'} restored`];
  if (faces.detected > faces.enhanced) notes.push(`${faces.detected} faces found, the ${faces.enhanced} largest restored (limit ${MAX_FACES}); the rest enhanced as clean`);
  return notes;
}
