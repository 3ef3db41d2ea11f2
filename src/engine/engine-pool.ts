import { Worker } from 'node:worker_threads';
import { ClearShotError } from '../errors/index.js';
import type { EngineConfig } from './engine-config.js';
import type { Engine } from './local-engine.js';
import { prepareModels } from './local-engine.js';
import { fastInt8, restoreInt8 } from './int8-networks.js';
import { Int8Selector } from './models/int8-selector.js';
import { MODEL_NAMES, usesRestoreNetwork, type EnhanceOptions, type EnhanceResult, type ModelName } from './types.js';
import type { FromWorker, ToWorker, WorkerInit } from './worker-protocol.js';

/**
 * A pool of engine worker threads. Inference blocks the thread it runs on, so a
 * server keeps it here, off its event loop. Each worker loads every model once at
 * start (so a broken model fails at boot) and runs one job at a time; jobs wait in
 * FIFO order for a free worker.
 *
 * Cancellation: an aborted job that has not started is dropped; a running one is told
 * to stop between tiles, and if it has not stopped after `killAfterMs` its job ends
 * (cancelled) and its worker is replaced, so a stuck job can never hold a slot for ever.
 * The old worker is not terminated there and then: a worker terminated in the middle of
 * an inference aborts the whole process (ONNX Runtime's completion lands in a torn-down
 * thread: "terminate called after throwing an instance of 'Napi::Error'"; one tile of the
 * quality model takes longer than the 15 s on a 2-core AVX2 VM, so the soak's `timeout`
 * jobs brought both worker processes down). It is set aside and ended once it reports
 * its job over, when no native work of its own is left; its replacement starts then (or
 * after ABANDONED_GRACE_MS, if its native call does not return).
 */
export interface PoolConfig extends EngineConfig {
  /** Jobs run at once (one worker thread each). */
  readonly concurrency: number;
  /** Grace period for a cancelled job before its worker is terminated (default 15 s). */
  readonly killAfterMs?: number;
}

interface Job {
  readonly id: number;
  readonly bytes: Uint8Array;
  readonly options: EnhanceOptions;
  resolve(result: EnhanceResult): void;
  reject(err: ClearShotError): void;
  slot?: Slot;
  onAbort?: () => void;
}

interface Slot {
  worker: Worker;
  job?: Job | undefined;
  /** Set aside after a cancel it did not honour in time: ended when it reports this job over. */
  abandonedJob?: number | undefined;
  /** A set-aside worker's replacement: started when it ends, or after ABANDONED_GRACE_MS. */
  replaceTimer?: NodeJS.Timeout | undefined;
  replaced?: boolean;
  killTimer?: NodeJS.Timeout | undefined;
  /** Called when the running job ends (close() waits for it). */
  idle?: (() => void) | undefined;
}

const WORKER_URL = new URL('./engine-worker.js', import.meta.url);

/**
 * How long a set-aside worker's inference is waited for: its replacement starts when it
 * ends (not at once: both would hold the models, the quality one ~1 GB, and share the
 * cores), or after this long; close() terminates it after this long.
 */
const ABANDONED_GRACE_MS = 60_000;

export class EnginePool implements Engine {
  private readonly slots: Slot[] = [];
  /** Workers set aside (see above), until they have ended. */
  private readonly abandoned = new Set<Slot>();
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closed = false;
  private init!: WorkerInit;

  private constructor(private readonly config: PoolConfig) {}

  static async start(config: PoolConfig): Promise<EnginePool> {
    // Load the native modules on the main thread first: a worker that exits must
    // never be the one to unload them (sharp's documented worker-thread caveat).
    await import('sharp');
    await import('./models/onnx-session.js'); // telemetry off (ort-telemetry.ts), then onnxruntime-node
    const pool = new EnginePool(config);
    // The models the workers load at start (all unless `preload` names some: the CLI's
    // one); a worker prepares any other on first use (reading and hashing the 67 MB
    // `quality` source cost every CLI run ~0.15 s).
    const names = config.preload ?? MODEL_NAMES;
    const prepared = await prepareModels(config, names);
    const paths: Partial<Record<ModelName, string>> = Object.fromEntries(names.map((m) => [m, prepared[m].path]));
    // Everything but what cannot cross a thread (the log callback) or is the pool's own.
    const { log: _log, concurrency: _concurrency, killAfterMs: _killAfterMs, ...engine } = config;
    // The int8 decisions (their checks, and the int8 models' first builds) once, here, not
    // in every worker: each start saved ~0.2 s, and a first start with several workers no
    // longer builds an int8 model several times at once.
    const fast = names.includes('fast') ? await new Int8Selector(config, fastInt8(config, () => Promise.resolve(paths.fast!))).known() : undefined;
    const restore = usesRestoreNetwork(config.restore1x) ? await new Int8Selector(config, restoreInt8(config)).known() : undefined;
    pool.init = { engine, paths, int8: { fast, restore } };
    try {
      await Promise.all(Array.from({ length: Math.max(1, config.concurrency) }, () => pool.spawn()));
    } catch (err) {
      await pool.close();
      throw err;
    }
    return pool;
  }

  /** Jobs waiting for a worker. */
  get queued(): number {
    return this.queue.length;
  }

  /** Jobs running now. */
  get running(): number {
    return this.slots.filter((s) => s.job).length;
  }

  enhance(bytes: Uint8Array, options: EnhanceOptions = {}): Promise<EnhanceResult> {
    if (this.closed) return Promise.reject(new ClearShotError('UNAVAILABLE', 'the engine is shutting down'));
    return new Promise<EnhanceResult>((resolve, reject) => {
      const job: Job = { id: this.nextId++, bytes, options, resolve, reject };
      const signal = options.signal;
      if (signal) {
        if (signal.aborted) return reject(abortReason(signal));
        job.onAbort = () => this.cancel(job, abortReason(signal));
        signal.addEventListener('abort', job.onAbort, { once: true });
      }
      this.queue.push(job);
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const shuttingDown = () => new ClearShotError('UNAVAILABLE', 'the engine is shutting down');
    for (const job of this.queue.splice(0)) this.settle(job, shuttingDown());
    const slots = this.slots.splice(0);
    // A worker terminated in the middle of an inference can abort the whole process
    // (ONNX Runtime's completion lands in a torn-down thread: "terminate called after
    // throwing an instance of 'Napi::Error'"), so running jobs are told to stop between
    // tiles and waited for, up to the kill timeout, before their workers go.
    const running = slots.filter((slot) => slot.job);
    await Promise.all(
      running.map(
        (slot) =>
          new Promise<void>((resolve) => {
            slot.idle = resolve;
            setTimeout(resolve, this.config.killAfterMs ?? 15_000).unref();
            const msg: ToWorker = { type: 'cancel', id: slot.job!.id, reason: shuttingDown().toJSON() };
            slot.worker.postMessage(msg);
          }),
      ),
    );
    for (const slot of slots) if (slot.job) this.settle(slot.job, shuttingDown());
    await Promise.all(slots.map((s) => this.retire(s)));
    // Set-aside workers end when their inference does (not terminated mid-run, as above);
    // one whose native call has not returned in a minute is terminated all the same.
    await Promise.all(
      [...this.abandoned].map(
        (s) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => void this.retire(s).then(() => this.forget(s)), ABANDONED_GRACE_MS);
            timer.unref();
            s.idle = () => {
              clearTimeout(timer);
              resolve();
            };
          }),
      ),
    );
  }

  private spawn(): Promise<Slot> {
    return new Promise((resolve, reject) => {
      const worker = new Worker(WORKER_URL, { workerData: this.init });
      const slot: Slot = { worker };
      let ready = false;
      worker.on('message', (msg: FromWorker) => {
        if (msg.type === 'ready') {
          ready = true;
          this.slots.push(slot);
          resolve(slot);
          this.dispatch();
        } else if (msg.type === 'init-failed') {
          reject(ClearShotError.fromJSON(msg.error));
          void worker.terminate();
        } else {
          this.onMessage(slot, msg);
        }
      });
      worker.on('error', (err) => {
        if (!ready) reject(new ClearShotError('MODEL_FAILURE', 'engine worker failed to start', { cause: err }));
      });
      worker.on('exit', (code) => {
        if (!ready) {
          reject(new ClearShotError('MODEL_FAILURE', `engine worker exited during start (code ${code})`));
          return;
        }
        this.onExit(slot, code);
      });
    });
  }

  private onMessage(slot: Slot, msg: FromWorker): void {
    if (msg.type === 'log') {
      this.config.log?.(msg.line);
      return;
    }
    if (slot.abandonedJob !== undefined) {
      // Its job is over: nothing of it runs in native code any more.
      if ((msg.type === 'done' || msg.type === 'failed') && msg.id === slot.abandonedJob) void this.retire(slot).then(() => this.forget(slot));
      return;
    }
    const job = slot.job;
    if (!job || !('id' in msg) || msg.id !== job.id) return;
    if (msg.type === 'progress') job.options.onProgress?.(msg.percent);
    else if (msg.type === 'done') this.finish(slot, job, msg.result);
    else if (msg.type === 'failed') this.finish(slot, job, ClearShotError.fromJSON(msg.error));
  }

  private onExit(slot: Slot, code: number): void {
    if (this.abandoned.has(slot)) {
      this.forget(slot); // it died: its replacement starts now
      return;
    }
    const index = this.slots.indexOf(slot);
    if (index >= 0) this.slots.splice(index, 1);
    clearTimeout(slot.killTimer);
    const job = slot.job;
    slot.job = undefined;
    if (job) {
      // A job whose worker we killed after a cancel keeps the cancel reason.
      this.settle(job, job.options.signal?.aborted ? abortReason(job.options.signal) : new ClearShotError('MODEL_FAILURE', `engine worker stopped unexpectedly (exit code ${code})`));
    }
    if (!this.closed) {
      this.spawn().catch((err: unknown) => this.config.log?.(`engine worker could not be restarted: ${(err as Error).message}`));
    }
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (slot.job) continue;
      const job = this.queue.shift();
      if (!job) return;
      slot.job = job;
      job.slot = slot;
      const { signal: _signal, onProgress: _onProgress, ...enhanceJob } = job.options;
      const msg: ToWorker = { type: 'job', id: job.id, bytes: job.bytes, job: enhanceJob };
      slot.worker.postMessage(msg);
    }
  }

  private cancel(job: Job, reason: ClearShotError): void {
    const queued = this.queue.indexOf(job);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      this.settle(job, reason);
      return;
    }
    const slot = job.slot;
    if (!slot || slot.job !== job) return;
    const msg: ToWorker = { type: 'cancel', id: job.id, reason: reason.toJSON() };
    slot.worker.postMessage(msg);
    slot.killTimer = setTimeout(() => this.abandon(slot, job, reason), this.config.killAfterMs ?? 15_000);
    slot.killTimer.unref();
  }

  /** A cancelled job that did not stop in time: it ends now, its worker is set aside, then replaced. */
  private abandon(slot: Slot, job: Job, reason: ClearShotError): void {
    if (slot.job !== job) return;
    slot.job = undefined;
    slot.killTimer = undefined;
    slot.abandonedJob = job.id;
    const index = this.slots.indexOf(slot);
    if (index >= 0) this.slots.splice(index, 1);
    this.abandoned.add(slot);
    this.settle(job, reason);
    this.config.log?.(`engine worker set aside: a cancelled job did not stop within ${(this.config.killAfterMs ?? 15_000) / 1000} s; it ends, and is replaced, when its inference does (at most ${ABANDONED_GRACE_MS / 1000} s)`);
    slot.replaceTimer = setTimeout(() => this.replace(slot), ABANDONED_GRACE_MS);
    slot.replaceTimer.unref();
  }

  private replace(slot: Slot): void {
    clearTimeout(slot.replaceTimer);
    if (slot.replaced) return;
    slot.replaced = true;
    if (!this.closed) {
      this.spawn().catch((err: unknown) => this.config.log?.(`engine worker could not be restarted: ${(err as Error).message}`));
    }
  }

  private forget(slot: Slot): void {
    this.abandoned.delete(slot);
    this.replace(slot);
    slot.idle?.();
  }

  private finish(slot: Slot, job: Job, outcome: EnhanceResult | ClearShotError): void {
    clearTimeout(slot.killTimer);
    slot.killTimer = undefined;
    slot.job = undefined;
    if (outcome instanceof ClearShotError) this.settle(job, outcome);
    else this.settle(job, undefined, outcome);
    slot.idle?.();
    this.dispatch();
  }

  private settle(job: Job, error?: ClearShotError, result?: EnhanceResult): void {
    if (job.onAbort) job.options.signal?.removeEventListener('abort', job.onAbort);
    if (error) job.reject(error);
    else job.resolve(result!);
  }

  private async retire(slot: Slot): Promise<void> {
    clearTimeout(slot.killTimer);
    slot.worker.removeAllListeners('exit');
    await slot.worker.terminate();
  }
}

function abortReason(signal: AbortSignal): ClearShotError {
  const reason: unknown = signal.reason;
  return reason instanceof ClearShotError ? reason : new ClearShotError('CANCELLED');
}
