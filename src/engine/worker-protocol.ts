import type { SerializedError } from '../errors/index.js';
import type { EngineConfig } from './engine-config.js';
import type { EngineInt8Known } from './local-engine.js';
import type { EnhanceJob, EnhanceResult, ModelName } from './types.js';

/** Messages between the engine pool (main thread) and its worker threads. */

/** A worker's start: the pool's engine settings (less its log callback) and the prepared model files. */
export interface WorkerInit {
  readonly engine: Omit<EngineConfig, 'log'>;
  readonly paths: Partial<Record<ModelName, string>>;
  /** The pool's int8 decisions, made once at start (per network; unset where it does not run). */
  readonly int8?: EngineInt8Known | undefined;
}

export type ToWorker =
  | { readonly type: 'job'; readonly id: number; readonly bytes: Uint8Array; readonly job: EnhanceJob }
  | { readonly type: 'cancel'; readonly id: number; readonly reason?: SerializedError | undefined };

export type FromWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'init-failed'; readonly error: SerializedError }
  | { readonly type: 'log'; readonly line: string }
  | { readonly type: 'progress'; readonly id: number; readonly percent: number }
  | { readonly type: 'done'; readonly id: number; readonly result: EnhanceResult }
  | { readonly type: 'failed'; readonly id: number; readonly error: SerializedError };
