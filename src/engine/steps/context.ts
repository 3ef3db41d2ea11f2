import { performance } from 'node:perf_hooks';
import { ClearShotError } from '../../errors/index.js';
import type { Restoration } from '../adapt/policy.js';
import type { ImageAnalysis } from '../adapt/analysis.js';
import type { PipelineTuning } from '../engine-config.js';
import type { FaceStageDeps } from '../face/face-stage.js';
import type { DecodedImage } from '../image/decode.js';
import type { ModelSpec } from '../models/model-registry.js';
import type { ModelSession } from '../models/onnx-session.js';
import type { RestoreModelSpec } from '../models/restore-model.js';
import type { ScalePlan } from '../scale-plan.js';
import type { EnhanceOptions, FaceReport, ModelName, OutputFormat, Raster, Restore1xStrategy, ScaleFactor } from '../types.js';

/**
 * What the pipeline is handed: the sessions it may open, and overrides for benchmarks.
 * Pure apart from these: no HTTP, no storage, no globals.
 */
export interface PipelineDeps {
  /** The (cached) session of a Real-ESRGAN model (2x/4x, and 1x with the upscaler), for the output's scale. */
  session(model: ModelName, scale: ScaleFactor): Promise<ModelSession>;
  /** The (cached) session of the 1x restoration network; absent: 1x runs the upscaler. */
  restorer?(): Promise<ModelSession>;
  /** The face step's detector and restorers (loaded on first use). */
  faces?(): Promise<FaceStageDeps>;
  /** How 1x is restored: our restoration network (default) or Real-ESRGAN on a shrunk copy. */
  readonly restore1x?: Restore1xStrategy | undefined;
  readonly tuning?: PipelineTuning | undefined;
}

/** How the output is made: the 1x restoration network, or a x4 upscaler with its fusion. */
export type RestorePlan =
  | { readonly kind: 'restore'; readonly model: RestoreModelSpec; readonly output: { readonly width: number; readonly height: number } }
  | { readonly kind: 'upscale'; readonly model: ModelSpec; readonly scale: ScalePlan; readonly output: { readonly width: number; readonly height: number } };

/** What the face step needs from the restore step. */
export interface FaceSource {
  /** What the fidelity network reads faces from, and its factor (x4). */
  readonly netInput: Raster;
  readonly netScale: number;
  /** The network's output as is (strength 1), at output size. */
  readonly netOut: Raster;
  /** The classical image at output size (the input at 1x, Lanczos at 2x/4x). */
  readonly classical?: Raster | undefined;
  /** True when the photo was fused with `classical` (the upscaler's fusion), so the face regions are fused again. */
  readonly fused: boolean;
}

/** Share of the progress bar given to each phase (decode, network, faces, encode). */
export const DECODE_END = 5;
export const NETWORK_END = 95;
/** With `kind: 'face'` the network ends here and the faces take the rest. */
export const FACE_NETWORK_END = 80;

/**
 * One image's way through the pipeline: the request, what each step found or made, the
 * notes and timings. Steps fill it in order; `need` reads what an earlier step must have set.
 */
export class EnhanceContext {
  readonly timings: Record<string, number> = {};
  readonly notes: string[] = [];
  decoded?: DecodedImage;
  scale?: ScaleFactor;
  /** The decoded colour as RGB (gray expanded), at input size. */
  rgb?: Raster;
  analysis?: ImageAnalysis;
  restoration?: Restoration;
  plan?: RestorePlan;
  /** The result so far (RGB, output size). */
  output?: Raster;
  faceSource?: FaceSource;
  faces?: FaceReport;
  /** The final colour (gray again for a gray input) and alpha, ready to encode. */
  finalColor?: Raster;
  alpha?: Raster;
  encoded?: { readonly data: Uint8Array; readonly format: OutputFormat; readonly contentType: string; readonly notes: readonly string[] };
  private last = -1;
  private mark = performance.now();

  constructor(
    readonly bytes: Uint8Array,
    readonly options: EnhanceOptions,
    readonly deps: PipelineDeps,
  ) {}

  get faceMode(): boolean {
    return this.options.kind === 'face';
  }

  get fixFaceOnly(): boolean {
    return this.faceMode && this.options.fixFaceOnly === true;
  }

  /** Progress in percent, monotonic, capped at 99 until the result is returned. */
  report(p: number): void {
    const v = Math.min(99, Math.floor(p));
    if (v > this.last) {
      this.last = v;
      this.options.onProgress?.(v);
    }
  }

  /** Adds the time since the last lap to `name`. */
  lap(name: string): void {
    const now = performance.now();
    this.timings[name] = (this.timings[name] ?? 0) + (now - this.mark);
    this.mark = now;
  }

  /** Where the network's share of the progress bar ends. */
  get networkEnd(): number {
    return this.faceMode ? FACE_NETWORK_END : NETWORK_END;
  }

  need<K extends keyof this>(key: K): NonNullable<this[K]> {
    const v = this[key];
    if (v === undefined || v === null) throw new ClearShotError('INTERNAL', `pipeline step order: ${String(key)} is not set yet`);
    return v as NonNullable<this[K]>;
  }
}

/** One named step of the pipeline; the abort signal is checked before each. */
export interface Step {
  readonly name: string;
  run(c: EnhanceContext): Promise<void> | void;
}
