import type { JobHandler, JobOutcome, JobQueue } from './job-queue.js';

/**
 * In-process queue (embedded mode). Durability comes from the task store: every task
 * waiting here is also in state 0 there, and `TaskService.recover()` re-enqueues them
 * at start, so a crash loses nothing. Job id = task id: a task already waiting or
 * running is not added twice.
 */
export interface EmbeddedQueueOptions {
  readonly concurrency: number;
  /** Delay before a job the handler asked to retry runs again, ms. */
  readonly retryDelayMs?: number;
}

export class EmbeddedQueue implements JobQueue {
  private readonly waiting: string[] = [];
  private readonly known = new Set<string>();
  private readonly running = new Map<string, { controller: AbortController; done: Promise<void> }>();
  private handler: JobHandler | undefined;
  private stopping = false;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly options: EmbeddedQueueOptions) {}

  async enqueue(taskId: string): Promise<void> {
    if (this.stopping || this.known.has(taskId)) return;
    this.known.add(taskId);
    this.waiting.push(taskId);
    this.pump();
  }

  async start(handler: JobHandler): Promise<void> {
    this.handler = handler;
    this.pump();
  }

  async depth(): Promise<number> {
    return this.waiting.length;
  }

  active(): number {
    return this.running.size;
  }

  async cancel(taskId: string): Promise<void> {
    const i = this.waiting.indexOf(taskId);
    if (i >= 0) {
      this.waiting.splice(i, 1);
      this.known.delete(taskId);
    }
    this.running.get(taskId)?.controller.abort();
  }

  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearTimeout(t);
    this.waiting.length = 0;
    const all = [...this.running.values()];
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
    await Promise.race([Promise.all(all.map((r) => r.done)), grace]);
    clearTimeout(timer);
    for (const r of all) r.controller.abort();
    await Promise.all(all.map((r) => r.done));
  }

  private pump(): void {
    if (!this.handler || this.stopping) return;
    while (this.running.size < this.options.concurrency && this.waiting.length > 0) {
      const taskId = this.waiting.shift()!;
      const controller = new AbortController();
      const done = this.run(taskId, controller.signal);
      this.running.set(taskId, { controller, done });
    }
  }

  private async run(taskId: string, signal: AbortSignal): Promise<void> {
    let outcome: JobOutcome = 'done';
    try {
      outcome = await this.handler!(taskId, signal);
    } catch {
      // The handler records failures itself; an escape here must not stop the queue.
      outcome = 'done';
    } finally {
      this.running.delete(taskId);
      this.known.delete(taskId);
    }
    if (outcome === 'retry' && !this.stopping) {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        void this.enqueue(taskId);
      }, this.options.retryDelayMs ?? 1000);
      this.timers.add(timer);
    }
    this.pump();
  }
}
