import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import type { Raster } from '../types.js';
import { runKernel, type KernelCall } from './fusion-kernels.js';

/**
 * The fusion on every core. The fusion runs after the network, when ONNX Runtime's
 * threads are idle, and was one thread's scalar loops: at 4x (4 MP out of a 512 px photo)
 * ~330 ms warm and ~700 ms in a fresh CLI process on the 2-core VM, while the other core
 * waited. A crew is the calling thread plus `size - 1` helper threads that each run a band
 * of every kernel (adapt/fusion-kernels.ts) and wait, blocked, until the caller has its
 * own band done too: the fusion stays one synchronous function.
 *
 * What a helper reads and writes must be shared memory (SharedArrayBuffer): a view of an
 * ordinary buffer would be copied into the message, and what the helper wrote lost. So a
 * crew call checks that every array it sends is shared, and runs the whole call on the
 * caller when one is not (same result, one thread). The fusion makes its working memory
 * shared (helpers below); the tile runner writes the network's output into shared memory.
 *
 * The split does not change the result: each kernel writes only its own rows, columns or
 * 4-row blocks and gives the same values in any split (tested against one thread).
 *
 * The input analysis's sweeps (adapt/analysis-kernels.ts) run on the same crew, before the
 * network, when the cores are idle as well.
 */
export interface Crew {
  /** Threads that run a call (1 = the caller alone). */
  readonly size: number;
  /** Runs `call` over [0, length) in `size` bands whose bounds are multiples of `align`; returns when all are done. */
  run(call: KernelCall, length: number, align?: number): void;
}

/** Below this many output pixels a fusion runs on the caller alone: handing work over costs more than it saves. */
export const CREW_MIN_PIXELS = 1 << 18;

/**
 * Above this many (16.8 MP: a 4096 x 4096 photo at 1x, the largest the contract takes)
 * too. Shared buffers cost memory for longer (V8 collects them late, and the crew keeps
 * a shared copy of the photo between calls): a 4096 px 1x run of the restoration network
 * peaked 698 -> 831 MB over 8 jobs in one engine (RSS between jobs ~500 -> ~600 MB), and
 * saved 0.25-0.35 s of its 6 s (docs/BENCHMARKS.md, "The fusion on every core"). Larger
 * outputs (4x of photos over 1024 px, up to 64 MP) stay on one thread: their shared copies
 * would hold hundreds of MB.
 */
export const CREW_MAX_PIXELS = 1 << 24;

/** A helper that has not finished its band after this long is given up (the call throws). */
const BAND_TIMEOUT_MS = 120_000;

const IDLE = 0;
const BUSY = 1;
const FAILED = 2;

const SOLO: Crew = {
  size: 1,
  run(call, length) {
    runKernel(call, 0, length);
  },
};

interface Helper {
  readonly worker: Worker;
  /** Where a helper's error arrives (read synchronously: the caller is blocked meanwhile). */
  readonly errors: MessagePort;
  ready: boolean;
  gone: boolean;
}

/** Splits [0, length) into `parts` bands with inner bounds on multiples of `align`. */
export function bands(length: number, parts: number, align = 1): Array<[number, number]> {
  const units = Math.ceil(length / align);
  const out: Array<[number, number]> = [];
  let start = 0;
  for (let i = 0; i < parts; i++) {
    const end = i === parts - 1 ? length : Math.min(length, Math.round((units * (i + 1)) / parts) * align);
    if (end > start) out.push([start, end]);
    start = Math.max(start, end);
  }
  return out;
}

/** Every typed array a call carries (nested one level: gate, tone). */
function arraysOf(call: KernelCall): ArrayBufferView[] {
  const out: ArrayBufferView[] = [];
  const visit = (v: unknown, depth: number) => {
    if (ArrayBuffer.isView(v)) out.push(v);
    else if (Array.isArray(v)) for (const x of v) visit(x, depth);
    else if (v && typeof v === 'object' && depth < 2) for (const x of Object.values(v)) visit(x, depth + 1);
  };
  visit(call, 0);
  return out;
}

export const isShared = (a: ArrayBufferView): boolean => a.buffer instanceof SharedArrayBuffer;

class Team implements Crew {
  private readonly helpers: Helper[] = [];
  /** One state word per helper: IDLE, BUSY (band handed over), FAILED. */
  private readonly state: Int32Array;
  /** Calls that went to the helpers, and that ran on the caller alone because an array was not shared (tests read both). */
  readonly stats = { shared: 0, solo: 0 };

  constructor(helperCount: number) {
    this.state = new Int32Array(new SharedArrayBuffer(4 * helperCount));
    for (let i = 0; i < helperCount; i++) {
      const { port1, port2 } = new MessageChannel();
      const worker = new Worker(new URL('./fusion-helper.js', import.meta.url), {
        workerData: { state: this.state, index: i, errors: port2 },
        transferList: [port2],
      });
      const helper: Helper = { worker, errors: port1, ready: false, gone: false };
      // Referenced until it is ready (a start awaited by nobody else would not finish), then
      // unreferenced: a helper never keeps a process alive.
      worker.on('message', (m: unknown) => {
        if (m !== 'ready') return;
        helper.ready = true;
        worker.unref();
      });
      // A helper that failed to start or died is left out from then on (the fusion runs on fewer threads).
      worker.on('error', () => undefined);
      worker.on('exit', () => {
        helper.gone = true;
      });
      this.helpers.push(helper);
    }
  }

  get helperCount(): number {
    return this.helpers.length;
  }

  get size(): number {
    return 1 + this.live().length;
  }

  private live(): Helper[] {
    return this.helpers.filter((h) => h.ready && !h.gone);
  }

  /** Resolves when every helper has started (or failed to). */
  async started(): Promise<void> {
    await Promise.all(
      this.helpers.map((h) =>
        h.ready || h.gone
          ? undefined
          : new Promise<void>((resolve) => {
              h.worker.once('message', () => resolve());
              h.worker.once('exit', () => resolve());
            }),
      ),
    );
  }

  run(call: KernelCall, length: number, align = 1): void {
    const live = this.live();
    if (live.length === 0 || !arraysOf(call).every(isShared)) {
      if (live.length > 0) this.stats.solo++;
      runKernel(call, 0, length);
      return;
    }
    this.stats.shared++;
    const parts = bands(length, live.length + 1, align);
    const handed: Helper[] = [];
    for (let b = 1; b < parts.length; b++) {
      const helper = live[b - 1]!;
      const index = this.helpers.indexOf(helper);
      Atomics.store(this.state, index, BUSY);
      helper.worker.postMessage({ call, lo: parts[b]![0], hi: parts[b]![1] });
      handed.push(helper);
    }
    let failure: unknown;
    try {
      if (parts.length > 0) runKernel(call, parts[0]![0], parts[0]![1]);
    } catch (err) {
      failure = err;
    }
    // Every band handed over is waited for, even after a failure here: none may still
    // write into memory the caller is about to reuse.
    for (const helper of handed) {
      const index = this.helpers.indexOf(helper);
      if (Atomics.wait(this.state, index, BUSY, BAND_TIMEOUT_MS) === 'timed-out') {
        helper.gone = true;
        void helper.worker.terminate();
        failure ??= new Error(`a fusion helper thread did not finish its band in ${BAND_TIMEOUT_MS / 1000} s`);
        continue;
      }
      if (Atomics.load(this.state, index) === FAILED) {
        const msg = receiveMessageOnPort(helper.errors)?.message as { message?: string } | undefined;
        Atomics.store(this.state, index, IDLE);
        failure ??= new Error(`fusion helper thread: ${msg?.message ?? 'failed'}`);
      }
    }
    if (failure !== undefined) throw failure;
  }

  close(): Promise<unknown> {
    return Promise.all(this.helpers.map((h) => h.worker.terminate()));
  }
}

let team: Team | undefined;

/**
 * Sets how many threads a fusion may use (the engine's CLEARSHOT_THREADS, resolved):
 * starts `threads - 1` helper threads (unref'd: they never keep a process alive), or stops
 * them. Returns when they have started.
 */
export async function setFusionThreads(threads: number): Promise<void> {
  const helpers = Math.max(0, Math.floor(threads) - 1);
  if ((team?.helperCount ?? 0) === helpers) return team?.started();
  const old = team;
  team = helpers > 0 ? new Team(helpers) : undefined;
  await old?.close();
  await team?.started();
}

/** The crew for a fusion of `pixels` output pixels (one thread outside [CREW_MIN_PIXELS, CREW_MAX_PIXELS]). */
export function crewFor(pixels: number): Crew {
  return team && pixels >= CREW_MIN_PIXELS && pixels <= CREW_MAX_PIXELS && team.size > 1 ? team : SOLO;
}

/** Calls handed to helpers and calls kept on the caller for want of shared memory (tests). */
export function crewStats(): { shared: number; solo: number } {
  return { ...(team?.stats ?? { shared: 0, solo: 0 }) };
}

/* Shared working memory. */

function sharedArray<T extends Uint8Array | Uint16Array | Float32Array | Float64Array>(ctor: { new (b: SharedArrayBuffer, o: number, n: number): T; BYTES_PER_ELEMENT: number }, n: number): T {
  return new ctor(new SharedArrayBuffer(Math.max(1, n) * ctor.BYTES_PER_ELEMENT), 0, n);
}

export const sharedFloat32 = (n: number): Float32Array => sharedArray(Float32Array, n);
export const sharedFloat64 = (n: number): Float64Array => sharedArray(Float64Array, n);

const kept = new Map<string, Float32Array | Float64Array>();

/**
 * Working memory of `n` elements for a call on `crew`: on one thread a fresh ordinary
 * array (zeroed); for a crew, shared memory kept between calls, one grow-only buffer per
 * `slot` (contents left from its last use). Shared buffers made per call are collected
 * late by V8: the 4096 px 1x run peaked 90 MB higher with its small arrays as fresh
 * SharedArrayBuffers (1210-1220 vs 1122 MB). Only for memory used within one synchronous
 * call: the next call with the same slot reuses it.
 */
function keptArray<T extends Float32Array | Float64Array>(ctor: { new (n: number): T; BYTES_PER_ELEMENT: number }, shared: (n: number) => T, crew: Crew, n: number, slot: string): T {
  if (crew.size === 1) return new ctor(n);
  let a = kept.get(slot) as T | undefined;
  if (!a || a.length < n) {
    a = shared(n);
    kept.set(slot, a);
  }
  return a.subarray(0, n) as T;
}

export const crewFloat32 = (crew: Crew, n: number, slot: string): Float32Array => keptArray(Float32Array, sharedFloat32, crew, n, slot);
export const crewFloat64 = (crew: Crew, n: number, slot: string): Float64Array => keptArray(Float64Array, sharedFloat64, crew, n, slot);

/** A zeroed raster in shared memory. */
export function allocSharedRaster(width: number, height: number, channels: Raster['channels'], depth: Raster['depth']): Raster {
  const n = width * height * channels;
  return { width, height, channels, depth, data: depth === 16 ? sharedArray(Uint16Array, n) : sharedArray(Uint8Array, n) };
}

/** A copy of `r` in fresh shared memory (`r` itself when it is shared already). */
export function sharedCopy(r: Raster): Raster {
  if (isShared(r.data)) return r;
  const out = allocSharedRaster(r.width, r.height, r.channels, r.depth);
  out.data.set(r.data);
  return out;
}
