import { availableParallelism } from 'node:os';
import { setImageThreads } from './image/raster.js';
import { MODELS } from './models/model-registry.js';
import { prepareFaceFidelityModel, prepareModel, type PreparedModel } from './models/model-store.js';
import { openSession, type ModelSession, type SessionOptions } from './models/onnx-session.js';
import { Int8Selector, type Int8Known } from './models/int8-selector.js';
import type { EngineConfig } from './engine-config.js';
import { openFaceDetector, type FaceDetector } from './face/face-detector.js';
import { openAlignedFaceModel, type AlignedFaceModel } from './face/face-restore.js';
import type { FaceStageDeps } from './face/face-stage.js';
import { restoreModelPath } from './models/restore-model.js';
import { checkInt8Final } from './int8-check.js';
import { enhance } from './pipeline.js';
import { DEFAULT_FACE_STRENGTH, MODEL_NAMES, type EnhanceOptions, type EnhanceResult, type ModelName } from './types.js';

/** What every engine (in-thread or worker pool) offers its callers. */
export interface Engine {
  enhance(bytes: Uint8Array, options?: EnhanceOptions): Promise<EnhanceResult>;
  close(): Promise<void>;
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
  private readonly sessions = new Map<string, Promise<ModelSession>>();
  private readonly int8: Int8Selector;
  private fidelity: Promise<ModelSession> | undefined;
  private aligned: AlignedFaceModel | undefined;
  private detector: FaceDetector | undefined;
  private restoreSession: Promise<ModelSession> | undefined;

  private constructor(
    private readonly config: EngineConfig,
    private readonly paths: Partial<Record<ModelName, string>>,
    int8?: Int8Known,
  ) {
    this.int8 = new Int8Selector(config, () => this.fp32Path('fast'), int8, checkInt8Final);
  }

  /** `int8`: a decision already made (an engine pool's, once for all its workers). */
  static async open(config: EngineConfig, paths: Partial<Record<ModelName, string>> = {}, int8?: Int8Known): Promise<LocalEngine> {
    setImageThreads(config.threads || availableParallelism());
    const engine = new LocalEngine(config, paths, int8);
    for (const name of config.preload ?? MODEL_NAMES) await engine.session(name);
    // The 1x restoration network is small (0.5 MB): always loaded at start, so a broken
    // file fails the boot.
    if ((config.restore1x ?? 'network') === 'network') await engine.restorer();
    // The int8 decision (and its check) is made at start, where it is logged once.
    if ((config.preload ?? MODEL_NAMES).includes('fast')) await engine.int8.decision();
    // A user's face model is checked at start: a wrong one must fail the boot, not a request.
    if (config.face?.model) engine.aligned = await openAlignedFaceModel(config.face.model, engine.sessionOptions());
    return engine;
  }

  /** The session for a model at the requested precision (undefined/auto: the engine's choice). */
  async session(model: ModelName, requested?: EnhanceOptions['precision']): Promise<ModelSession> {
    const precision = await this.int8.precisionFor(model, requested);
    const key = `${model}/${precision}`;
    let s = this.sessions.get(key);
    if (!s) {
      s = precision === 'int8' ? this.int8.open(this.sessionOptions()) : this.load(model);
      // A failed load is not cached: the next call tries again.
      s.catch(() => this.sessions.delete(key));
      this.sessions.set(key, s);
    }
    return s;
  }

  /** The 1x restoration network's session (models/restore-model.ts), opened once. */
  restorer(): Promise<ModelSession> {
    if (!this.restoreSession) {
      this.restoreSession = Promise.resolve().then(() => openSession(restoreModelPath(), this.sessionOptions()));
      this.restoreSession.catch(() => (this.restoreSession = undefined));
    }
    return this.restoreSession;
  }

  private sessionOptions(): SessionOptions {
    const log = this.config.log;
    return { threads: this.config.threads ?? 0, provider: this.config.provider ?? 'cpu', ...(log ? { log } : {}) };
  }

  private async fp32Path(model: ModelName): Promise<string> {
    return this.paths[model] ?? (await prepareModels(this.config, [model]))[model].path;
  }

  private async load(model: ModelName): Promise<ModelSession> {
    return openSession(await this.fp32Path(model), this.sessionOptions());
  }

  /** The face step's dependencies; the detector and the fidelity network load on first use. */
  private faces(): Promise<FaceStageDeps> {
    this.detector ??= openFaceDetector();
    const fidelity = (): Promise<ModelSession> => {
      if (!this.fidelity) {
        this.fidelity = prepareFaceFidelityModel(this.config.dataDir).then((m) => openSession(m.path, this.sessionOptions()));
        this.fidelity.catch(() => (this.fidelity = undefined));
      }
      return this.fidelity;
    };
    return Promise.resolve({ detector: this.detector, fidelity, aligned: this.aligned, strength: this.config.face?.strength ?? DEFAULT_FACE_STRENGTH });
  }

  enhance(bytes: Uint8Array, options: EnhanceOptions = {}): Promise<EnhanceResult> {
    const tuning = this.config.tuning;
    return enhance(bytes, options, {
      session: (m) => this.session(m, options.precision),
      restorer: () => this.restorer(),
      faces: () => this.faces(),
      restore1x: this.config.restore1x ?? 'network',
      ...(tuning ? { tuning } : {}),
    });
  }

  async close(): Promise<void> {
    const all = [...this.sessions.values(), ...(this.restoreSession ? [this.restoreSession] : [])];
    this.restoreSession = undefined;
    this.sessions.clear();
    for (const s of all) await (await s.catch(() => undefined))?.release();
    const fidelity = this.fidelity;
    this.fidelity = undefined;
    await (await fidelity?.catch(() => undefined))?.release();
    await this.aligned?.release();
    this.aligned = undefined;
  }
}
