import type { SerializedError } from '../errors/index.js';
import type { PipelineContext } from './pipeline.js';
import type { FaceConfig } from './local-engine.js';
import type { PrecisionConfig } from './models/int8-selector.js';
import type { EnhanceOptions, EnhanceResult, ModelName } from './types.js';

/** Messages between the engine pool (main thread) and its worker threads. */

export interface WorkerInit {
  readonly dataDir: string;
  readonly threads: number;
  readonly provider: string;
  readonly paths: Partial<Record<ModelName, string>>;
  readonly preload: readonly ModelName[];
  readonly tuning?: PipelineContext['tuning'];
  readonly face?: FaceConfig | undefined;
  readonly precision?: PrecisionConfig | undefined;
  readonly modelSourceDir?: string | undefined;
}

/** The engine's options less what cannot cross a thread (the signal and the callback). */
export type JobOptions = Omit<EnhanceOptions, 'signal' | 'onProgress'>;

export type ToWorker =
  | { readonly type: 'job'; readonly id: number; readonly bytes: Uint8Array; readonly options: JobOptions }
  | { readonly type: 'cancel'; readonly id: number; readonly reason?: SerializedError | undefined };

export type FromWorker =
  | { readonly type: 'ready'; readonly providers: string[] }
  | { readonly type: 'init-failed'; readonly error: SerializedError }
  | { readonly type: 'log'; readonly line: string }
  | { readonly type: 'progress'; readonly id: number; readonly percent: number }
  | { readonly type: 'done'; readonly id: number; readonly result: EnhanceResult }
  | { readonly type: 'failed'; readonly id: number; readonly error: SerializedError };
