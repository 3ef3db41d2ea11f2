import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import sharp from 'sharp';
import { SqliteStore } from '../../src/db/sqlite-store.js';
import { probeImage } from '../../src/engine/image/probe.js';
import { ClearShotError } from '../../src/errors/index.js';
import { EmbeddedQueue } from '../../src/queue/embedded-queue.js';
import { UrlSigner } from '../../src/storage/signed-url.js';
import { STATE, type Task, type TaskRequest } from '../../src/tasks/task.js';
import { TaskService } from '../../src/tasks/task-service.js';
import { TaskProcessor } from '../../src/worker/task-processor.js';
import { FakeEngine, MemoryBlobStore, PLAIN_REQUEST, T0, HOUR, alive, jpeg } from '../helpers/unit-fakes.js';

/**
 * TaskProcessor (src/worker/task-processor.ts) with a fake engine (no model) and real
 * in-memory collaborators: SQLite in memory, the embedded queue, an in-memory blob
 * store, the real probe. Tasks are created through TaskService as the routes do.
 */

const request: TaskRequest = PLAIN_REQUEST;

const opened: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of opened.splice(0)) await close();
});


/** All the wiring in one place (adapt here when the constructors change). */
async function harness(options: { credits?: number; maxAttempts?: number; taskTimeoutMs?: number } = {}) {
  const clock = { now: T0 };
  const store = new SqliteStore(':memory:');
  const blobs = new MemoryBlobStore();
  const queue = new EmbeddedQueue({ concurrency: 1, retryDelayMs: 5 });
  const engine = new FakeEngine();
  const service = new TaskService({
    tasks: store,
    blobs,
    queue,
    signer: new UrlSigner(['unit-secret'], 'http://clearshot.test'),
    probe: probeImage,
    config: { resultTtlMs: HOUR, retentionMs: HOUR },
    now: () => clock.now,
  });
  const settled: Array<[number, number]> = [];
  const logged: string[] = [];
  const processor = new TaskProcessor({
    tasks: store,
    blobs,
    engine,
    service,
    probe: probeImage,
    config: {
      taskTimeoutMs: options.taskTimeoutMs ?? 10_000,
      resultTtlMs: HOUR,
      maxAttempts: options.maxAttempts ?? 3,
      fetch: { timeoutMs: 5000, maxBytes: 20 * 2 ** 20, maxRedirects: 2, maxUrlLength: 512, allowPrivate: true },
      progressIntervalMs: 0,
      storeRetryDelayMs: 1,
    },
    now: () => clock.now,
    log: (_obj, msg) => logged.push(msg),
    onSettled: (task, seconds) => settled.push([task.state, seconds]),
  });
  const key = await store.createKey({ id: 'key_a', name: 'a', hash: 'hash_a', credits: options.credits ?? 10, createdAt: 0 });
  const balance = async () => {
    const k = (await store.findById(key.id))!;
    return { credits: k.credits, held: k.held };
  };
  const fromFile = async (bytes?: Uint8Array, req: TaskRequest = request) => service.create(key, req, { kind: 'file', bytes: bytes ?? (await jpeg(64, 48)) });
  const handle = (id: string, shutdown = new AbortController().signal) => alive(processor.handle(id, shutdown));
  const task = async (id: string): Promise<Task> => (await store.get(id))!;
  opened.push(async () => {
    service.stopWaiting();
    await queue.stop(0);
    await store.close();
  });
  return { clock, store, blobs, queue, engine, service, processor, key, balance, fromFile, handle, task, settled, logged };
}

/** Serves one body at /image over loopback. */
async function serve(body: Uint8Array): Promise<{ url: string; hits: () => number }> {
  let hits = 0;
  const server: Server = createServer((_req, res) => {
    hits++;
    res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': body.length });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  opened.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/image`, hits: () => hits };
}

const fail = (code: ConstructorParameters<typeof ClearShotError>[0]) => ({ kind: 'fail' as const, error: new ClearShotError(code, `injected ${code}`) });

describe('TaskProcessor', () => {
  it('success, through the queue: result stored, task SUCCESS with the result, credits debited, input deleted', async () => {
    const h = await harness();
    await h.queue.start((id, signal) => h.processor.handle(id, signal));
    h.clock.now = T0 + 5000;
    const created = await h.fromFile(await jpeg(64, 48));
    const done = await alive(h.service.waitForSettled(created.id, 10_000));

    assert.deepEqual([done.state, done.progress, done.charged, done.attempts, done.stateDetail], [STATE.SUCCESS, 100, true, 0, 'Complete']);
    const blob = `results/${created.id}.jpg`;
    assert.deepEqual(done.result, { blob, contentType: 'image/jpeg', width: 128, height: 96, bytes: h.blobs.objects.get(blob)!.data.length, expiresAt: T0 + 5000 + HOUR });
    assert.deepEqual(h.blobs.keys(), [blob], 'the input is gone, the result is kept');
    const meta = await sharp(h.blobs.objects.get(blob)!.data).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 128, 96]);
    assert.equal(h.blobs.objects.get(blob)!.contentType, 'image/jpeg');
    assert.deepEqual(await h.balance(), { credits: 8, held: 0 });
    assert.deepEqual([done.processedAt, done.completedAt], [T0 + 5000, T0 + 5000]);
    assert.deepEqual(done.input, { width: 64, height: 48, format: 'jpeg' });
    assert.deepEqual(done.notes, ['fake engine']);
    assert.deepEqual([done.extra?.strength, done.extra?.strength_auto, (done.extra?.analysis as { jpeg_quality: number }).jpeg_quality], [0.75, true, 80]);
    assert.deepEqual(h.settled, [[STATE.SUCCESS, 0]]);
    assert.equal(h.engine.calls.length, 1);
    assert.equal((await h.store.ledger(h.key.id)).filter((l) => l.reason === 'debit').length, 1);
  });

  it('hands the request to the engine as asked', async () => {
    const h = await harness();
    const t = await h.fromFile(undefined, { ...request, type: 'face', scale: 4, model: 'quality', format: 'png', keepGps: true, strength: 0.4, faceStrength: 0.6 });
    assert.equal(await h.handle(t.id), 'done');
    const o = h.engine.calls[0]!.options;
    assert.deepEqual([o.kind, o.scale, o.model, o.format, o.keepGps, o.strength, o.faceStrength, o.signal instanceof AbortSignal], ['face', 4, 'quality', 'png', true, 0.4, 0.6, true]);
    assert.equal((await h.task(t.id)).result?.width, 256);
    const f = await h.fromFile(undefined, { ...request, fixFaceOnly: true });
    await h.handle(f.id);
    assert.equal(h.engine.calls[1]!.options.kind, 'face', 'fix_face_only implies the face step');
  });

  it('a retryable failure goes back to the queue, its attempt counted, until maxAttempts, then fails', async () => {
    const h = await harness({ maxAttempts: 3 });
    h.engine.behaviours = [fail('MODEL_FAILURE')];
    const t = await h.fromFile();

    assert.equal(await h.handle(t.id), 'retry');
    let now = await h.task(t.id);
    assert.deepEqual([now.state, now.attempts, now.progress, now.charged], [STATE.QUEUED, 1, 0, false]);
    assert.deepEqual(await h.balance(), { credits: 10, held: 2 }, 'still held');
    assert.deepEqual(h.blobs.keys(), [`inputs/${t.id}`], 'the input is kept for the next try');

    assert.equal(await h.handle(t.id), 'retry');
    assert.equal((await h.task(t.id)).attempts, 2);
    assert.equal(await h.handle(t.id), 'done');
    now = await h.task(t.id);
    assert.deepEqual([now.state, now.errorCode, now.attempts, now.charged], [STATE.FAILED, 'MODEL_FAILURE', 2, false]);
    assert.match(now.stateDetail, /^Failed: injected MODEL_FAILURE/);
    assert.deepEqual(await h.balance(), { credits: 10, held: 0 }, 'the hold is released');
    assert.deepEqual(h.blobs.keys(), []);
    assert.equal(h.engine.calls.length, 3);
    assert.deepEqual(h.settled.map(([s]) => s), [STATE.FAILED]);
  });

  it('a retryable failure then a success, through the queue: one debit, the attempt counted', async () => {
    const h = await harness({ maxAttempts: 3 });
    h.engine.behaviours = [fail('INTERNAL'), { kind: 'ok' }];
    await h.queue.start((id, signal) => h.processor.handle(id, signal));
    const t = await h.fromFile();
    const done = await alive(h.service.waitForSettled(t.id, 10_000));
    assert.deepEqual([done.state, done.attempts, h.engine.calls.length], [STATE.SUCCESS, 1, 2]);
    assert.deepEqual(await h.balance(), { credits: 8, held: 0 });
  });

  it('retries through the queue stop at maxAttempts', async () => {
    const h = await harness({ maxAttempts: 2 });
    h.engine.behaviours = [fail('MODEL_FAILURE')];
    await h.queue.start((id, signal) => h.processor.handle(id, signal));
    const t = await h.fromFile();
    const done = await alive(h.service.waitForSettled(t.id, 10_000));
    assert.deepEqual([done.state, done.errorCode, done.attempts, h.engine.calls.length], [STATE.FAILED, 'MODEL_FAILURE', 1, 2]);
  });

  it('a non-retryable failure fails at once with the state its code maps to', async () => {
    const cases: Array<[Parameters<typeof fail>[0], number]> = [
      ['IMAGE_TOO_LARGE', STATE.TOO_LARGE],
      ['INVALID_IMAGE', STATE.INVALID_IMAGE],
      ['MODEL_CONVERSION', STATE.FAILED],
    ];
    for (const [code, state] of cases) {
      const h = await harness();
      h.engine.behaviours = [fail(code)];
      const t = await h.fromFile();
      assert.equal(await h.handle(t.id), 'done', code);
      const after = await h.task(t.id);
      assert.deepEqual([after.state, after.errorCode, after.attempts, h.engine.calls.length], [state, code, 0, 1], code);
      assert.deepEqual(await h.balance(), { credits: 10, held: 0 });
      assert.deepEqual(h.blobs.keys(), []);
    }
  });

  it('a task that runs past its deadline fails -8', async () => {
    const h = await harness({ taskTimeoutMs: 100 });
    h.engine.behaviours = [{ kind: 'hang' }];
    const t = await h.fromFile();
    const started = Date.now();
    assert.equal(await h.handle(t.id), 'done');
    assert.ok(Date.now() - started < 2000);
    const after = await h.task(t.id);
    assert.deepEqual([after.state, after.errorCode, after.attempts], [STATE.TIMEOUT, 'TIMEOUT', 0]);
    assert.equal(after.stateDetail, 'Processing timeout: processing took longer than 0.1 s');
    assert.deepEqual(await h.balance(), { credits: 10, held: 0 });
    assert.deepEqual(h.blobs.keys(), []);
  });

  it('shutdown puts the task back in the queue untouched: no attempt, still held, input kept', async () => {
    const h = await harness();
    h.engine.behaviours = [{ kind: 'hang' }];
    const t = await h.fromFile();
    const stop = new AbortController();
    const started = h.engine.started();
    const outcome = h.handle(t.id, stop.signal);
    await started;
    stop.abort();
    assert.equal(await outcome, 'retry');
    const after = await h.task(t.id);
    assert.deepEqual([after.state, after.attempts, after.progress, after.charged, after.errorCode, after.result], [STATE.QUEUED, 0, 0, false, undefined, undefined]);
    assert.deepEqual(await h.balance(), { credits: 10, held: 2 });
    assert.deepEqual(h.blobs.keys(), [`inputs/${t.id}`]);
    assert.deepEqual(h.settled, []);

    // The next start runs it to the end.
    h.engine.behaviours = [{ kind: 'ok' }];
    assert.equal(await h.handle(t.id), 'done');
    assert.equal((await h.task(t.id)).state, STATE.SUCCESS);
  });

  it('storing the result is retried without running the engine again; when every try fails the task fails -2', async () => {
    const h = await harness({ maxAttempts: 3 });
    h.blobs.failPuts('results/', Infinity);
    const t = await h.fromFile();
    const puts = h.blobs.puts;
    assert.equal(await h.handle(t.id), 'done');
    const after = await h.task(t.id);
    assert.deepEqual([after.state, after.errorCode, after.attempts, after.charged], [STATE.STORE_FAILED, 'STORAGE_FAILED', 0, false]);
    assert.equal(h.blobs.puts - puts, 3, 'maxAttempts tries of the store');
    assert.equal(h.engine.calls.length, 1, 'the inference ran once');
    assert.deepEqual(await h.balance(), { credits: 10, held: 0 });
    assert.deepEqual(h.blobs.keys(), []);
  });

  it('a store that fails twice and then works: success, one inference', async () => {
    const h = await harness({ maxAttempts: 3 });
    h.blobs.failPuts('results/', 2);
    const t = await h.fromFile();
    assert.equal(await h.handle(t.id), 'done');
    assert.deepEqual([(await h.task(t.id)).state, h.engine.calls.length], [STATE.SUCCESS, 1]);
    assert.deepEqual(h.blobs.keys(), [`results/${t.id}.jpg`]);
    assert.equal(h.logged.filter((m) => m.startsWith('storing the result failed')).length, 2);
  });

  it('a URL image larger than 2048 px raises the hold to 3, or fails when the key cannot cover it', async () => {
    const big = await jpeg(2100, 16);
    const server = await serve(big);

    const poor = await harness({ credits: 2 });
    const t = await poor.service.create(poor.key, request, { kind: 'url', url: server.url });
    assert.deepEqual(await poor.balance(), { credits: 2, held: 2 });
    assert.equal(await poor.handle(t.id), 'done');
    const refused = await poor.task(t.id);
    assert.deepEqual([refused.state, refused.errorCode, refused.charged], [STATE.FAILED, 'INSUFFICIENT_CREDITS', false]);
    assert.match(refused.stateDetail, /2100 px long edge costs 3/);
    assert.deepEqual(await poor.balance(), { credits: 2, held: 0 });
    assert.equal(poor.engine.calls.length, 0, 'refused before any inference');

    const rich = await harness({ credits: 5 });
    const u = await rich.service.create(rich.key, { ...request, scale: 1 }, { kind: 'url', url: server.url });
    assert.equal(await rich.handle(u.id), 'done');
    const done = await rich.task(u.id);
    assert.deepEqual([done.state, done.credits, done.input?.width, done.result?.width], [STATE.SUCCESS, 3, 2100, 2100]);
    assert.deepEqual(await rich.balance(), { credits: 2, held: 0 });
    assert.deepEqual(rich.blobs.keys(), [`results/${u.id}.jpg`], 'a URL input is never stored');
    assert.equal(server.hits(), 2);
  });

  it('takes over a task whose worker died (still active), counting the attempt; past maxAttempts it fails', async () => {
    const h = await harness({ maxAttempts: 2 });
    const t = await h.fromFile();
    await h.store.transition(t.id, STATE.PREPARING, { processedAt: T0 });
    await h.store.transition(t.id, STATE.PROCESSING);
    assert.equal(await h.handle(t.id), 'done');
    const done = await h.task(t.id);
    assert.deepEqual([done.state, done.attempts], [STATE.SUCCESS, 1]);

    const u = await h.fromFile();
    await h.store.transition(u.id, STATE.PREPARING, { processedAt: T0 });
    await h.store.transition(u.id, STATE.QUEUED, { countAttempt: true });
    await h.store.transition(u.id, STATE.PREPARING, { processedAt: T0 });
    assert.equal(await h.handle(u.id), 'skipped');
    const failed = await h.task(u.id);
    assert.deepEqual([failed.state, failed.errorCode], [STATE.FAILED, 'INTERNAL']);
  });

  it('skips a task that is gone or already finished', async () => {
    const h = await harness();
    assert.equal(await h.handle('00000000-0000-4000-8000-000000000000'), 'skipped');
    const t = await h.fromFile();
    assert.equal(await h.handle(t.id), 'done');
    assert.equal(await h.handle(t.id), 'skipped');
    assert.equal(h.engine.calls.length, 1);
    assert.deepEqual(await h.balance(), { credits: 8, held: 0 }, 'never charged twice');
  });
});
