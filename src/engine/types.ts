/**
 * Shared engine types. The engine is pure: bytes + options + AbortSignal + progress
 * callback in, bytes out. It knows nothing of HTTP, tasks or storage.
 */

/** Engine model names: `fast` = realesr-general-x4v3 (compact), `quality` = RealESRGAN_x4plus (RRDB). */
export type ModelName = 'fast' | 'quality';
export const MODEL_NAMES: readonly ModelName[] = ['fast', 'quality'];

/** Weight of restored faces inside their masks, chosen by the face benchmark (docs/BENCHMARKS.md, "Face enhancement"). */
export const DEFAULT_FACE_STRENGTH = 0.35;

/** Numeric precision of the fast network (models/precision.ts): what a setting or request may ask for, and what runs. */
export const PRECISION_SETTINGS = ['auto', 'fp32', 'int8'] as const;
export type PrecisionSetting = (typeof PRECISION_SETTINGS)[number];
export type Precision = Exclude<PrecisionSetting, 'auto'>;
export const PRECISIONS: readonly Precision[] = ['fp32', 'int8'];
/** `auto` runs int8 only when its output on the start-time check input reaches this PSNR (dB) against FP32's. */
export const INT8_MIN_PSNR_DB = 42;

/**
 * How a 1x photo is restored (CLEARSHOT_RESTORE_1X): `network` = ClearShot's restoration
 * network at the photo's own size; `upscaler` = the x4 network on a shrunk copy, fused
 * with the input (the path before issue 23); `auto` (the default) = per photo, from the
 * analysis: the restoration network where the photo is noisy (where it wins by far), the
 * upscaler path elsewhere (where the network is level with it or behind).
 */
export const RESTORE_1X_STRATEGIES = ['auto', 'network', 'upscaler'] as const;
/**
 * Default compute budget: the largest network input in pixels (CLEARSHOT_MAX_NET_MEGAPIXELS).
 * 2 MP: on camera-sized photos at 1x (8-13 MP, docs/BENCHMARKS.md, "1x network budget on
 * camera-sized photos") it cost 0.008 dB of the clean photos' gain and 0.011 dB of the
 * phone photos' against 2.5 MP for 18% less time, and keeps a 4096 x 4096 image at 1x near
 * 20 s with the fast model on a 2-core CPU (1.6 MP saved 35% for 0.02-0.03 dB).
 */
export const DEFAULT_MAX_NET_PIXELS = 2_000_000;

export const DEFAULT_RESTORE_1X = 'auto' as const;
export type Restore1xStrategy = (typeof RESTORE_1X_STRATEGIES)[number];
/** Whether a strategy may use the restoration network (so it is loaded, and its int8 decided, at start). */
export const usesRestoreNetwork = (s: Restore1xStrategy | undefined): boolean => (s ?? DEFAULT_RESTORE_1X) !== 'upscaler';

/** Output scale factors the contract allows (scale_factor 1, 2 or 4). */
export type ScaleFactor = 1 | 2 | 4;
export const SCALE_FACTORS: readonly ScaleFactor[] = [1, 2, 4];

/** Formats the encoder can write (their extensions, MIME types and capabilities: image/formats.ts). */
export type OutputFormat = 'jpeg' | 'png' | 'webp' | 'tiff';

/**
 * An interleaved raster (HWC). `depth` 8 uses Uint8Array, 16 uses Uint16Array.
 * Channels: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA.
 */
export interface Raster {
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 2 | 3 | 4;
  readonly depth: 8 | 16;
  readonly data: Uint8Array | Uint16Array;
}

/** Progress in percent (0-100), monotonic, reported at least once per tile. */
export type ProgressCallback = (percent: number) => void;

/** `clean`: the network on the whole image; `face`: plus face restoration (up to 10 faces). */
export type EnhanceKind = 'clean' | 'face';
export const ENHANCE_KINDS: readonly EnhanceKind[] = ['clean', 'face'];

/** What the face step did (`type=face`), boxes in output pixels, largest first. */
export interface FaceReport {
  /** Faces the detector found (may exceed `enhanced`). */
  readonly detected: number;
  /** Faces restored: at most 10. */
  readonly enhanced: number;
  /** `fidelity` = the built-in network mix; `model` = the configured CLEARSHOT_FACE_MODEL. */
  readonly restorer: 'fidelity' | 'model';
  readonly boxes: ReadonlyArray<{ readonly x: number; readonly y: number; readonly width: number; readonly height: number; readonly score: number }>;
}

/**
 * What to do with one image: the job that travels unchanged from a request (API task or
 * CLI argument) to the engine worker thread. Plain data, so it crosses threads and is
 * stored with its task.
 */
export interface EnhanceJob {
  /** Default `clean`. */
  readonly kind?: EnhanceKind | undefined;
  /** Target scale; undefined = auto by the long edge (the contract: (10,512] 4x, (512,1024] 2x, (1024,4096] 1x). */
  readonly scale?: ScaleFactor | undefined;
  /** Default `fast`. */
  readonly model?: ModelName | undefined;
  /** Output format; default follows the input's family (see encode.ts). */
  readonly format?: OutputFormat | undefined;
  /** Keep GPS position tags in the output's EXIF (default false). */
  readonly keepGps?: boolean | undefined;
  /**
   * Weight of the network's output, 0 (the classically resized input) to 1 (the
   * network's output as is); undefined = chosen from the input's analysis (adapt/policy.ts).
   */
  readonly strength?: number | undefined;
  /** `kind: 'face'`: weight of the restored face inside its mask (default: the engine's setting). */
  readonly faceStrength?: number | undefined;
  /**
   * Precision of the fast network for this request: `fp32` or `int8` force one,
   * `auto`/undefined = the engine's choice (CLEARSHOT_PRECISION). `quality` always runs fp32.
   */
  readonly precision?: PrecisionSetting | undefined;
  /** `kind: 'face'`: restore the faces only; outside their masks the output is the classically resized input. */
  readonly fixFaceOnly?: boolean | undefined;
}

/** A job plus what stays in the caller's thread: cancellation and progress. */
export interface EnhanceOptions extends EnhanceJob {
  readonly signal?: AbortSignal | undefined;
  readonly onProgress?: ProgressCallback | undefined;
}

export interface EnhanceResult {
  readonly data: Uint8Array;
  readonly format: OutputFormat;
  /** MIME type of `data`. */
  readonly contentType: string;
  readonly width: number;
  readonly height: number;
  readonly inputWidth: number;
  readonly inputHeight: number;
  readonly inputFormat: string;
  readonly scale: ScaleFactor;
  readonly model: ModelName;
  /** Human-readable notes about what the engine did (first frame only, profile converted...). */
  readonly notes: readonly string[];
  /** Present when `kind` was `face`. */
  readonly faces?: FaceReport | undefined;
  /** What the engine measured on the input (adapt/analysis.ts), rounded for reports. */
  readonly analysis: InputAnalysis;
  /** How the network's output was used. */
  readonly restoration: {
    readonly strength: number;
    readonly auto: boolean;
    readonly degradation: number;
    readonly preDownscale: number;
    /** The network that ran (or would have, at strength 0): `restore-1x` (ours, 1x) or the x4 upscaler's model. */
    readonly network: 'restore-1x' | ModelName;
  };
  /** Milliseconds spent per step. */
  readonly timings: Readonly<Record<string, number>>;
}

/** The input's measurements as reported in task data (`analysis`) and by the CLI. */
export interface InputAnalysis {
  readonly jpegQuality: number | undefined;
  readonly jpegQualitySource: 'tables' | 'blocking' | undefined;
  readonly noise: number;
  readonly sharpness: number;
  readonly blocking: number;
}
