import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { JobOutcome, JobQueue } from '../../src/queue/job-queue.js';

/** One conformance suite for the job queue port (in-process, BullMQ on Redis). */
export function queueConformance(name: string, open: (concurrency: number) => Promise<{ queue: JobQueue; cleanup: () => Promise<void> }>): void {
  describe(`job queue conformance: ${name}`, () => {
    const opened: Array<{ queue: JobQueue; cleanup: () => Promise<void> }> = [];
    const make = async (concurrency: number) => {
      const q = await open(concurrency);
      opened.push(q);
      return q.queue;
    };
    after(async () => {
      for (const q of opened) {
        await q.queue.stop(100).catch(() => undefined);
        await q.cleanup();
      }
    });
    const waitFor = async (predicate: () => boolean, ms = 15_000) => {
      const end = Date.now() + ms;
      while (!predicate()) {
        if (Date.now() > end) throw new Error('timed out waiting');
        await new Promise((r) => setTimeout(r, 20));
      }
    };

    it('runs every job once, the same id only once while it waits or runs', async () => {
      const queue = await make(1);
      const runs: string[] = [];
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      await queue.start(async (id): Promise<JobOutcome> => {
        runs.push(id);
        if (id === 'a') await gate;
        return 'done';
      });
      await queue.enqueue('a');
      await waitFor(() => runs.includes('a'));
      await queue.enqueue('a');
      await queue.enqueue('b');
      await queue.enqueue('b');
      assert.equal(await queue.depth(), 1, 'b waits once, a runs');
      release();
      await waitFor(() => runs.includes('b'));
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(runs.sort(), ['a', 'b']);
    });

    it('runs a job again when its handler asks to retry', async () => {
      const queue = await make(1);
      const runs: string[] = [];
      await queue.start(async (id): Promise<JobOutcome> => {
        runs.push(id);
        return runs.length < 2 ? 'retry' : 'done';
      });
      await queue.enqueue('r');
      await waitFor(() => runs.length >= 2);
      assert.deepEqual(runs, ['r', 'r']);
    });

    it('stop() gives running jobs their grace, then aborts their signal', async () => {
      const queue = await make(2);
      let aborted = false;
      let started = false;
      await queue.start(async (_id, signal): Promise<JobOutcome> => {
        started = true;
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        aborted = true;
        return 'retry';
      });
      await queue.enqueue('long');
      await waitFor(() => started);
      await queue.stop(200);
      assert.equal(aborted, true);
    });
  });
}
