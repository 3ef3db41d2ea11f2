import type { EngineConfig } from '../engine-config.js';
import { cachedComparison } from './int8-check-cache.js';
import { openSession, type ModelSession, type SessionOptions } from './onnx-session.js';
import type { ScaleFactor } from '../types.js';
import { decidePrecision, type OutputComparison, type Precision, type PrecisionDecision, type PrecisionSetting } from './precision.js';

/**
 * What an engine pool decided once at start and hands to its worker threads, so that
 * each worker neither repeats the int8 check nor builds the int8 model again.
 */
export interface Int8Known {
  readonly decision: PrecisionDecision;
  /** The int8 model, when the decision built or needs it. */
  readonly path?: string | undefined;
}

/** A network with an int8 variant: where both models come from and how the check compares them. */
export interface Int8Network {
  /** How log lines name it: `fast network`, `restoration network`. */
  readonly label: string;
  fp32Path(): Promise<string>;
  /** Builds (calibrates and quantizes) the int8 variant once, cached on disk. */
  int8Model(): Promise<{ readonly path: string; readonly converted: boolean }>;
  /** Compares the int8 model with FP32 for `auto` (int8-check.ts: the final images). */
  check(fp32: string, int8: string, threads: number): Promise<OutputComparison>;
  /** Output scales at which `auto` may choose int8 (default: all); at the others `auto` means FP32. */
  readonly autoScales?: readonly ScaleFactor[];
}

/**
 * One network's int8 state in one engine: its cached int8 model, the start-time decision
 * for `auto` (made once, logged once) and the per-request override.
 */
export class Int8Selector {
  private decided: Promise<PrecisionDecision> | undefined;
  private model: Promise<string> | undefined;

  constructor(
    private readonly config: Pick<EngineConfig, 'threads' | 'log' | 'precision'> & { readonly dataDir?: string | undefined },
    private readonly network: Int8Network,
    known?: Int8Known,
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
      this.model = this.network.int8Model().then((m) => {
        if (m.converted) this.config.log?.(`built the int8 ${this.network.label} at ${m.path}`);
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
        setting: this.setting(),
        label: this.network.label,
        ...(p.assumeNoVnni ? { assumeNoVnni: true } : {}),
        ...(p.minPsnr !== undefined ? { minPsnr: p.minPsnr } : {}),
        check: async () => {
          const fp32 = await this.network.fp32Path();
          const int8 = await this.int8Path();
          const threads = this.config.threads ?? 0;
          // Measured once per models, engine code, ONNX Runtime, CPU and thread count (int8-check-cache.ts).
          return cachedComparison(this.config.dataDir, { label: this.network.label, fp32, int8, threads }, () => this.network.check(fp32, int8, threads));
        },
      }).then((d) => {
        this.config.log?.(d.reason);
        return d;
      });
    }
    return this.decided;
  }

  private setting(): PrecisionSetting {
    return this.config.precision?.setting ?? 'auto';
  }

  /**
   * A request's fp32/int8 wins over the engine's choice; under `auto` (request and
   * setting), a scale the network does not allow int8 at gets FP32.
   */
  async precisionFor(requested: PrecisionSetting | undefined, scale?: ScaleFactor): Promise<Precision> {
    if (requested === 'fp32' || requested === 'int8') return requested;
    const allowed = this.network.autoScales;
    if (scale !== undefined && allowed && !allowed.includes(scale) && this.setting() === 'auto') return 'fp32';
    return (await this.decision()).precision;
  }

  async open(options: SessionOptions): Promise<ModelSession> {
    const session = await openSession(await this.int8Path(), options);
    return { ...session, precision: 'int8', run: session.run.bind(session), release: session.release.bind(session) };
  }
}
