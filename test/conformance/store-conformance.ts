import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ClearShotError } from '../../src/errors/index.js';
import type { KeyStore } from '../../src/keys/key-store.js';
import { STATE, type TaskRequest } from '../../src/tasks/task.js';
import type { TaskStore } from '../../src/tasks/task-store.js';

/**
 * One conformance suite for the task and key store port, run against every adapter
 * (SQLite, PostgreSQL). The money rules live here: holds never exceed balances, a task
 * is debited once and only on success, failures release their hold.
 */
export type Store = TaskStore & KeyStore;

const request: TaskRequest = { returnType: 1, sync: false, type: 'clean', scale: undefined, model: 'fast', format: undefined, keepGps: false };

let seq = 0;
async function newKey(store: Store, credits: number, hash = randomUUID()) {
  return store.createKey({ id: `key_${Date.now()}_${seq++}`, name: 'conformance', hash, credits, createdAt: Date.now() });
}
async function newTask(store: Store, keyId: string, credits = 2, createdAt = Date.now()) {
  return store.create({ id: randomUUID(), keyId, createdAt, request, source: { kind: 'file', blob: `inputs/${randomUUID()}` }, credits });
}
const code = async (p: Promise<unknown>) => {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return e instanceof ClearShotError ? e.code : String(e);
  }
};
const result = (id: string) => ({ blob: `results/${id}.png`, contentType: 'image/png', width: 8, height: 8, bytes: 10, expiresAt: Date.now() + 1000 });

export function storeConformance(name: string, open: () => Promise<{ store: Store; cleanup: () => Promise<void> }>): void {
  describe(`task and key store conformance: ${name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    before(async () => {
      ({ store, cleanup } = await open());
    });
    after(async () => {
      await store.close();
      await cleanup();
    });

    it('creates a queued task and holds its credits', async () => {
      const key = await newKey(store, 5);
      const task = await newTask(store, key.id, 3);
      assert.deepEqual([task.state, task.progress, task.credits, task.charged, task.attempts], [STATE.QUEUED, 0, 3, false, 0]);
      assert.deepEqual(task.request, JSON.parse(JSON.stringify(request)), 'stored as JSON');
      const k = (await store.findById(key.id))!;
      assert.deepEqual([k.credits, k.held], [5, 3]);
      assert.equal(await code(newTask(store, key.id, 3)), 'INSUFFICIENT_CREDITS', 'only 2 left');
      assert.equal((await store.findById(key.id))!.held, 3, 'a refused create holds nothing');
    });

    it('refuses tasks for a disabled or unknown key', async () => {
      const key = await newKey(store, 10);
      await store.setDisabled(key.id, true);
      assert.equal(await code(newTask(store, key.id)), 'UNAUTHORIZED');
      assert.equal(await code(newTask(store, 'key_missing')), 'UNAUTHORIZED');
    });

    it('follows the state machine and releases the hold on failure', async () => {
      const key = await newKey(store, 10);
      const t = await newTask(store, key.id, 2);
      assert.equal(await store.transition(t.id, STATE.PROCESSING), undefined, 'queued cannot jump to processing');
      assert.equal(await store.transition(t.id, STATE.SUCCESS), undefined);
      const prep = await store.transition(t.id, STATE.PREPARING, { processedAt: 1234, progress: 1 });
      assert.deepEqual([prep?.state, prep?.processedAt, prep?.stateDetail], [STATE.PREPARING, 1234, 'Preparing']);
      await store.setProgress(t.id, 40);
      await store.setProgress(t.id, 30);
      assert.equal((await store.get(t.id))!.progress, 40, 'progress never goes back');
      const failed = await store.transition(t.id, STATE.INVALID_IMAGE, { stateDetail: 'Invalid image: x', errorCode: 'INVALID_IMAGE', completedAt: 99 });
      assert.deepEqual([failed?.state, failed?.errorCode, failed?.completedAt], [STATE.INVALID_IMAGE, 'INVALID_IMAGE', 99]);
      assert.equal(await store.transition(t.id, STATE.QUEUED), undefined, 'terminal');
      const k = (await store.findById(key.id))!;
      assert.deepEqual([k.credits, k.held], [10, 0]);
    });

    it('success debits exactly once, in the same step, with one ledger row', async () => {
      const key = await newKey(store, 10);
      const t = await newTask(store, key.id, 3);
      await store.transition(t.id, STATE.PREPARING);
      await store.transition(t.id, STATE.PROCESSING, { input: { width: 3000, height: 10, format: 'png' } });
      const [a, b] = await Promise.all([store.complete(t.id, result(t.id), { completedAt: 5 }), store.complete(t.id, result(t.id), { completedAt: 6 })]);
      assert.ok((a === undefined) !== (b === undefined), 'exactly one completion wins');
      const done = (await store.get(t.id))!;
      assert.deepEqual([done.state, done.progress, done.charged, done.result?.blob, done.input?.width], [STATE.SUCCESS, 100, true, `results/${t.id}.png`, 3000]);
      const k = (await store.findById(key.id))!;
      assert.deepEqual([k.credits, k.held], [7, 0]);
      const debits = (await store.ledger(key.id)).filter((l) => l.reason === 'debit');
      assert.deepEqual(
        debits.map((d) => [d.taskId, d.delta]),
        [[t.id, -3]],
      );
      assert.equal(await store.transition(t.id, STATE.FAILED), undefined, 'a success cannot fail afterwards');
    });

    it('never over-commits a balance under concurrent creates', async () => {
      const key = await newKey(store, 9);
      const outcomes = await Promise.all(Array.from({ length: 12 }, () => code(newTask(store, key.id, 2))));
      assert.equal(outcomes.filter((o) => o === 'ok').length, 4);
      assert.equal(outcomes.filter((o) => o === 'INSUFFICIENT_CREDITS').length, 8);
      const k = (await store.findById(key.id))!;
      assert.deepEqual([k.credits, k.held], [9, 8]);
    });

    it('raises a hold when a URL image turns out larger, or refuses', async () => {
      const key = await newKey(store, 5);
      const t = await newTask(store, key.id, 2);
      const other = await newTask(store, key.id, 2);
      assert.equal(await store.raiseHold(t.id, 3), true);
      assert.equal((await store.findById(key.id))!.held, 5);
      assert.equal(await store.raiseHold(other.id, 3), false, 'nothing left to hold');
      assert.equal((await store.get(other.id))!.credits, 2);
    });

    it('requeues active tasks, lists queued oldest first, finds stale ones', async () => {
      const key = await newKey(store, 100);
      const base = Date.now() - 1_000_000;
      const t1 = await newTask(store, key.id, 2, base + 1);
      const t2 = await newTask(store, key.id, 2, base + 2);
      await store.transition(t1.id, STATE.PREPARING, { processedAt: base + 10 });
      await store.transition(t1.id, STATE.PROCESSING);
      const stale = await store.staleOpenTasks(base + 5, base + 20, 100);
      assert.ok(stale.some((s) => s.id === t1.id && s.state === STATE.PROCESSING));
      assert.ok(stale.some((s) => s.id === t2.id && s.state === STATE.QUEUED));
      const requeued = await store.requeueActive();
      assert.ok(requeued.includes(t1.id));
      const again = (await store.get(t1.id))!;
      assert.deepEqual([again.state, again.attempts, again.progress], [STATE.QUEUED, 1, 0]);
      const queued = await store.queuedIds(100000);
      assert.ok(queued.indexOf(t1.id) < queued.indexOf(t2.id));
      const counted = await store.transition(t2.id, STATE.PREPARING);
      await store.transition(t2.id, STATE.QUEUED, { countAttempt: true });
      assert.equal((await store.get(t2.id))!.attempts, (counted?.attempts ?? 0) + 1);
    });

    it('expires results and purges finished tasks', async () => {
      const key = await newKey(store, 100);
      const t = await newTask(store, key.id);
      await store.transition(t.id, STATE.PREPARING);
      await store.transition(t.id, STATE.PROCESSING);
      await store.complete(t.id, { ...result(t.id), expiresAt: 1000 }, { completedAt: 2000 });
      const expired = await store.expiredResults(1500, 1000);
      assert.ok(expired.some((e) => e.id === t.id && e.blob === `results/${t.id}.png`));
      await store.clearResult(t.id);
      assert.equal((await store.get(t.id))!.result, undefined);
      assert.ok(!(await store.expiredResults(1500, 1000)).some((e) => e.id === t.id));
      const purgeable = await store.purgeable(2500, 1000);
      const entry = purgeable.find((p) => p.id === t.id);
      assert.ok(entry && entry.blobs.some((b) => b.startsWith('inputs/')));
      await store.delete(t.id);
      assert.equal(await store.get(t.id), undefined);
    });

    it('counts tasks by state', async () => {
      // Relative to the counts before, so it holds whatever other tests left (or did not).
      const key = await newKey(store, 100);
      const before = await store.countByState();
      const q = await newTask(store, key.id);
      const f = await newTask(store, key.id);
      await store.transition(f.id, STATE.INVALID_IMAGE, { completedAt: 1 });
      const after = await store.countByState();
      assert.equal(after[STATE.QUEUED], (before[STATE.QUEUED] ?? 0) + 1);
      assert.equal(after[STATE.INVALID_IMAGE], (before[STATE.INVALID_IMAGE] ?? 0) + 1);
      await store.transition(q.id, STATE.PREPARING);
      assert.equal((await store.countByState())[STATE.PREPARING], (before[STATE.PREPARING] ?? 0) + 1);
    });

    it('counts the queued tasks created before a time (place in line)', async () => {
      const key = await newKey(store, 100);
      const base = Date.now() + 10_000_000 + seq * 1000;
      const a = await newTask(store, key.id, 2, base + 1);
      await newTask(store, key.id, 2, base + 2);
      const before = await store.queuedBefore(base + 1);
      assert.equal(await store.queuedBefore(base + 2), before + 1);
      assert.equal(await store.queuedBefore(base + 3), before + 2);
      await store.transition(a.id, STATE.PREPARING);
      assert.equal(await store.queuedBefore(base + 3), before + 1, 'a task being prepared is no longer in line');
    });

    it('owes a webhook in the same transaction as the end, success or failure, only with a callback_url', async () => {
      const key = await newKey(store, 100);
      const withHook = { ...request, callbackUrl: 'http://127.0.0.1:9/hook' };
      const make = () => store.create({ id: randomUUID(), keyId: key.id, createdAt: Date.now(), request: withHook, source: { kind: 'file', blob: `inputs/${randomUUID()}` }, credits: 2 });
      const ok = await make();
      const bad = await make();
      const plain = await newTask(store, key.id);
      assert.equal(await store.webhookOf(ok.id), undefined, 'nothing owed while open');
      await store.transition(ok.id, STATE.PREPARING);
      await store.transition(ok.id, STATE.PROCESSING);
      await store.complete(ok.id, result(ok.id), { completedAt: 5000 });
      await store.transition(bad.id, STATE.INVALID_IMAGE, { completedAt: 6000 });
      await store.transition(plain.id, STATE.INVALID_IMAGE, { completedAt: 6000 });
      assert.deepEqual(await store.webhookOf(ok.id), { url: withHook.callbackUrl, status: 'pending', attempts: 0, nextAt: 5000 });
      assert.deepEqual(await store.webhookOf(bad.id), { url: withHook.callbackUrl, status: 'pending', attempts: 0, nextAt: 6000 });
      assert.equal(await store.webhookOf(plain.id), undefined);
      assert.equal((await store.get(ok.id))!.request.callbackUrl, withHook.callbackUrl);
      assert.ok((await store.pendingWebhooks()) >= 2);

      // Claims: due rows only, each counted and leased; a second claim sees none of them.
      const claimed = (await store.claimWebhooks(5500, 100_000, 100)).filter((c) => c.taskId === ok.id || c.taskId === bad.id);
      assert.deepEqual(claimed, [{ taskId: ok.id, url: withHook.callbackUrl, attempts: 1 }], 'bad is not due at 5500');
      assert.ok(!(await store.claimWebhooks(7000, 100_000, 100)).some((c) => c.taskId === ok.id), 'leased');
      // A failed attempt schedules the next; a stale claim's outcome is ignored.
      assert.equal(await store.finishWebhook(ok.id, 1, { status: 'pending', nextAt: 8000, error: 'HTTP 500', at: 7000 }), true);
      assert.equal(await store.finishWebhook(ok.id, 0, { status: 'delivered', at: 7000 }), false, 'stale claim');
      const again = (await store.claimWebhooks(8000, 100_000, 100)).find((c) => c.taskId === ok.id);
      assert.deepEqual(again, { taskId: ok.id, url: withHook.callbackUrl, attempts: 2 });
      assert.equal(await store.finishWebhook(ok.id, 2, { status: 'delivered', at: 8100 }), true);
      assert.equal((await store.webhookOf(ok.id))?.status, 'delivered');
      assert.ok(!(await store.claimWebhooks(Number.MAX_SAFE_INTEGER - 1, Number.MAX_SAFE_INTEGER, 1000)).some((c) => c.taskId === ok.id), 'delivered is never claimed');
      // Purging the task forgets its delivery.
      await store.delete(bad.id);
      assert.equal(await store.webhookOf(bad.id), undefined);
    });

    it('concurrent claims never hand the same delivery to two claimers', async () => {
      const key = await newKey(store, 1000);
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) {
        const t = await store.create({ id: randomUUID(), keyId: key.id, createdAt: Date.now(), request: { ...request, callbackUrl: 'http://127.0.0.1:9/x' }, source: { kind: 'file', blob: 'inputs/x' }, credits: 1 });
        await store.transition(t.id, STATE.FAILED, { completedAt: 1 });
        ids.push(t.id);
      }
      const batches = await Promise.all(Array.from({ length: 6 }, () => store.claimWebhooks(2, 1_000_000, 5)));
      const mine = batches.flat().filter((c) => ids.includes(c.taskId));
      assert.equal(new Set(mine.map((c) => c.taskId)).size, mine.length, 'no delivery claimed twice');
      assert.equal(mine.length, 20);
    });

    it('keys: lookup by hash, credits never below what is held, ledger of grants', async () => {
      const hash = randomUUID();
      const key = await newKey(store, 4, hash);
      assert.deepEqual([(await store.findByHash(hash))?.id, (await store.findByHash(hash))?.hash], [key.id, hash]);
      assert.equal(await store.findByHash('no-such-hash'), undefined);
      await newTask(store, key.id, 3);
      assert.equal(await store.addCredits(key.id, -2, 'adjust'), undefined, '4 - 2 < 3 held');
      const more = await store.addCredits(key.id, 10, 'grant');
      assert.equal(more?.credits, 14);
      const ledger = await store.ledger(key.id);
      assert.deepEqual(
        ledger.map((l) => [l.reason, l.delta]),
        [
          ['grant', 4],
          ['grant', 10],
        ],
      );
      assert.ok((await store.listKeys()).some((k) => k.id === key.id));
    });
  });
}
