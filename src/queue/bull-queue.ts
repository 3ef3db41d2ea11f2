import { DelayedError, Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { EnqueueOptions, JobHandler, JobOutcome, JobQueue } from './job-queue.js';

/**
 * BullMQ on Redis (scale-out mode). Job id = task id, so a repeated enqueue of a task
 * never makes a second job. Workers on any number of machines share the queue; a
 * worker that dies mid-task loses its lock and BullMQ hands the job to another worker
 * (stalled-job recovery), whose processor takes the task over.
 *
 * Attempts are counted in the task store, not here. A job whose handler answers 'retry'
 * (a transient failure, or its worker is stopping) or throws goes back through BullMQ's
 * delayed set: `job.moveToDelayed(now + retryDelayMs, token)` and `DelayedError`, the same
 * job (id, data, priority) again, no BullMQ attempt counted; the handler stops it once
 * the store says the task has used its attempts. A group over its cap is put back the
 * same way, delayed by a moment.
 *
 * If that move itself fails, the error is a real BullMQ failure, and two nets keep the
 * job: its lock was lost (a late renewal, say) and the stalled-job check hands it back
 * to the queue; or, lock held, the move failed (Redis trouble) and BullMQ retries it
 * (`ESCAPE_ATTEMPTS`, exponential back-off from `retryDelayMs`). Only a job that fails
 * for good (those attempts spent, or stalled more than `maxStalledCount` times) leaves
 * the queue; its group's count is released then, and the task store's reconciler
 * re-enqueues a task left active.
 *
 * Fair across groups (API keys), the same rule as the embedded queue: a job's BullMQ
 * priority is 1 + the jobs of its group already waiting or running (a per-group
 * counter in Redis), so every key's first task runs before anyone's second. A group
 * runs at most `maxRunningPerGroup` jobs at once across all workers: a worker that
 * picks a job over the cap puts it back, delayed by a moment. Running jobs are kept
 * in a per-group sorted set with a heartbeat, so a killed worker's entries lapse
 * after the lock duration instead of blocking the key.
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
  /** Jobs of one group (API key) running at once, across all workers; 0 or unset = no cap. */
  readonly maxRunningPerGroup?: number;
}

/** BullMQ attempts of a job whose processor failed outright (not a 'retry' outcome): see above. */
const ESCAPE_ATTEMPTS = 5;

/** BullMQ's largest priority. */
const MAX_PRIORITY = 2_097_152;

/** Keeps a running-set entry for ARGV[2] if the group is under the cap ARGV[1] (0 = none); 1 if admitted. */
const ADMIT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[3]) - tonumber(ARGV[4]))
local cap = tonumber(ARGV[1])
if cap > 0 and not redis.call('ZSCORE', KEYS[1], ARGV[2]) and redis.call('ZCARD', KEYS[1]) >= cap then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1`;

/** Decrements a counter, never below zero. */
const RELEASE = `
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n <= 1 then redis.call('DEL', KEYS[1]) return 0 end
return redis.call('DECR', KEYS[1])`;

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

  private groupKey(kind: 'queued' | 'running', group: string): string {
    return `${this.options.prefix}:${this.name}:fair:${kind}:${group}`;
  }

  async enqueue(taskId: string, options: EnqueueOptions = {}): Promise<void> {
    const existing = await this.queue.getJob(taskId);
    if (existing) {
      const state = await existing.getState();
      // A finished job with this id would swallow the add: clear it first.
      if (state !== 'completed' && state !== 'failed' && state !== 'unknown') return;
      await existing.remove().catch(() => undefined);
    }
    const group = options.group ?? '';
    const counter = this.groupKey('queued', group);
    // The counter lapses a day after its group's last enqueue, so a count left by a crash heals.
    const [[, rank]] = (await this.connection.multi().incr(counter).pexpire(counter, 86_400_000).exec()) as [[unknown, number], unknown];
    await this.queue.add(
      'enhance',
      { taskId, group },
      {
        jobId: taskId,
        priority: Math.min(MAX_PRIORITY, Math.max(1, rank)),
        attempts: ESCAPE_ATTEMPTS,
        backoff: { type: 'exponential', delay: this.options.retryDelayMs ?? 2000 },
        removeOnComplete: true,
        removeOnFail: true,
      },
    );
  }

  async start(handler: JobHandler): Promise<void> {
    this.worker = new Worker(
      this.name,
      async (job: Job<{ taskId: string; group?: string }>, token?: string) => {
        const group = job.data.group ?? '';
        const runningKey = this.groupKey('running', group);
        const staleMs = this.options.lockDurationMs;
        const admit = () => this.connection.eval(ADMIT, 1, runningKey, String(this.options.maxRunningPerGroup ?? 0), job.id!, String(Date.now()), String(staleMs));
        // The key has its share running: let other keys' jobs go first, try again shortly.
        if ((await admit()) !== 1) return this.later(job, token, 250);
        const heartbeat = setInterval(() => void admit().catch(() => undefined), Math.max(500, Math.floor(staleMs / 3)));
        const controller = new AbortController();
        this.running.add(controller);
        let outcome: JobOutcome;
        try {
          outcome = await handler(job.data.taskId, controller.signal);
        } catch {
          // The handler records failures itself; an escape (e.g. the database briefly
          // down) runs the job again later rather than dropping it.
          outcome = 'retry';
        } finally {
          clearInterval(heartbeat);
          this.running.delete(controller);
          await this.connection.zrem(runningKey, job.id!).catch(() => undefined);
        }
        // A job that runs again is still queued: its group's count stays.
        if (outcome === 'retry') return this.later(job, token, this.options.retryDelayMs ?? 2000);
        await this.release(group);
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
    // Failed for good (not a retry by attempts): it left the queue, so its group's count goes.
    this.worker.on('failed', (job) => {
      if (job?.finishedOn) void this.release(job.data.group ?? '');
    });
    await this.worker.waitUntilReady();
  }

  /** Runs the job again in `ms`, through BullMQ's delayed set (throws DelayedError, as BullMQ asks). */
  private async later(job: Job, token: string | undefined, ms: number): Promise<never> {
    await job.moveToDelayed(Date.now() + ms, token);
    throw new DelayedError();
  }

  private release(group: string): Promise<unknown> {
    return this.connection.eval(RELEASE, 1, this.groupKey('queued', group)).catch(() => undefined);
  }

  async depth(): Promise<number> {
    const counts = await this.queue.getJobCounts('wait', 'delayed', 'prioritized');
    return Object.values(counts).reduce((a, b) => a + b, 0);
  }

  active(): number {
    return this.running.size;
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
