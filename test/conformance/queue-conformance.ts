import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { JobOutcome, JobQueue } from '../../src/queue/job-queue.js';

/** One conformance suite for the job queue port (in-process, BullMQ on Redis). */
export function queueConformance(name: string, open: (concurrency: number, maxRunningPerGroup?: number) => Promise<{ queue: JobQueue; cleanup: () => Promise<void> }>): void {
  describe(`job queue conformance: ${name}`, () => {
    const opened: Array<{ queue: JobQueue; cleanup: () => Promise<void> }> = [];
    const make = async (concurrency: number, maxRunningPerGroup = 0) => {
      const q = await open(concurrency, maxRunningPerGroup);
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
      // A sentinel enqueued last, in the same group: a wrongly kept second 'a' or 'b'
      // was enqueued before it, with no worse a rank, so it would run before the sentinel
      // does (concurrency 1). Waiting for the sentinel replaces a timed observation window.
      await queue.enqueue('z');
      await waitFor(() => runs.includes('z'));
      assert.deepEqual(runs, ['a', 'b', 'z']);
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

    it('is fair between groups (API keys): one key\'s backlog does not hold back another key\'s task', async () => {
      const queue = await make(1);
      const runs: string[] = [];
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      await queue.start(async (id): Promise<JobOutcome> => {
        runs.push(id);
        if (id === 'a1') await gate;
        return 'done';
      });
      await queue.enqueue('a1', { group: 'A' });
      await waitFor(() => runs.includes('a1'));
      for (const id of ['a2', 'a3', 'a4', 'a5', 'a6']) await queue.enqueue(id, { group: 'A' });
      await queue.enqueue('b1', { group: 'B' });
      release();
      await waitFor(() => runs.length === 7);
      // A plain FIFO ran b1 last, after all of A's backlog.
      assert.deepEqual(runs, ['a1', 'b1', 'a2', 'a3', 'a4', 'a5', 'a6']);
    });

    it('runs at most maxRunningPerGroup jobs of one group at once, leaving slots to others', async () => {
      const queue = await make(3, 1);
      const running = new Map<string, number>();
      let maxA = 0;
      const done: string[] = [];
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      await queue.start(async (id): Promise<JobOutcome> => {
        const group = id[0]!;
        running.set(group, (running.get(group) ?? 0) + 1);
        if (group === 'a') maxA = Math.max(maxA, running.get(group)!);
        await gate;
        await new Promise((r) => setTimeout(r, 20));
        running.set(group, running.get(group)! - 1);
        done.push(id);
        return 'done';
      });
      for (const id of ['a1', 'a2', 'a3']) await queue.enqueue(id, { group: 'A' });
      await queue.enqueue('b1', { group: 'B' });
      await waitFor(() => running.get('b') === 1 && running.get('a') === 1);
      // The third slot must still be free for another key: c1 can start only if no second
      // 'a' took it (every job holds its slot until the gate opens). Once c1 runs, every
      // slot is taken, so no wrong 'a' can start later either: no timed window is needed.
      await queue.enqueue('c1', { group: 'C' });
      await waitFor(() => running.get('c') === 1);
      assert.equal(maxA, 1, 'one job of A at a time');
      assert.deepEqual([running.get('a'), running.get('b'), running.get('c')], [1, 1, 1]);
      release();
      await waitFor(() => done.length === 5);
      assert.equal(maxA, 1);
      assert.deepEqual(done.sort(), ['a1', 'a2', 'a3', 'b1', 'c1']);
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
