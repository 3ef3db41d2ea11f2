import type { ImageHeader } from '../engine/image/probe.js';
import type { Engine } from '../engine/local-engine.js';
import type { EnhanceResult } from '../engine/types.js';
import { CONTENT_TYPES } from '../engine/image/encode.js';
import { ClearShotError, toClearShotError } from '../errors/index.js';
import { fetchImage, type FetchLimits } from '../net/url-fetcher.js';
import type { BlobStore } from '../storage/blob-store.js';
import { creditCost } from '../tasks/credits.js';
import { ACTIVE_STATES, STATE, type Task } from '../tasks/task.js';
import type { TaskService } from '../tasks/task-service.js';
import type { TaskStore } from '../tasks/task-store.js';

/**
 * The job handler: one task from QUEUED to SUCCESS or a failure state.
 *
 * preparing (2): fetch the input (file or URL), read its header, settle the price;
 * processing (4): run the engine with a deadline, reporting progress per tile;
 * then keep the result and mark success with the debit in one transaction.
 * Bad input fails at once; transient failures (engine worker crash, storage) go back
 * to the queue until `maxAttempts`; a shutdown puts the task back untouched.
 */
export interface ProcessorConfig {
  readonly taskTimeoutMs: number;
  readonly resultTtlMs: number;
  readonly maxAttempts: number;
  readonly fetch: FetchLimits;
  /** Minimum interval between progress writes, ms. */
  readonly progressIntervalMs?: number;
  /** First delay between tries of storing a result, ms (doubles each time; default 500). */
  readonly storeRetryDelayMs?: number;
}

/** Storing the result failed on every try: the task fails (-2) without running again. */
class StoreFailed extends ClearShotError {
  constructor(cause: unknown) {
    super('STORAGE_FAILED', 'storing the result failed', { cause });
  }
}

export interface ProcessorDeps {
  readonly tasks: TaskStore;
  readonly blobs: BlobStore;
  readonly engine: Engine;
  readonly service: TaskService;
  readonly probe: (bytes: Uint8Array) => Promise<ImageHeader>;
  readonly config: ProcessorConfig;
  readonly log?: (obj: Record<string, unknown>, msg: string) => void;
  readonly now?: () => number;
  /** Outcome hook for metrics: final state and seconds spent processing. */
  readonly onSettled?: (task: Task, seconds: number) => void;
}

const EXTENSIONS: Readonly<Record<string, string>> = { 'image/jpeg': 'jpg', 'image/png': 'png', 'image/webp': 'webp', 'image/tiff': 'tif' };

export class TaskProcessor {
  private readonly now: () => number;

  constructor(private readonly deps: ProcessorDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Returns 'retry' when the task went back to the queue and should be run again later. */
  async handle(taskId: string, shutdown: AbortSignal): Promise<'done' | 'retry' | 'skipped'> {
    const { tasks } = this.deps;
    const started = this.now();
    const task = (await tasks.transition(taskId, STATE.PREPARING, { processedAt: started, progress: 0 })) ?? (await this.takeOver(taskId, started));
    if (!task) return 'skipped'; // gone or finished
    const deadline = AbortSignal.timeout(this.deps.config.taskTimeoutMs);
    const timeoutError = new ClearShotError('TIMEOUT', `processing took longer than ${this.deps.config.taskTimeoutMs / 1000} s`);
    const signal = AbortSignal.any([shutdown, deadline]);
    try {
      const done = await this.run(task, signal, () => (deadline.aborted ? timeoutError : undefined));
      this.deps.onSettled?.(done, (this.now() - started) / 1000);
      return 'done';
    } catch (err) {
      let error = toClearShotError(err);
      if (deadline.aborted && !shutdown.aborted) error = timeoutError;
      if (shutdown.aborted && !deadline.aborted) {
        // Stopping: leave the task for the next start (it is not charged and not failed).
        await tasks.transition(taskId, STATE.QUEUED, { progress: 0 });
        return 'retry';
      }
      if (error.retryable && !(err instanceof StoreFailed) && task.attempts + 1 < this.deps.config.maxAttempts) {
        this.deps.log?.({ taskId, code: error.code, attempt: task.attempts + 1 }, 'task failed, will retry');
        await tasks.transition(taskId, STATE.QUEUED, { progress: 0, countAttempt: true });
        return 'retry';
      }
      this.deps.log?.({ taskId, code: error.code, message: error.message }, 'task failed');
      const failed = await this.deps.service.fail(taskId, error);
      if (failed) this.deps.onSettled?.(failed, (this.now() - started) / 1000);
      return 'done';
    } finally {
      if (task.source.kind === 'file') {
        const after = await tasks.get(taskId);
        // The input is only needed until the task settles.
        if (after && (after.state === STATE.SUCCESS || after.state < 0)) await this.deps.blobs.delete(task.source.blob);
      }
    }
  }

  /**
   * The queue handed us a task still marked active: the queue's lock guarantees no live
   * worker holds it, so its previous worker died (scale-out: a killed worker's job is
   * given to another one). Start it again, counting the attempt.
   */
  private async takeOver(taskId: string, started: number): Promise<Task | undefined> {
    const { tasks } = this.deps;
    const current = await tasks.get(taskId);
    if (!current || !ACTIVE_STATES.includes(current.state)) return undefined;
    this.deps.log?.({ taskId, state: current.state, attempts: current.attempts }, 'taking over a task whose worker stopped');
    if (current.attempts + 1 >= this.deps.config.maxAttempts) {
      await this.deps.service.fail(taskId, new ClearShotError('INTERNAL', 'processing was interrupted too many times'));
      return undefined;
    }
    await tasks.transition(taskId, STATE.QUEUED, { progress: 0, countAttempt: true });
    return tasks.transition(taskId, STATE.PREPARING, { processedAt: started, progress: 0 });
  }

  private async run(task: Task, signal: AbortSignal, timedOut: () => ClearShotError | undefined): Promise<Task> {
    const { tasks, blobs, engine, config } = this.deps;
    const bytes = await this.input(task, signal);
    const header = await this.deps.probe(bytes);
    const price = creditCost(header.width, header.height);
    if (price > task.credits && !(await tasks.raiseHold(task.id, price))) {
      throw new ClearShotError('INSUFFICIENT_CREDITS', `not enough credits: an image with a ${Math.max(header.width, header.height)} px long edge costs ${price}`);
    }
    const processing = await tasks.transition(task.id, STATE.PROCESSING, { input: { width: header.width, height: header.height, format: header.format } });
    if (!processing) throw new ClearShotError('CANCELLED', 'the task was taken over or purged');

    let lastWrite = 0;
    const result = await engine.enhance(bytes, {
      kind: task.request.fixFaceOnly ? 'face' : task.request.type,
      scale: task.request.scale,
      model: task.request.model,
      format: task.request.format,
      keepGps: task.request.keepGps,
      strength: task.request.strength,
      faceStrength: task.request.faceStrength,
      fixFaceOnly: task.request.fixFaceOnly,
      precision: task.request.precision,
      signal: signal,
      onProgress: (p) => {
        const t = Date.now();
        if (t - lastWrite < (config.progressIntervalMs ?? 250)) return;
        lastWrite = t;
        void tasks.setProgress(task.id, p);
      },
    });
    const late = timedOut();
    if (late) throw late;

    const blob = `results/${task.id}.${EXTENSIONS[result.contentType] ?? 'bin'}`;
    await this.storeResult(task.id, blob, result.data, result.contentType, signal);
    const now = this.now();
    const done = await tasks.complete(
      task.id,
      { blob, contentType: CONTENT_TYPES[result.format], width: result.width, height: result.height, bytes: result.data.length, expiresAt: now + config.resultTtlMs },
      {
        completedAt: now,
        notes: result.notes,
        extra: { ...restorationView(result), ...(result.faces ? { faces: result.faces } : {}) },
        ...(result.faces ? { stateDetail: result.faces.detected === 0 ? 'Complete: no face found, enhanced as clean' : 'Complete' } : {}),
      },
    );
    if (!done) {
      await blobs.delete(blob);
      throw new ClearShotError('CANCELLED', 'the task was taken over or purged');
    }
    this.deps.service.events.settled(done);
    return done;
  }

  /**
   * Keeps the result, retrying the store itself (up to `maxAttempts` times, with
   * back-off) rather than the whole task: a retry of the task would run the inference
   * again. When every try failed the task fails with state -2.
   */
  private async storeResult(taskId: string, blob: string, data: Uint8Array, contentType: string, signal: AbortSignal): Promise<void> {
    const tries = Math.max(1, this.deps.config.maxAttempts);
    for (let i = 1; ; i++) {
      try {
        await this.deps.blobs.put(blob, data, contentType);
        return;
      } catch (err) {
        if (i >= tries || signal.aborted) throw new StoreFailed(err);
        this.deps.log?.({ taskId, attempt: i, err: (err as Error).message }, 'storing the result failed, will retry');
        await new Promise((resolve) => setTimeout(resolve, Math.min(5000, (this.deps.config.storeRetryDelayMs ?? 500) * 2 ** (i - 1))));
      }
    }
  }

  private async input(task: Task, signal: AbortSignal): Promise<Uint8Array> {
    if (task.source.kind === 'file') {
      const bytes = await this.deps.blobs.get(task.source.blob);
      if (!bytes) throw new ClearShotError('INTERNAL', 'the uploaded file is missing');
      return bytes;
    }
    const fetched = await fetchImage(task.source.url, this.deps.config.fetch, {}, signal);
    return fetched.bytes;
  }
}

/** The analysis and strength extension of task data (README, "Adaptive enhancement"), in the API's snake_case. */
export function restorationView(result: Pick<EnhanceResult, 'analysis' | 'restoration'>): Record<string, unknown> {
  const a = result.analysis;
  const r = result.restoration;
  return {
    analysis: {
      jpeg_quality: a.jpegQuality ?? null,
      jpeg_quality_source: a.jpegQualitySource ?? null,
      noise: a.noise,
      sharpness: a.sharpness,
      blocking: a.blocking,
      degradation: r.degradation,
    },
    strength: r.strength,
    strength_auto: r.auto,
  };
}
