import { availableParallelism } from 'node:os';
// Must stay ahead of onnxruntime-node: it turns ONNX Runtime's telemetry off.
import './ort-telemetry.js';
import * as ort from 'onnxruntime-node';
import { ClearShotError } from '../../errors/index.js';
import { ONNX_INPUT, ONNX_OUTPUT } from './ncnn-to-onnx.js';

/**
 * The one module that touches ONNX Runtime (docs/ARCHITECTURE.md, "Layering rules").
 *
 * NOTE: `InferenceSession.run` blocks its calling thread for the whole run (0 timer
 * ticks measured during a 690 ms run), so sessions are only ever created inside engine
 * worker threads, never on a server's event-loop thread.
 */
/** The ONNX Runtime version in use (the int8 check's cache key). */
export const ORT_VERSION: string = ort.env.versions.node ?? ort.env.versions.common;

export interface SessionOptions {
  /**
   * Intra-op threads for this session; 0 or unset = one per logical core. NOTE: not
   * ONNX Runtime's own default, which ran a single thread on our 2-vCPU VM (153 vs
   * 290 GFLOPS).
   */
  readonly threads?: number;
  /** Preferred execution provider, e.g. `cpu` or `cuda`; falls back to CPU. */
  readonly provider?: string;
  /** Called once with a line to log (provider fallback). */
  readonly log?: (line: string) => void;
  /**
   * Accept a model whose single input and output have other names than ours
   * (a user's own face-restoration model, issue 7). Default: require `input`/`output`.
   */
  readonly anyIoNames?: boolean;
}

export interface NetOutput {
  readonly data: Float32Array;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
}

export interface ModelSession {
  /** The execution provider actually in use. */
  readonly provider: string;
  /** Set on the int8 variant of a network (models/int8-selector.ts). */
  readonly precision?: 'int8';
  /** Runs one NCHW float32 image (batch 1) through the network. */
  run(input: Float32Array, channels: number, height: number, width: number): Promise<NetOutput>;
  release(): Promise<void>;
}

async function create(model: string | Uint8Array, provider: string, threads: number): Promise<ort.InferenceSession> {
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: provider === 'cpu' ? ['cpu'] : [provider, 'cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    enableCpuMemArena: true,
    enableMemPattern: true,
  };
  return typeof model === 'string' ? ort.InferenceSession.create(model, options) : ort.InferenceSession.create(model, options);
}

/** Opens a model from a file path or from serialized ONNX bytes. */
export async function openSession(model: string | Uint8Array, options: SessionOptions = {}): Promise<ModelSession> {
  const name = typeof model === 'string' ? model : 'in-memory model';
  const threads = options.threads || availableParallelism();
  let provider = (options.provider ?? 'cpu').toLowerCase();
  let session: ort.InferenceSession;
  try {
    session = await create(model, provider, threads);
  } catch (err) {
    if (provider === 'cpu') throw new ClearShotError('MODEL_FAILURE', `cannot load model ${name}`, { cause: err });
    options.log?.(`execution provider "${provider}" is unavailable (${(err as Error).message.split('\n')[0]}); falling back to cpu`);
    provider = 'cpu';
    session = await create(model, provider, threads).catch((e: unknown) => {
      throw new ClearShotError('MODEL_FAILURE', `cannot load model ${name}`, { cause: e });
    });
  }
  // Fail at boot, not at the first request: the graph must have our fixed I/O names.
  let inputName = ONNX_INPUT;
  let outputName = ONNX_OUTPUT;
  if (options.anyIoNames) {
    if (session.inputNames.length !== 1 || session.outputNames.length !== 1) {
      await session.release();
      throw new ClearShotError('MODEL_FAILURE', `model ${name} must have exactly one input and one output, found ${session.inputNames.length} and ${session.outputNames.length}`);
    }
    inputName = session.inputNames[0]!;
    outputName = session.outputNames[0]!;
  } else if (!session.inputNames.includes(ONNX_INPUT) || !session.outputNames.includes(ONNX_OUTPUT)) {
    await session.release();
    throw new ClearShotError('MODEL_FAILURE', `model ${name} must have input "${ONNX_INPUT}" and output "${ONNX_OUTPUT}"`);
  }

  return {
    provider,
    async run(input, channels, height, width) {
      const tensor = new ort.Tensor('float32', input, [1, channels, height, width]);
      let result: ort.InferenceSession.OnnxValueMapType;
      try {
        result = await session.run({ [inputName]: tensor });
      } catch (err) {
        throw new ClearShotError('MODEL_FAILURE', 'model inference failed', { cause: err });
      }
      const out = result[outputName] as ort.Tensor | undefined;
      if (!out || out.type !== 'float32' || out.dims.length !== 4) {
        throw new ClearShotError('MODEL_FAILURE', 'model returned an unexpected output');
      }
      const [, c, h, w] = out.dims as [number, number, number, number];
      return { data: out.data as Float32Array, channels: c, height: h, width: w };
    },
    release: () => session.release(),
  };
}

/** A session that returns every graph output by name (calibration of the int8 model). */
export interface ProbeSession {
  run(input: Float32Array, channels: number, height: number, width: number): Promise<Map<string, Float32Array>>;
  release(): Promise<void>;
}

export async function openProbeSession(model: Uint8Array, threads = 0): Promise<ProbeSession> {
  const session = await create(model, 'cpu', threads || availableParallelism()).catch((e: unknown) => {
    throw new ClearShotError('MODEL_FAILURE', 'cannot load calibration model', { cause: e });
  });
  return {
    async run(input, channels, height, width) {
      const result = await session.run({ [ONNX_INPUT]: new ort.Tensor('float32', input, [1, channels, height, width]) });
      const out = new Map<string, Float32Array>();
      for (const [name, value] of Object.entries(result)) out.set(name, (value as ort.Tensor).data as Float32Array);
      return out;
    },
    release: () => session.release(),
  };
}

/**
 * Opens a CPU session that writes an ONNX Runtime profile (a Chrome trace JSON) with
 * the given file prefix; `end()` returns the file's path. For benchmarks only.
 */
export async function openProfiledSession(model: Uint8Array, prefix: string, threads = 0): Promise<{ session: ModelSession; end: () => Promise<string> }> {
  const raw = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: threads || availableParallelism(),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    enableProfiling: true,
    profileFilePrefix: prefix,
  });
  const session: ModelSession = {
    provider: 'cpu',
    async run(input, channels, height, width) {
      const result = await raw.run({ [ONNX_INPUT]: new ort.Tensor('float32', input, [1, channels, height, width]) });
      const out = result[ONNX_OUTPUT] as ort.Tensor;
      const [, c, h, w] = out.dims as [number, number, number, number];
      return { data: out.data as Float32Array, channels: c, height: h, width: w };
    },
    release: () => raw.release(),
  };
  return {
    session,
    end: async () => {
      // ORT writes <prefix>_<date>.json in the working directory.
      raw.endProfiling();
      return prefix;
    },
  };
}
