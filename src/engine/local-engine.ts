import { availableParallelism } from 'node:os';
import { setFusionThreads } from './adapt/fusion-crew.js';
import { setImageThreads } from './image/raster.js';
import { MODELS } from './models/model-registry.js';
import { prepareFaceFidelityModel, prepareModel, type PreparedModel } from './models/model-store.js';
import { openSession, type ModelSession, type SessionOptions } from './models/onnx-session.js';
import { Int8Selector, type Int8Known } from './models/int8-selector.js';
import { fastInt8, restoreInt8 } from './int8-networks.js';
import type { EngineConfig } from './engine-config.js';
import { openFaceDetector, type FaceDetector } from './face/face-detector.js';
import { openAlignedFaceModel, type AlignedFaceModel } from './face/face-restore.js';
import type { FaceStageDeps } from './face/face-stage.js';
import { restoreModelPath } from './models/restore-model.js';
import { enhance } from './pipeline.js';
import { DEFAULT_FACE_STRENGTH, DEFAULT_RESTORE_1X, MODEL_NAMES, usesRestoreNetwork, type EnhanceOptions, type EnhanceResult, type ModelName, type ScaleFactor } from './types.js';

/** int8 decisions made elsewhere (an engine pool's, once for all its workers), per network. */
export interface EngineInt8Known {
  readonly fast?: Int8Known | undefined;
  readonly restore?: Int8Known | undefined;
}

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
  /** int8 state of the fast network and of the 1x restoration network. */
  private readonly int8: Int8Selector;
  private readonly restoreInt8: Int8Selector;
  private fidelity: Promise<ModelSession> | undefined;
  private aligned: AlignedFaceModel | undefined;
  private detector: FaceDetector | undefined;

  private constructor(
    private readonly config: EngineConfig,
    private readonly paths: Partial<Record<ModelName, string>>,
    int8: EngineInt8Known = {},
  ) {
    this.int8 = new Int8Selector(config, fastInt8(config, () => this.fp32Path('fast')), int8.fast);
    this.restoreInt8 = new Int8Selector(config, restoreInt8(config), int8.restore);
  }

  /** `int8`: decisions already made (an engine pool's, once for all its workers). */
  static async open(config: EngineConfig, paths: Partial<Record<ModelName, string>> = {}, int8: EngineInt8Known = {}): Promise<LocalEngine> {
    setImageThreads(config.threads || availableParallelism());
    // The fusion's helper threads start while the models load (adapt/fusion-crew.ts).
    const crew = setFusionThreads(config.threads || availableParallelism());
    const engine = new LocalEngine(config, paths, int8);
    for (const name of config.preload ?? MODEL_NAMES) await engine.session(name);
    // The 1x restoration network is small (0.5 MB): always loaded at start, so a broken
    // file fails the boot.
    // The int8 decisions (and their checks) are made at start, where they are logged once.
    if (usesRestoreNetwork(config.restore1x)) await engine.restorer();
    if ((config.preload ?? MODEL_NAMES).includes('fast')) await engine.int8.decision();
    // A user's face model is checked at start: a wrong one must fail the boot, not a request.
    if (config.face?.model) engine.aligned = await openAlignedFaceModel(config.face.model, engine.sessionOptions());
    await crew;
    return engine;
  }

  /**
   * The session for a model at the requested precision (undefined/auto: the engine's
   * choice, which for `fast` depends on the output scale: int8-networks.ts).
   */
  async session(model: ModelName, requested?: EnhanceOptions['precision'], scale?: ScaleFactor): Promise<ModelSession> {
    // int8 exists for `fast` only among the Real-ESRGAN models.
    const precision = model === 'fast' ? await this.int8.precisionFor(requested, scale) : 'fp32';
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

  /** The 1x restoration network's session (models/restore-model.ts) at the requested precision, opened once each. */
  async restorer(requested?: EnhanceOptions['precision']): Promise<ModelSession> {
    const precision = await this.restoreInt8.precisionFor(requested);
    const key = `restore-1x/${precision}`;
    let s = this.sessions.get(key);
    if (!s) {
      s = precision === 'int8' ? this.restoreInt8.open(this.sessionOptions()) : Promise.resolve().then(() => openSession(restoreModelPath(), this.sessionOptions()));
      s.catch(() => this.sessions.delete(key));
      this.sessions.set(key, s);
    }
    return s;
  }

  /** The int8 decisions and models, for an engine pool to hand to its workers. */
  async int8Known(): Promise<EngineInt8Known> {
    return { fast: await this.int8.known(), restore: await this.restoreInt8.known() };
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
      session: (m, scale) => this.session(m, options.precision, scale),
      restorer: () => this.restorer(options.precision),
      faces: () => this.faces(),
      restore1x: this.config.restore1x ?? DEFAULT_RESTORE_1X,
      ...(tuning ? { tuning } : {}),
    });
  }

  async close(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of all) await (await s.catch(() => undefined))?.release();
    const fidelity = this.fidelity;
    this.fidelity = undefined;
    await (await fidelity?.catch(() => undefined))?.release();
    await this.aligned?.release();
    this.aligned = undefined;
  }
}
