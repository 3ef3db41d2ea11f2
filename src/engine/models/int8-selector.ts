import type { EngineConfig } from '../engine-config.js';
import type { ModelName } from '../types.js';
import { prepareInt8Model } from './int8-model.js';
import { MODELS } from './model-registry.js';
import { openSession, type ModelSession, type SessionOptions } from './onnx-session.js';
import { checkInt8, decidePrecision, type OutputComparison, type Precision, type PrecisionDecision, type PrecisionSetting } from './precision.js';

/**
 * What an engine pool decided once at start and hands to its worker threads, so that
 * each worker neither repeats the int8 check nor builds the int8 model again.
 */
export interface Int8Known {
  readonly decision: PrecisionDecision;
  /** The int8 model, when the decision built or needs it. */
  readonly path?: string | undefined;
}

/**
 * One engine's int8 state: the cached int8 model of `fast`, the start-time decision
 * for `auto` (made once, logged once) and the per-request override.
 */
export class Int8Selector {
  private decided: Promise<PrecisionDecision> | undefined;
  private model: Promise<string> | undefined;

  /**
   * `check`: compares the int8 model with FP32 for `auto` (the engine passes the final-output
   * check, int8-check.ts; default: the raw network outputs, checkInt8).
   */
  constructor(
    private readonly config: Pick<EngineConfig, 'dataDir' | 'modelSourceDir' | 'threads' | 'log' | 'precision'>,
    private readonly fp32Path: () => Promise<string>,
    known?: Int8Known,
    private readonly check: (fp32: string, int8: string, threads: number) => Promise<OutputComparison> = checkInt8,
  ) {
    if (known) this.decided = Promise.resolve(known.decision);
    if (known?.path) this.model = Promise.resolve(known.path);
  }

  /** The decision and, when the check built it or int8 runs, the int8 model's path: for an engine pool's workers. */
  async known(): Promise<Int8Known> {
    const decision = await this.decision();
    const path = decision.check !== undefined || decision.precision === 'int8' ? await this.int8Path() : undefined;
    return { decision, path };
  }

  /** Path of the int8 model, built (calibrated) on first use and cached on disk. */
  int8Path(): Promise<string> {
    if (!this.model) {
      this.model = prepareInt8Model(MODELS.fast, this.config.dataDir, this.config.modelSourceDir ?? undefined, { threads: this.config.threads ?? 0 }).then((m) => {
        if (m.converted) this.config.log?.(`built int8 model fast (${MODELS.fast.source}) at ${m.path}`);
        return m.path;
      });
      this.model.catch(() => (this.model = undefined));
    }
    return this.model;
  }

  decision(): Promise<PrecisionDecision> {
    if (!this.decided) {
      const p = this.config.precision ?? {};
      this.decided = decidePrecision({
        setting: p.setting ?? 'auto',
        ...(p.assumeNoVnni ? { assumeNoVnni: true } : {}),
        ...(p.minPsnr !== undefined ? { minPsnr: p.minPsnr } : {}),
        check: async () => this.check(await this.fp32Path(), await this.int8Path(), this.config.threads ?? 0),
      }).then((d) => {
        this.config.log?.(d.reason);
        return d;
      });
    }
    return this.decided;
  }

  /** int8 exists for `fast` only; a request's fp32/int8 wins over the engine's choice. */
  async precisionFor(model: ModelName, requested: 'auto' | Precision | undefined): Promise<Precision> {
    if (model !== 'fast') return 'fp32';
    if (requested === 'fp32' || requested === 'int8') return requested;
    return (await this.decision()).precision;
  }

  async open(options: SessionOptions): Promise<ModelSession> {
    const session = await openSession(await this.int8Path(), options);
    return { ...session, precision: 'int8', run: session.run.bind(session), release: session.release.bind(session) };
  }
}
