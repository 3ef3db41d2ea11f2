import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import type { ImageHeader } from '../engine/image/probe.js';
import { ClearShotError, toClearShotError } from '../errors/index.js';
import type { ApiKey } from '../keys/key-store.js';
import type { JobQueue } from '../queue/job-queue.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { UrlSigner } from '../storage/signed-url.js';
import { checkCallbackUrl, type CallbackGuard } from '../webhooks/callback-url.js';
import { inputKey, resultFileName } from './blob-keys.js';
import { creditCost } from './credits.js';
import { OPEN_STATES, STATE, STATE_DETAIL, isTerminal, type Task, type TaskRequest, type TaskState } from './task.js';
import { waitForEvent } from '../util/wait.js';
import type { TaskStore } from './task-store.js';

/**
 * The only thing routes call. Creating a task checks the image header against the
 * limits, keeps the input, records the task (state 0) with its credits held, and
 * enqueues it (job id = task id). Reading one applies key ownership. A sweeper
 * expires results and purges old tasks.
 */
export interface TaskServiceConfig {
  /** How long a result URL works, ms (contract: 1 hour). */
  readonly resultTtlMs: number;
  /** How long a finished task stays queryable, ms (default 1 hour). */
  readonly retentionMs: number;
}

export interface TaskServiceDeps {
  readonly tasks: TaskStore;
  readonly blobs: BlobStore;
  readonly queue: JobQueue;
  readonly signer: UrlSigner;
  /** Reads an image header (format, size) and applies the input limits. */
  readonly probe: (bytes: Uint8Array) => Promise<ImageHeader>;
  readonly config: TaskServiceConfig;
  /** Injectable clock (tests of expiry and purge). */
  readonly now?: () => number;
  readonly events?: TaskEvents;
  /** The address policy for callback_url (the same as image_url's); default: public addresses only. */
  readonly callbackGuard?: CallbackGuard;
  /** Warnings (a task recorded while its queue was unreachable). */
  readonly log?: ((obj: Record<string, unknown>, msg: string) => void) | undefined;
}

export interface SubmitOptions {
  /** sync=1: how long to wait for the task to settle before answering with it as it is. */
  readonly syncTimeoutMs: number;
  /** Aborted when the client goes away (a sync wait ends early). */
  readonly signal?: AbortSignal | undefined;
  /** Called once the task is recorded (logs, metrics), before any wait. */
  readonly onCreated?: (task: Task) => void;
}

/** Local notifications: a task settled (success or failure) in this process. */
export class TaskEvents extends EventEmitter {
  settled(task: Task): void {
    this.emit(`settled:${task.id}`, task);
    this.emit('settled', task);
  }
}

export type CreateSource = { readonly kind: 'file'; readonly bytes: Uint8Array } | { readonly kind: 'url'; readonly url: string };

/** The `data` object of a task response (the contract's fields) plus documented extensions (README). */
export interface TaskView {
  task_id: string;
  created_at: number;
  processed_at?: number;
  completed_at?: number;
  progress: number;
  state: number;
  state_detail: string;
  return_type: number;
  image?: string;
  // Extensions (README, "API extensions").
  image_width?: number;
  image_height?: number;
  input_width?: number;
  input_height?: number;
  credits?: number;
  type: string;
  model: string;
  notes?: string[];
  /** Extension: the fine phase of an open task (its `state` reads 4 whatever the phase). */
  phase?: TaskPhase;
  /** Extension: the contract's code of that phase (0 queued, 2 preparing, 3 waiting, 4 processing). */
  phase_state?: number;
  [extra: string]: unknown;
}

export type TaskPhase = 'queued' | 'preparing' | 'waiting' | 'processing';

const PHASES: Partial<Record<TaskState, TaskPhase>> = {
  [STATE.QUEUED]: 'queued',
  [STATE.PREPARING]: 'preparing',
  [STATE.WAITING]: 'waiting',
  [STATE.PROCESSING]: 'processing',
};

const seconds = (ms: number) => Math.floor(ms / 1000);

export class TaskService {
  readonly events: TaskEvents;
  private readonly now: () => number;
  /** Aborted at shutdown: waiting sync requests answer with the task as it is. */
  private readonly closing = new AbortController();

  constructor(private readonly deps: TaskServiceDeps) {
    this.events = deps.events ?? new TaskEvents();
    this.now = deps.now ?? Date.now;
  }

  /**
   * What POST /api/tasks/visual/scale does: checks the callback URL's address, creates
   * the task and, for sync=1, waits until it settles (or the sync timeout passes).
   */
  async submit(key: ApiKey, request: TaskRequest, source: CreateSource, options: SubmitOptions): Promise<Task> {
    if (request.callbackUrl !== undefined) await checkCallbackUrl(request.callbackUrl, this.deps.callbackGuard ?? { allowPrivate: false });
    const task = await this.create(key, request, source);
    options.onCreated?.(task);
    if (!request.sync) return task;
    return this.waitForSettled(task.id, options.syncTimeoutMs, options.signal);
  }

  /** The bytes of a successful task's result; undefined when it has none (or it was swept). */
  async resultBytes(task: Task): Promise<Uint8Array | undefined> {
    if (task.state !== STATE.SUCCESS || !task.result) return undefined;
    return this.deps.blobs.get(task.result.blob);
  }

  async create(key: ApiKey, request: TaskRequest, source: CreateSource): Promise<Task> {
    const id = randomUUID();
    const createdAt = this.now();
    if (source.kind === 'url') {
      // Size unknown until downloaded: hold the smaller price now, the rest later.
      const task = await this.deps.tasks.create({ id, keyId: key.id, createdAt, request, source: { kind: 'url', url: source.url }, credits: 2 });
      await this.enqueueRecorded(task);
      return task;
    }
    let header: ImageHeader | undefined;
    let refusal: ClearShotError | undefined;
    try {
      header = await this.deps.probe(source.bytes);
    } catch (err) {
      refusal = toClearShotError(err, 'INVALID_IMAGE');
    }
    const blob = inputKey(id);
    if (refusal || !header) {
      // The task exists (it can be queried) but failed at once: nothing stored, nothing held.
      await this.deps.tasks.create({ id, keyId: key.id, createdAt, request, source: { kind: 'file', blob }, credits: 0 });
      return (await this.fail(id, refusal ?? new ClearShotError('INVALID_IMAGE')))!;
    }
    await this.deps.blobs.put(blob, source.bytes, 'application/octet-stream');
    let task: Task;
    try {
      task = await this.deps.tasks.create({
        id,
        keyId: key.id,
        createdAt,
        request,
        source: { kind: 'file', blob },
        input: { width: header.width, height: header.height, format: header.format },
        credits: creditCost(header.width, header.height),
      });
    } catch (err) {
      await this.deps.blobs.delete(blob);
      throw err;
    }
    await this.enqueueRecorded(task);
    return task;
  }

  /**
   * Enqueues a task just recorded. The task store is the truth: once the task is there
   * the client gets its id, even when the queue is unreachable (Redis restarting): the
   * sweeper's reconcile enqueues every task queued for over a minute, so it runs then.
   * (Refusing it instead left a task the client never heard of, holding credits; found by
   * the chaos soak, issue 22.)
   */
  private async enqueueRecorded(task: Task): Promise<void> {
    try {
      await this.deps.queue.enqueue(task.id, { group: task.keyId });
    } catch (err) {
      this.deps.log?.({ taskId: task.id, err: (err as Error).message }, 'queue unreachable: task recorded, it is enqueued again by the sweeper');
    }
  }

  /** A task visible to `key`; NOT_FOUND for unknown, purged or someone else's. */
  async get(key: ApiKey, id: string): Promise<Task> {
    const task = /^[0-9a-f-]{36}$/i.test(id) ? await this.deps.tasks.get(id) : undefined;
    if (!task || task.keyId !== key.id) throw new ClearShotError('NOT_FOUND', 'task not found (unknown, expired or not yours)');
    return task;
  }

  /** Moves an open task to the failure state its error maps to; releases held credits. */
  async fail(id: string, error: ClearShotError): Promise<Task | undefined> {
    const state = error.taskState as Task['state'];
    const task = await this.deps.tasks.transition(id, state, {
      stateDetail: `${STATE_DETAIL[state]}: ${error.message}`,
      completedAt: this.now(),
      errorCode: error.code,
    });
    if (task) this.events.settled(task);
    return task;
  }

  /** Releases every waiting sync request (shutdown). */
  stopWaiting(): void {
    this.closing.abort();
  }

  /** Waits until the task settles or `timeoutMs` passes; returns its latest state either way. */
  async waitForSettled(id: string, timeoutMs: number, signal?: AbortSignal): Promise<Task> {
    const deadline = Date.now() + timeoutMs;
    const stop = signal ? AbortSignal.any([signal, this.closing.signal]) : this.closing.signal;
    for (;;) {
      const task = await this.deps.tasks.get(id);
      if (!task) throw new ClearShotError('NOT_FOUND', 'task not found');
      if (isTerminal(task.state) || Date.now() >= deadline || stop.aborted) return task;
      // Local completion wakes us at once; the poll covers other processes (scale-out).
      await waitForEvent(this.events, `settled:${id}`, Math.min(1000, deadline - Date.now()), stop);
    }
  }

  /** The response `data` for a task. Result bytes are read only for return_type 2. */
  async view(task: Task): Promise<TaskView> {
    const view: TaskView = {
      task_id: task.id,
      created_at: seconds(task.createdAt),
      progress: task.state === STATE.SUCCESS ? 100 : task.progress,
      state: task.state,
      state_detail: task.stateDetail,
      return_type: task.request.returnType,
      type: task.request.type,
      model: task.request.model,
    };
    if (OPEN_STATES.includes(task.state)) {
      // Departure from the contract's table (README, "Responses"): an accepted task that
      // has not finished reads 4 in every phase, because published PicWish clients poll
      // only while state is 4; the phase itself stays readable here.
      view.state = STATE.PROCESSING;
      view.phase = PHASES[task.state]!;
      view.phase_state = task.state;
      if (task.state === STATE.QUEUED) view.state_detail = `${STATE_DETAIL[STATE.QUEUED]}: ${await this.deps.tasks.queuedBefore(task.createdAt)} ahead`;
    }
    if (task.processedAt !== undefined) view.processed_at = seconds(task.processedAt);
    if (task.completedAt !== undefined) view.completed_at = seconds(task.completedAt);
    if (task.input) {
      view.input_width = task.input.width;
      view.input_height = task.input.height;
    }
    if (task.state === STATE.SUCCESS && task.result) {
      view.image_width = task.result.width;
      view.image_height = task.result.height;
      view.credits = task.credits;
      if (task.request.returnType === 2) {
        const bytes = await this.resultBytes(task);
        if (bytes) view.image = Buffer.from(bytes).toString('base64');
      } else {
        view.image = this.resultUrl(task);
      }
    }
    if (task.notes.length) view.notes = [...task.notes];
    if (task.extra) Object.assign(view, task.extra);
    return view;
  }

  resultUrl(task: Task): string | undefined {
    if (!task.result) return undefined;
    return this.deps.signer.sign(resultFileName(task.result.blob), task.result.expiresAt);
  }

  /**
   * On start. Embedded mode (`requeueActive`): this process was the only worker, so
   * tasks it was running when it died go back to the queue. Scale-out: other workers
   * may be running tasks right now, so only queued tasks are (idempotently) enqueued;
   * a dead worker's tasks come back through the queue's stalled-job recovery.
   */
  async recover(requeueActive: boolean): Promise<number> {
    if (requeueActive) await this.deps.tasks.requeueActive();
    let n = 0;
    for (const id of await this.deps.tasks.queuedIds(100_000)) {
      await this.enqueue(id);
      n++;
    }
    return n;
  }

  /**
   * Belt and braces for the queue: a task queued for over `queuedMs` is enqueued again
   * (a no-op when its job exists), and one active for longer than `activeMs` (beyond
   * any timeout) is put back in the queue. Returns how many were touched.
   */
  async reconcile(queuedMs: number, activeMs: number): Promise<number> {
    const now = this.now();
    const stale = await this.deps.tasks.staleOpenTasks(now - queuedMs, now - activeMs, 1000);
    for (const t of stale) {
      if (t.state !== STATE.QUEUED) await this.deps.tasks.transition(t.id, STATE.QUEUED, { progress: 0, countAttempt: true });
      await this.enqueue(t.id);
    }
    return stale.length;
  }

  /** Enqueues a stored task in its key's fairness group. */
  private async enqueue(id: string): Promise<void> {
    const task = await this.deps.tasks.get(id);
    if (task) await this.deps.queue.enqueue(id, { group: task.keyId });
  }

  /** Deletes expired result files and purges tasks past retention. Returns the counts. */
  async sweep(): Promise<{ expired: number; purged: number }> {
    const now = this.now();
    let expired = 0;
    let purged = 0;
    for (;;) {
      const batch = await this.deps.tasks.expiredResults(now, 200);
      for (const r of batch) {
        await this.deps.blobs.delete(r.blob);
        await this.deps.tasks.clearResult(r.id);
      }
      expired += batch.length;
      if (batch.length < 200) break;
    }
    for (;;) {
      const batch = await this.deps.tasks.purgeable(now - this.deps.config.retentionMs, 200);
      for (const t of batch) {
        for (const b of t.blobs) await this.deps.blobs.delete(b);
        await this.deps.tasks.delete(t.id);
      }
      purged += batch.length;
      if (batch.length < 200) break;
    }
    return { expired, purged };
  }
}
