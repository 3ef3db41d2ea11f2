import { performance } from 'node:perf_hooks';
import { ClearShotError } from '../errors/index.js';
import { decodeImage } from './image/decode.js';
import { defaultFormat, encodeImage } from './image/encode.js';
import { grayToRgb, resizeRaster, rgbToGray } from './image/raster.js';
import { MODELS, type ModelSpec } from './models/model-registry.js';
import type { ModelSession } from './models/onnx-session.js';
import { planScale, type PreDownscaleTable } from './scale-plan.js';
import { checkOutput, resolveScale } from './scale-rules.js';
import { runTiled, throwIfAborted } from './tile-runner.js';
import { enhanceFaces, MAX_FACES, type FaceStageDeps } from './face/face-stage.js';
import type { EnhanceOptions, EnhanceResult, FaceReport, ModelName } from './types.js';

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
  readonly tuning?: {
    readonly preDownscale?: PreDownscaleTable;
    /** Network input budget in pixels (see scale-plan.ts). */
    readonly maxNetPixels?: number;
    readonly tileSize?: number;
    readonly overlap?: number;
  };
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
  const plan = planScale(decoded.width, decoded.height, scale, spec.netScale, {
    preDownscale: ctx.tuning?.preDownscale,
    maxNetPixels: ctx.tuning?.maxNetPixels,
  });
  lap('decode');
  report(DECODE_END);
  throwIfAborted(options.signal);

  const session = await ctx.session(model);
  lap('load');
  const faceMode = options.kind === 'face';
  const faceDeps = faceMode ? await faceStageDeps(ctx) : undefined;
  const gray = decoded.color.channels === 1;
  let color = await resizeRaster(decoded.color, plan.netInput.width, plan.netInput.height);
  if (gray) color = grayToRgb(color);
  lap('prepare');

  const networkEnd = faceMode ? FACE_NETWORK_END : NETWORK_END;
  let up = await runTiled(session, color, spec.netScale, {
    tileSize: ctx.tuning?.tileSize ?? spec.tileSize,
    overlap: ctx.tuning?.overlap ?? spec.overlap,
    signal: options.signal,
    onTile: (f) => report(DECODE_END + f * (networkEnd - DECODE_END)),
  });
  lap('inference');

  up = await resizeRaster(up, plan.output.width, plan.output.height);
  let faces: FaceReport | undefined;
  if (faceDeps) {
    faces = await enhanceFaces(
      { input: gray ? grayToRgb(decoded.color) : decoded.color, netInput: color, netScale: spec.netScale, output: up, scale, signal: options.signal, onProgress: (f) => report(networkEnd + f * (NETWORK_END - networkEnd)) },
      faceDeps,
    );
    lap('faces');
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
    notes: [...decoded.notes, ...encoded.notes, ...faceNotes(faces)],
    ...(faces ? { faces } : {}),
    timings,
  };
}

async function faceStageDeps(ctx: PipelineContext): Promise<FaceStageDeps> {
  if (!ctx.faces) throw new ClearShotError('INTERNAL', 'this engine was built without the face step');
  return ctx.faces();
}

function faceNotes(faces: FaceReport | undefined): string[] {
  if (!faces) return [];
  if (faces.detected === 0) return ['no face found: enhanced as clean'];
  const notes = [`face enhancement: ${faces.enhanced} face${faces.enhanced === 1 ? '' : 's'} restored`];
  if (faces.detected > faces.enhanced) notes.push(`${faces.detected} faces found, the ${faces.enhanced} largest restored (limit ${MAX_FACES}); the rest enhanced as clean`);
  return notes;
}
