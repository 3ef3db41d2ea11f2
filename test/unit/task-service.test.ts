import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, describe, it } from 'node:test';
import { SqliteStore } from '../../src/db/sqlite-store.js';
import { probeImage } from '../../src/engine/image/probe.js';
import { ClearShotError } from '../../src/errors/index.js';
import { EmbeddedQueue } from '../../src/queue/embedded-queue.js';
import { UrlSigner } from '../../src/storage/signed-url.js';
import { STATE, type Task, type TaskRequest } from '../../src/tasks/task.js';
import { TaskService } from '../../src/tasks/task-service.js';
import { MemoryBlobStore, PLAIN_REQUEST, T0, HOUR, alive, jpeg } from '../helpers/unit-fakes.js';

/**
 * TaskService (src/tasks/task-service.ts) on real in-memory collaborators: SQLite in
 * memory, the embedded queue (not started, so what was enqueued stays visible as its
 * depth), an in-memory blob store, the real probe and URL signer. No model, no server.
 */

const request: TaskRequest = PLAIN_REQUEST;

const opened: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of opened.splice(0)) await close();
});

/** All the wiring in one place (adapt here when the constructors change). */
async function harness(options: { credits?: number; retentionMs?: number } = {}) {
  const clock = { now: T0 };
  const store = new SqliteStore(':memory:');
  const blobs = new MemoryBlobStore();
  const queue = new EmbeddedQueue({ concurrency: 1 });
  const signer = new UrlSigner(['unit-secret'], 'http://clearshot.test');
  const service = new TaskService({
    tasks: store,
    blobs,
    queue,
    signer,
    probe: probeImage,
    config: { resultTtlMs: HOUR, retentionMs: options.retentionMs ?? HOUR },
    now: () => clock.now,
  });
  const key = await store.createKey({ id: 'key_a', name: 'a', hash: 'hash_a', credits: options.credits ?? 10, createdAt: 0 });
  const other = await store.createKey({ id: 'key_b', name: 'b', hash: 'hash_b', credits: 10, createdAt: 0 });
  const held = async (id = key.id) => {
    const k = (await store.findById(id))!;
    return { credits: k.credits, held: k.held };
  };
  opened.push(async () => {
    service.stopWaiting();
    await queue.stop(0);
    await store.close();
  });
  return { clock, store, blobs, queue, signer, service, key, other, held };
}


type Harness = Awaited<ReturnType<typeof harness>>;

/** Moves a task to success the way the processor does, with a stored result. */
async function succeed(h: Harness, task: Task, bytes: Uint8Array, expiresAt = h.clock.now + HOUR): Promise<Task> {
  const blob = `results/${task.id}.jpg`;
  await h.blobs.put(blob, bytes, 'image/jpeg');
  await h.store.transition(task.id, STATE.PREPARING, { processedAt: h.clock.now });
  await h.store.transition(task.id, STATE.PROCESSING);
  const done = await h.store.complete(task.id, { blob, contentType: 'image/jpeg', width: 128, height: 96, bytes: bytes.length, expiresAt }, { completedAt: h.clock.now });
  assert.ok(done);
  return done;
}

describe('TaskService', () => {
  it('create from a file: queued, its price held, the input stored under inputs/<id>, enqueued in the key\'s group', async () => {
    const h = await harness();
    const bytes = await jpeg(64, 48);
    const task = await h.service.create(h.key, request, { kind: 'file', bytes });
    assert.deepEqual([task.state, task.credits, task.charged, task.keyId, task.createdAt], [STATE.QUEUED, 2, false, 'key_a', T0]);
    assert.deepEqual(task.source, { kind: 'file', blob: `inputs/${task.id}` });
    assert.deepEqual(task.input, { width: 64, height: 48, format: 'jpeg' });
    assert.deepEqual(await h.held(), { credits: 10, held: 2 });
    assert.deepEqual(h.blobs.keys(), [`inputs/${task.id}`]);
    assert.deepEqual(Buffer.from((await h.blobs.get(`inputs/${task.id}`))!), bytes);
    assert.equal(await h.queue.depth(), 1);
    // The job is the task: enqueueing it again (recovery) adds nothing.
    await h.queue.enqueue(task.id, { group: 'key_a' });
    assert.equal(await h.queue.depth(), 1);
  });

  it('create from a file over 2048 px holds 3 credits', async () => {
    const h = await harness();
    const task = await h.service.create(h.key, request, { kind: 'file', bytes: await jpeg(2100, 16) });
    assert.equal(task.credits, 3);
    assert.deepEqual(await h.held(), { credits: 10, held: 3 });
  });

  it('create with an invalid image: the task exists and failed -7, nothing held, no blob, nothing enqueued', async () => {
    const h = await harness();
    const task = await h.service.create(h.key, request, { kind: 'file', bytes: new TextEncoder().encode('this is not an image') });
    assert.deepEqual([task.state, task.errorCode, task.credits, task.charged], [STATE.INVALID_IMAGE, 'INVALID_IMAGE', 0, false]);
    assert.match(task.stateDetail, /^Invalid image: /);
    assert.equal(task.completedAt, T0);
    assert.deepEqual(await h.held(), { credits: 10, held: 0 });
    assert.deepEqual(h.blobs.keys(), []);
    assert.equal(await h.queue.depth(), 0);
    assert.equal((await h.service.get(h.key, task.id)).state, STATE.INVALID_IMAGE, 'it can be queried');
  });

  it('create with an image under the size limits fails -5 the same way', async () => {
    const h = await harness();
    const task = await h.service.create(h.key, request, { kind: 'file', bytes: await jpeg(8, 8) });
    assert.deepEqual([task.state, task.errorCode, task.credits], [STATE.TOO_LARGE, 'IMAGE_TOO_SMALL', 0]);
    assert.deepEqual(h.blobs.keys(), []);
  });

  it('create when the key cannot pay: refused, and the stored input is removed again', async () => {
    const h = await harness({ credits: 1 });
    await assert.rejects(h.service.create(h.key, request, { kind: 'file', bytes: await jpeg(64, 48) }), (e: unknown) => e instanceof ClearShotError && e.code === 'INSUFFICIENT_CREDITS');
    assert.deepEqual(h.blobs.keys(), []);
    assert.deepEqual(await h.held(), { credits: 1, held: 0 });
    assert.equal(await h.queue.depth(), 0);
  });

  it('create from a URL: 2 credits held before the size is known, no blob, enqueued', async () => {
    const h = await harness();
    const task = await h.service.create(h.key, request, { kind: 'url', url: 'http://example.com/a.jpg' });
    assert.deepEqual([task.state, task.credits, task.input], [STATE.QUEUED, 2, undefined]);
    assert.deepEqual(task.source, { kind: 'url', url: 'http://example.com/a.jpg' });
    assert.deepEqual(await h.held(), { credits: 10, held: 2 });
    assert.deepEqual(h.blobs.keys(), []);
    assert.equal(await h.queue.depth(), 1);
  });

  it('get(): the owner sees the task; someone else, an unknown id or a malformed one get NOT_FOUND', async () => {
    const h = await harness();
    const task = await h.service.create(h.key, request, { kind: 'file', bytes: await jpeg(64, 48) });
    assert.equal((await h.service.get(h.key, task.id)).id, task.id);
    const notFound = (e: unknown) => e instanceof ClearShotError && e.code === 'NOT_FOUND' && e.httpStatus === 404;
    await assert.rejects(h.service.get(h.other, task.id), notFound);
    await assert.rejects(h.service.get(h.key, randomUUID()), notFound);
    await assert.rejects(h.service.get(h.key, "x' OR 1=1 --"), notFound);
  });

  it('view(): an open task reads state 4 with its phase; a queued one says how many are ahead', async () => {
    const h = await harness();
    const bytes = await jpeg(64, 48);
    const first = await h.service.create(h.key, request, { kind: 'file', bytes });
    h.clock.now += 1000;
    const second = await h.service.create(h.key, request, { kind: 'file', bytes });

    const queued = await h.service.view(second);
    assert.deepEqual(
      [queued.state, queued.phase, queued.phase_state, queued.state_detail, queued.progress, queued.task_id, queued.created_at, queued.input_width, queued.input_height],
      [4, 'queued', 0, 'Queued: 1 ahead', 0, second.id, Math.floor((T0 + 1000) / 1000), 64, 48],
    );
    assert.equal((await h.service.view(first)).state_detail, 'Queued: 0 ahead');
    assert.equal(queued.image, undefined);

    const preparing = (await h.store.transition(first.id, STATE.PREPARING, { processedAt: T0 + 5000 }))!;
    const p = await h.service.view(preparing);
    assert.deepEqual([p.state, p.phase, p.phase_state, p.state_detail, p.processed_at], [4, 'preparing', 2, 'Preparing', Math.floor((T0 + 5000) / 1000)]);
    assert.equal((await h.service.view(second)).state_detail, 'Queued: 0 ahead', 'a task being prepared is out of the line');

    const processing = (await h.store.transition(first.id, STATE.PROCESSING))!;
    await h.store.setProgress(first.id, 37);
    const v = await h.service.view((await h.store.get(processing.id))!);
    assert.deepEqual([v.state, v.phase, v.phase_state, v.state_detail, v.progress], [4, 'processing', 4, 'Processing', 37]);
  });

  it('view(): success with return_type 1 gives a signed result URL that verifies, the result size and the price', async () => {
    const h = await harness();
    const task = await h.service.create(h.key, request, { kind: 'file', bytes: await jpeg(64, 48) });
    const result = await jpeg(128, 96);
    const done = await succeed(h, task, result);
    const v = await h.service.view(done);
    assert.deepEqual([v.state, v.progress, v.image_width, v.image_height, v.credits, v.completed_at, v.phase], [1, 100, 128, 96, 2, Math.floor(T0 / 1000), undefined]);
    const url = new URL(v.image!);
    assert.equal(url.origin + url.pathname, `http://clearshot.test/results/${task.id}.jpg`);
    assert.equal(h.signer.verify(`${task.id}.jpg`, url.searchParams.get('expires') ?? undefined, url.searchParams.get('signature') ?? undefined, T0), 'ok');
    assert.equal(Number(url.searchParams.get('expires')), Math.floor((T0 + HOUR) / 1000));
    assert.deepEqual(await h.held(), { credits: 8, held: 0 }, 'debited on success');
  });

  it('view(): success with return_type 2 inlines the result as base64', async () => {
    const h = await harness();
    const task = await h.service.create(h.key, { ...request, returnType: 2 }, { kind: 'file', bytes: await jpeg(64, 48) });
    const result = await jpeg(128, 96);
    const v = await h.service.view(await succeed(h, task, result));
    assert.equal(v.return_type, 2);
    assert.deepEqual(Buffer.from(v.image!, 'base64'), result);
  });

  it('view(): a failed task reads its failure state as it is, without a phase', async () => {
    const h = await harness();
    const task = await h.service.create(h.key, request, { kind: 'file', bytes: await jpeg(64, 48) });
    const failed = (await h.service.fail(task.id, new ClearShotError('TIMEOUT', 'too slow')))!;
    const v = await h.service.view(failed);
    assert.deepEqual([v.state, v.state_detail, v.phase, v.image], [-8, 'Processing timeout: too slow', undefined, undefined]);
    assert.deepEqual(await h.held(), { credits: 10, held: 0 }, 'the hold is released');
  });

  it('waitForSettled: returns the open task when the timeout passes', async () => {
    const h = await harness();
    const task = await h.service.create(h.key, request, { kind: 'file', bytes: await jpeg(64, 48) });
    const started = Date.now();
    const after = await alive(h.service.waitForSettled(task.id, 150));
    const waited = Date.now() - started;
    assert.equal(after.state, STATE.QUEUED);
    assert.ok(waited >= 140 && waited < 900, `waited ${waited} ms`);
  });

  it('waitForSettled: wakes up at once when the task settles in this process, and on stopWaiting()', async () => {
    const h = await harness();
    const task = await h.service.create(h.key, request, { kind: 'file', bytes: await jpeg(64, 48) });
    const started = Date.now();
    const waiting = h.service.waitForSettled(task.id, 30_000);
    setTimeout(() => void h.service.fail(task.id, new ClearShotError('INVALID_IMAGE', 'bad')), 50);
    const settled = await alive(waiting);
    assert.equal(settled.state, STATE.INVALID_IMAGE);
    assert.ok(Date.now() - started < 900, 'woken by the event, not by the 1 s poll');

    const open = await h.service.create(h.key, request, { kind: 'file', bytes: await jpeg(64, 48) });
    const released = h.service.waitForSettled(open.id, 30_000);
    const t = Date.now();
    setTimeout(() => h.service.stopWaiting(), 20);
    assert.equal((await alive(released)).state, STATE.QUEUED);
    assert.ok(Date.now() - t < 900);
    await assert.rejects(h.service.waitForSettled(randomUUID(), 10), (e: unknown) => e instanceof ClearShotError && e.code === 'NOT_FOUND');
  });

  it('sweep: deletes expired results, then purges finished tasks after the retention, by the injected clock', async () => {
    const h = await harness({ retentionMs: 2 * HOUR });
    const bytes = await jpeg(64, 48);
    const task = await h.service.create(h.key, request, { kind: 'file', bytes });
    await succeed(h, task, await jpeg(128, 96), T0 + HOUR);
    await h.blobs.delete(task.source.kind === 'file' ? task.source.blob : ''); // the processor drops the input at the end
    const failed = await h.service.create(h.key, request, { kind: 'file', bytes: new Uint8Array([1, 2, 3]) });
    const open = await h.service.create(h.key, request, { kind: 'file', bytes });

    assert.deepEqual(await h.service.sweep(), { expired: 0, purged: 0 }, 'nothing is due at T0');
    h.clock.now = T0 + HOUR;
    assert.deepEqual(await h.service.sweep(), { expired: 1, purged: 0 });
    assert.deepEqual(h.blobs.keys(), [`inputs/${open.id}`], 'the result file is gone');
    const expired = (await h.store.get(task.id))!;
    assert.deepEqual([expired.state, expired.result], [STATE.SUCCESS, undefined]);
    assert.equal((await h.service.view(expired)).image, undefined);

    h.clock.now = T0 + 2 * HOUR - 1;
    assert.deepEqual(await h.service.sweep(), { expired: 0, purged: 0 }, 'still within the retention');
    h.clock.now = T0 + 2 * HOUR;
    assert.deepEqual(await h.service.sweep(), { expired: 0, purged: 2 });
    assert.equal(await h.store.get(task.id), undefined);
    assert.equal(await h.store.get(failed.id), undefined);
    assert.equal((await h.store.get(open.id))?.state, STATE.QUEUED, 'an open task is never purged');
    assert.deepEqual(h.blobs.keys(), [`inputs/${open.id}`]);
  });

  it('a task recorded while the queue is unreachable is still answered with its id, keeps its input, and runs once reconcile enqueues it', async () => {
    const h = await harness();
    const real = h.queue.enqueue.bind(h.queue);
    let down = true;
    h.queue.enqueue = async (id, options) => {
      if (down) throw new Error('connect ECONNREFUSED 127.0.0.1:6379');
      return real(id, options);
    };
    const task = await h.service.create(h.key, request, { kind: 'file', bytes: await jpeg(64, 48) });
    assert.equal(task.state, STATE.QUEUED);
    assert.deepEqual(h.blobs.keys(), [`inputs/${task.id}`]);
    assert.deepEqual(await h.held(), { credits: 10, held: 2 });
    assert.equal(await h.queue.depth(), 0);
    const byUrl = await h.service.create(h.key, request, { kind: 'url', url: 'http://example.com/a.jpg' });
    assert.equal(byUrl.state, STATE.QUEUED);
    down = false;
    h.clock.now = T0 + 120_000;
    assert.equal(await h.service.reconcile(60_000, 600_000), 2);
    assert.equal(await h.queue.depth(), 2);
  });

  it('reconcile: re-enqueues a task queued too long, puts a stale active task back in the queue, leaves fresh ones', async () => {
    const h = await harness();
    // Recorded in the store but never enqueued (a lost job).
    const create = (createdAt: number) => h.store.create({ id: randomUUID(), keyId: h.key.id, createdAt, request, source: { kind: 'url', url: 'http://example.com/a.jpg' }, credits: 2 });
    const lost = await create(T0);
    const stuck = await create(T0);
    await h.store.transition(stuck.id, STATE.PREPARING, { processedAt: T0 });
    await h.store.transition(stuck.id, STATE.PROCESSING);
    const fresh = await create(T0 + 50_000);
    await h.store.transition(fresh.id, STATE.PREPARING, { processedAt: T0 + 50_000 });

    h.clock.now = T0 + 60_000;
    assert.equal(await h.service.reconcile(30_000, 30_000), 2);
    assert.equal(await h.queue.depth(), 2);
    const s = (await h.store.get(stuck.id))!;
    assert.deepEqual([s.state, s.attempts, s.progress], [STATE.QUEUED, 1, 0]);
    assert.equal((await h.store.get(lost.id))!.attempts, 0);
    assert.equal((await h.store.get(fresh.id))!.state, STATE.PREPARING);
    // Idempotent for the queue: the jobs exist, a second pass adds none.
    assert.equal(await h.service.reconcile(30_000, 30_000), 2);
    assert.equal(await h.queue.depth(), 2);
  });

  it('recover: embedded mode puts active tasks back and enqueues every queued one', async () => {
    const h = await harness();
    const a = await h.store.create({ id: randomUUID(), keyId: h.key.id, createdAt: T0, request, source: { kind: 'url', url: 'http://example.com/a.jpg' }, credits: 2 });
    const b = await h.store.create({ id: randomUUID(), keyId: h.key.id, createdAt: T0 + 1, request, source: { kind: 'url', url: 'http://example.com/b.jpg' }, credits: 2 });
    await h.store.transition(a.id, STATE.PREPARING, { processedAt: T0 });
    assert.equal(await h.service.recover(false), 1, 'scale-out: only the queued one');
    assert.equal((await h.store.get(a.id))!.state, STATE.PREPARING);
    assert.equal(await h.service.recover(true), 2);
    assert.deepEqual([(await h.store.get(a.id))!.state, (await h.store.get(b.id))!.state], [STATE.QUEUED, STATE.QUEUED]);
    assert.equal(await h.queue.depth(), 2);
  });
});
