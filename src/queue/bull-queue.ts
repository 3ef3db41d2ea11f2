import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { JobHandler, JobQueue } from './job-queue.js';

/**
 * BullMQ on Redis (scale-out mode). Job id = task id, so a repeated enqueue of a task
 * never makes a second job. Workers on any number of machines share the queue; a
 * worker that dies mid-task loses its lock and BullMQ hands the job to another worker
 * (stalled-job recovery), whose processor takes the task over.
 *
 * Attempts are counted in the task store, not here: a job that must run again (a
 * transient failure, or its worker is stopping) is retried after `retryDelayMs` until
 * the store says the task has used its attempts.
 */
export interface BullQueueOptions {
  readonly redisUrl: string;
  /** Redis key prefix (lets several deployments or test runs share one Redis). */
  readonly prefix: string;
  readonly concurrency: number;
  /** How long a worker holds a job without renewing before it counts as dead, ms. */
  readonly lockDurationMs: number;
  /** How many times a job may stall (worker died) before BullMQ gives up on it. */
  readonly maxStalledCount: number;
  readonly retryDelayMs?: number;
  readonly name?: string;
}

class RetryLater extends Error {
  constructor() {
    super('task went back to the queue');
    this.name = 'RetryLater';
  }
}

export class BullQueue implements JobQueue {
  private readonly connection: Redis;
  private readonly queue: Queue;
  private worker: Worker | undefined;
  /** BullMQ leaves connections it was given open: we close them ourselves. */
  private workerConnection: Redis | undefined;
  private readonly running = new Set<AbortController>();
  private readonly name: string;

  constructor(private readonly options: BullQueueOptions) {
    this.name = options.name ?? 'clearshot-tasks';
    this.connection = new Redis(options.redisUrl, { maxRetriesPerRequest: null, lazyConnect: false });
    this.connection.on('error', () => undefined); // reconnects by itself; commands report errors
    this.queue = new Queue(this.name, { connection: this.connection, prefix: options.prefix });
  }

  async enqueue(taskId: string): Promise<void> {
    const existing = await this.queue.getJob(taskId);
    if (existing) {
      const state = await existing.getState();
      // A finished job with this id would swallow the add: clear it first.
      if (state !== 'completed' && state !== 'failed' && state !== 'unknown') return;
      await existing.remove().catch(() => undefined);
    }
    await this.queue.add(
      'enhance',
      { taskId },
      {
        jobId: taskId,
        attempts: 1000,
        backoff: { type: 'fixed', delay: this.options.retryDelayMs ?? 2000 },
        removeOnComplete: true,
        removeOnFail: true,
      },
    );
  }

  async start(handler: JobHandler): Promise<void> {
    this.worker = new Worker(
      this.name,
      async (job: Job<{ taskId: string }>) => {
        const controller = new AbortController();
        this.running.add(controller);
        try {
          const outcome = await handler(job.data.taskId, controller.signal);
          if (outcome === 'retry') throw new RetryLater();
        } finally {
          this.running.delete(controller);
        }
      },
      {
        connection: (this.workerConnection = this.connection.duplicate({ maxRetriesPerRequest: null })),
        prefix: this.options.prefix,
        concurrency: this.options.concurrency,
        lockDuration: this.options.lockDurationMs,
        stalledInterval: Math.max(1000, Math.floor(this.options.lockDurationMs / 2)),
        maxStalledCount: this.options.maxStalledCount,
      },
    );
    this.worker.on('error', () => undefined);
    await this.worker.waitUntilReady();
  }

  async depth(): Promise<number> {
    const counts = await this.queue.getJobCounts('wait', 'delayed', 'prioritized');
    return Object.values(counts).reduce((a, b) => a + b, 0);
  }

  active(): number {
    return this.running.size;
  }

  async cancel(taskId: string): Promise<void> {
    const job = await this.queue.getJob(taskId);
    if (job && (await job.getState()) !== 'active') await job.remove().catch(() => undefined);
  }

  /** Stops taking jobs; running ones get `graceMs`, then are told to stop (and go back to the queue). */
  async stop(graceMs: number): Promise<void> {
    if (this.worker) {
      const closing = this.worker.close();
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
      await Promise.race([closing, grace]);
      clearTimeout(timer);
      for (const c of this.running) c.abort();
      await closing;
    }
    await this.queue.close();
    await this.workerConnection?.quit().catch(() => undefined);
    await this.connection.quit().catch(() => undefined);
  }
}
