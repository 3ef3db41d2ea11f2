import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Job, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { BullQueue } from '../src/queue/bull-queue.js';
import type { JobOutcome } from '../src/queue/job-queue.js';
import { createRedisPrefix } from './helpers/services.js';

/**
 * BullQueue's retry path on a real Redis, beyond the port's conformance suite: a 'retry'
 * goes through BullMQ's delayed set, and a failing move back (lost lock, Redis trouble)
 * does not drop the job.
 */
const NAME = 'clearshot-tasks';
const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function open(lockDurationMs = 5000) {
  const redis = await createRedisPrefix();
  const queue = new BullQueue({ redisUrl: redis.url, prefix: redis.prefix, concurrency: 1, lockDurationMs, maxStalledCount: 5, retryDelayMs: 300 });
  const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
  const inspect = new Queue(NAME, { connection, prefix: redis.prefix });
  const client = new Redis(redis.url);
  // Run in reverse: the queue stops first, Redis keys go last.
  cleanups.push(
    redis.clear,
    async () => {
      await inspect.close();
      await connection.quit();
      await client.quit();
    },
    () => queue.stop(100),
  );
  return { queue, inspect, client, prefix: redis.prefix };
}

async function waitFor(predicate: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('BullQueue retries', () => {
  it("a 'retry' outcome waits in BullMQ's delayed set, as the same job, with no BullMQ attempt counted", async () => {
    const { queue, inspect } = await open();
    const runs: number[] = [];
    await queue.start(async (): Promise<JobOutcome> => {
      runs.push(Date.now());
      return runs.length < 2 ? 'retry' : 'done';
    });
    await queue.enqueue('r1', { group: 'A' });
    await waitFor(() => runs.length === 1);
    // Still 'active' until the processor has moved it; then 'delayed' for the retry delay (300 ms).
    let state = await inspect.getJobState('r1');
    while (state === 'active' && runs.length === 1) state = await inspect.getJobState('r1');
    assert.equal(state, 'delayed');
    const job = await inspect.getJob('r1');
    assert.equal(job?.attemptsMade, 0);
    assert.equal(await queue.depth(), 1);
    await waitFor(() => runs.length === 2);
    assert.ok(runs[1]! - runs[0]! >= 250, `ran again after ${runs[1]! - runs[0]!} ms, not after the retry delay`);
  });

  it('a retry whose lock was lost (moveToDelayed refused) comes back through stalled-job recovery', async () => {
    const { queue, client, prefix } = await open(1000);
    const runs: string[] = [];
    await queue.start(async (id): Promise<JobOutcome> => {
      runs.push(id);
      // As a late lock renewal would leave it: the lock is gone when the job asks to be delayed.
      if (runs.length === 1) await client.del(`${prefix}:${NAME}:${id}:lock`);
      return runs.length === 1 ? 'retry' : 'done';
    });
    await queue.enqueue('lost');
    await waitFor(() => runs.length === 2);
    assert.deepEqual(runs, ['lost', 'lost']);
  });

  it('a retry whose move back fails with the lock held is retried by BullMQ (the safety net), not dropped', async () => {
    const { queue } = await open();
    const original = Job.prototype.moveToDelayed;
    let refused = 0;
    Job.prototype.moveToDelayed = async function (this: Job, ...args: Parameters<Job['moveToDelayed']>) {
      if (refused++ === 0) throw new Error('Connection is closed.');
      return original.apply(this, args);
    };
    try {
      const runs: string[] = [];
      await queue.start(async (id): Promise<JobOutcome> => {
        runs.push(id);
        return runs.length === 1 ? 'retry' : 'done';
      });
      await queue.enqueue('net');
      await waitFor(() => runs.length === 2);
      assert.deepEqual(runs, ['net', 'net']);
    } finally {
      Job.prototype.moveToDelayed = original;
    }
  });
});
