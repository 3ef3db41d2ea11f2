import type { EnqueueOptions, JobHandler, JobOutcome, JobQueue } from './job-queue.js';

/**
 * In-process queue (embedded mode). Durability comes from the task store: every task
 * waiting here is also in state 0 there, and `TaskService.recover()` re-enqueues them
 * at start, so a crash loses nothing. Job id = task id: a task already waiting or
 * running is not added twice.
 *
 * Fair across groups (API keys), the same rule as the BullMQ adapter: a job's rank is
 * 1 + the jobs of its group already waiting or running when it arrives, and a free
 * slot goes to the waiting job with the lowest rank (the earliest on a tie). So every
 * key's first task runs before anyone's second, and one key's backlog never makes
 * another key's task wait behind all of it. A group runs at most `maxRunningPerGroup`
 * jobs at once (0 = no cap).
 */
export interface EmbeddedQueueOptions {
  readonly concurrency: number;
  /** Delay before a job the handler asked to retry runs again, ms. */
  readonly retryDelayMs?: number;
  /** Jobs of one group (API key) running at once; 0 or unset = no cap. */
  readonly maxRunningPerGroup?: number;
}

/** Jobs enqueued without a group share this one. */
const NO_GROUP = '';

interface Waiting {
  readonly taskId: string;
  readonly rank: number;
  readonly arrival: number;
}

export class EmbeddedQueue implements JobQueue {
  /** Waiting jobs per group, in arrival order; a group is present only while it has some. */
  private readonly waiting = new Map<string, Waiting[]>();
  private readonly groupOf = new Map<string, string>();
  private readonly runningPerGroup = new Map<string, number>();
  private readonly running = new Map<string, { controller: AbortController; done: Promise<void> }>();
  private handler: JobHandler | undefined;
  private stopping = false;
  private arrivals = 0;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly options: EmbeddedQueueOptions) {}

  async enqueue(taskId: string, options: EnqueueOptions = {}): Promise<void> {
    if (this.stopping || this.groupOf.has(taskId)) return;
    const group = options.group ?? NO_GROUP;
    this.groupOf.set(taskId, group);
    let list = this.waiting.get(group);
    if (!list) this.waiting.set(group, (list = []));
    const rank = 1 + list.length + (this.runningPerGroup.get(group) ?? 0);
    list.push({ taskId, rank, arrival: this.arrivals++ });
    this.pump();
  }

  async start(handler: JobHandler): Promise<void> {
    this.handler = handler;
    this.pump();
  }

  async depth(): Promise<number> {
    let n = 0;
    for (const list of this.waiting.values()) n += list.length;
    return n;
  }

  active(): number {
    return this.running.size;
  }

  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearTimeout(t);
    this.waiting.clear();
    const all = [...this.running.values()];
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
    await Promise.race([Promise.all(all.map((r) => r.done)), grace]);
    clearTimeout(timer);
    for (const r of all) r.controller.abort();
    await Promise.all(all.map((r) => r.done));
  }

  /** The waiting job with the lowest (rank, arrival) among groups under their cap. */
  private next(): string | undefined {
    const cap = this.options.maxRunningPerGroup ?? 0;
    let best: { group: string; head: Waiting } | undefined;
    for (const [group, list] of this.waiting) {
      if (cap > 0 && (this.runningPerGroup.get(group) ?? 0) >= cap) continue;
      const head = list[0]!;
      if (!best || head.rank < best.head.rank || (head.rank === best.head.rank && head.arrival < best.head.arrival)) best = { group, head };
    }
    if (!best) return undefined;
    const list = this.waiting.get(best.group)!;
    list.shift();
    if (list.length === 0) this.waiting.delete(best.group);
    return best.head.taskId;
  }

  private pump(): void {
    if (!this.handler || this.stopping) return;
    while (this.running.size < this.options.concurrency) {
      const taskId = this.next();
      if (taskId === undefined) return;
      const group = this.groupOf.get(taskId) ?? NO_GROUP;
      this.runningPerGroup.set(group, (this.runningPerGroup.get(group) ?? 0) + 1);
      const controller = new AbortController();
      const done = this.run(taskId, group, controller.signal);
      this.running.set(taskId, { controller, done });
    }
  }

  private async run(taskId: string, group: string, signal: AbortSignal): Promise<void> {
    let outcome: JobOutcome = 'done';
    try {
      outcome = await this.handler!(taskId, signal);
    } catch {
      // The handler records failures itself; an escape here must not stop the queue.
      outcome = 'done';
    } finally {
      this.running.delete(taskId);
      this.groupOf.delete(taskId);
      const left = (this.runningPerGroup.get(group) ?? 1) - 1;
      if (left > 0) this.runningPerGroup.set(group, left);
      else this.runningPerGroup.delete(group);
    }
    if (outcome === 'retry' && !this.stopping) {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        void this.enqueue(taskId, group === NO_GROUP ? {} : { group });
      }, this.options.retryDelayMs ?? 1000);
      this.timers.add(timer);
    }
    this.pump();
  }
}
