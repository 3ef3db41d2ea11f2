import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { SqliteStore } from '../src/db/sqlite-store.js';
import { probeImage } from '../src/engine/image/probe.js';
import type { Engine } from '../src/engine/local-engine.js';
import { ClearShotError } from '../src/errors/index.js';
import { EmbeddedQueue } from '../src/queue/embedded-queue.js';
import type { BlobStore } from '../src/storage/blob-store.js';
import { FsBlobStore } from '../src/storage/fs-blob-store.js';
import { UrlSigner } from '../src/storage/signed-url.js';
import { TaskService } from '../src/tasks/task-service.js';
import { TaskProcessor } from '../src/worker/task-processor.js';
import { createMultipart, json } from './helpers/client.js';
import { photo } from './helpers/images.js';
import { closeTestEngine, startTestServer, testEngine, type TestServer } from './helpers/server.js';

/** Issue 13, item 6: the smaller findings, each observed through the real thing. */
let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'clearshot-misc-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
  await closeTestEngine();
});

/** A pino logger whose JSON lines land in `lines`. */
function capture(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

describe('request logs and router errors', () => {
  let server: TestServer;
  const log = capture();
  before(async () => {
    server = await startTestServer({}, { logger: log.logger });
  });
  after(() => server?.stop());

  it('query strings (a key, a result URL signature) never reach the log', async () => {
    const created = await json(await createMultipart(server, { sync: '1', scale_factor: '1' }, await photo(16, 16)));
    const image = created.body.data.image as string;
    const signature = new URL(image).searchParams.get('signature')!;
    assert.equal((await fetch(image)).status, 200);
    await fetch(`${server.url}/api/tasks/visual/scale/${created.body.data.task_id as string}?api_key=${server.key}`);
    await new Promise((r) => setTimeout(r, 100));
    const text = JSON.stringify(log.lines);
    assert.ok(text.includes('/results/'), 'the result request is logged');
    assert.ok(!text.includes(signature), 'no signature in the log');
    assert.ok(!text.includes(server.key), 'no API key in the log');
    assert.ok(log.lines.some((l) => typeof (l.req as { url?: string } | undefined)?.url === 'string' && (l.req as { url: string }).url.endsWith('?…')));
  });

  it('an over-long task id (414) and a bad % escape (400) answer in the envelope', async () => {
    const long = await json(await fetch(`${server.url}/api/tasks/visual/scale/${'a'.repeat(300)}`, { headers: { 'X-API-KEY': server.key } }));
    assert.deepEqual([long.http, long.body.status, long.body.message, long.body.data], [414, 414, 'the URL is too long', {}]);
    for (const path of ['/api/tasks/visual/scale/%zz', '/results/%E0%A4%A.png']) {
      const bad = await json(await fetch(`${server.url}${path}`, { headers: { 'X-API-KEY': server.key } }));
      assert.deepEqual([bad.http, bad.body.status, bad.body.data], [400, 400, {}], path);
      assert.match(bad.body.message, /bad % escape/);
    }
  });

  it('a client that aborts its upload is a note in the log, not an unhandled error with a stack', async () => {
    const before = log.lines.length;
    const port = Number(new URL(server.url).port);
    const socket = connect(port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    socket.write(
      `POST /api/tasks/visual/scale HTTP/1.1\r\nHost: x\r\nX-API-KEY: ${server.key}\r\nContent-Type: multipart/form-data; boundary=xyz\r\nContent-Length: 100000\r\n\r\n` +
        '--xyz\r\nContent-Disposition: form-data; name="image_file"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n' +
        'x'.repeat(2000),
    );
    await new Promise((r) => setTimeout(r, 300));
    socket.destroy();
    const deadline = Date.now() + 5000;
    const note = () => log.lines.slice(before).find((l) => l.msg === 'client closed the connection before the request was read');
    while (!note() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const fresh = log.lines.slice(before);
    assert.ok(note(), `logged: ${JSON.stringify(fresh)}`);
    assert.equal(note()!.level, 30);
    assert.deepEqual(fresh.filter((l) => (l.level as number) >= 50), [], 'nothing at error level');
  });
});

describe('/metrics with CLEARSHOT_METRICS_TOKEN', () => {
  it('401 in the envelope without or with a wrong bearer token, 200 with it', async () => {
    const server = await startTestServer({ CLEARSHOT_METRICS_TOKEN: 'metrics-token-0123456789' });
    try {
      const none = await json(await fetch(`${server.url}/metrics`));
      assert.deepEqual([none.http, none.body.status], [401, 401]);
      assert.equal(none.headers.get('www-authenticate'), 'Bearer');
      const wrong = await fetch(`${server.url}/metrics`, { headers: { authorization: 'Bearer nope' } });
      assert.equal(wrong.status, 401);
      const ok = await fetch(`${server.url}/metrics`, { headers: { authorization: 'Bearer metrics-token-0123456789' } });
      assert.equal(ok.status, 200);
      assert.match(await ok.text(), /clearshot_http_requests_total/);
    } finally {
      await server.stop();
    }
  });
});

describe('storage failures', () => {
  it('FsBlobStore.put into a path whose directory is a file fails as STORAGE_FAILED (not a cleanup error)', async () => {
    const root = join(dir, 'blobs-notdir');
    const blobs: BlobStore = new FsBlobStore(root);
    await blobs.put('marker', new Uint8Array([1]), 'application/octet-stream');
    await writeFile(join(root, 'results'), 'a file where a directory should be');
    await assert.rejects(blobs.put('results/x.jpg', new Uint8Array([1, 2, 3]), 'image/jpeg'), (e: unknown) => e instanceof ClearShotError && e.code === 'STORAGE_FAILED');
  });

  /** A real file store whose first `failures` result writes fail (`Infinity`: all). */
  function flaky(failures: number): BlobStore & { resultPuts: number } {
    const inner: BlobStore = new FsBlobStore(join(dir, `blobs-${Math.random()}`));
    const store = {
      resultPuts: 0,
      put: async (key: string, data: Uint8Array, type: string) => {
        if (key.startsWith('results/') && ++store.resultPuts <= failures) throw new ClearShotError('STORAGE_FAILED', 'disk full (injected)');
        return inner.put(key, data, type);
      },
      get: (key: string) => inner.get(key),
      delete: (key: string) => inner.delete(key),
    };
    return store;
  }

  async function runOnce(failures: number): Promise<{ state: number; enhances: number; resultPuts: number; outcome: string; credits: number }> {
    const store = new SqliteStore(join(dir, `db-${Math.random()}.sqlite`));
    const blobs = flaky(failures);
    const real = await testEngine();
    let enhances = 0;
    const engine: Engine = { enhance: (b, o) => (enhances++, real.enhance(b, o)), close: async () => undefined };
    const service = new TaskService({ tasks: store, blobs, queue: new EmbeddedQueue({ concurrency: 1 }), signer: new UrlSigner(['s'.repeat(40)], 'http://127.0.0.1'), probe: probeImage, config: { resultTtlMs: 60_000, retentionMs: 60_000 } });
    const key = await store.createKey({ id: 'k', name: 'k', hash: 'h', credits: 100, createdAt: 0 });
    const task = await service.create(key, { returnType: 1, sync: false, type: 'clean', model: 'fast', scale: 1, keepGps: false }, { kind: 'file', bytes: await photo(16, 16) });
    const processor = new TaskProcessor({
      tasks: store,
      blobs,
      engine,
      service,
      probe: probeImage,
      config: { taskTimeoutMs: 60_000, resultTtlMs: 60_000, maxAttempts: 3, storeRetryDelayMs: 10, fetch: { timeoutMs: 1000, maxBytes: 1e6, maxRedirects: 0, maxUrlLength: 512, allowPrivate: false } },
    });
    const outcome = await processor.handle(task.id, new AbortController().signal);
    const done = (await store.get(task.id))!;
    const credits = (await store.findById('k'))!.credits;
    await store.close();
    return { state: done.state, enhances, resultPuts: blobs.resultPuts, outcome, credits };
  }

  it('a result store that fails twice is retried in place: one inference, then success', async () => {
    assert.deepEqual(await runOnce(2), { state: 1, enhances: 1, resultPuts: 3, outcome: 'done', credits: 98 });
  });

  it('a result store that always fails ends in state -2 after maxAttempts tries, one inference, nothing charged', async () => {
    assert.deepEqual(await runOnce(Infinity), { state: -2, enhances: 1, resultPuts: 3, outcome: 'done', credits: 100 });
  });
});
