import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EnginePool } from '../src/engine/engine-pool.js';
import { startTestServer, stopTestServer, type TestServer } from './helpers/server.js';
import { createMultipart, getTask, json, pollUntilSettled } from './helpers/client.js';
import { photo } from './helpers/images.js';
import { TEST_DATA_DIR } from './helpers/paths.js';

/** Money and time: concurrent debits, timeouts that really cancel, progress. */
let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(() => stopTestServer(server));

describe('credits under concurrency', () => {
  it('one key, many parallel requests: holds never exceed the balance, each success debited once', async () => {
    const { key, record } = await server.service.keys.create('concurrent', 7);
    const image = await photo(24, 24);
    const responses = await Promise.all(Array.from({ length: 6 }, () => createMultipart(server, {}, image, key).then(json)));
    const accepted = responses.filter((r) => r.http === 200);
    const refused = responses.filter((r) => r.http === 402);
    assert.equal(accepted.length, 3, '7 credits hold three 2-credit tasks');
    assert.equal(refused.length, 3);
    for (const r of accepted) assert.equal((await pollUntilSettled(server, r.body.data.task_id as string, key)).body.data.state, 1);
    const after = (await server.service.keys.resolve(key))!;
    assert.deepEqual([after.credits, after.held], [1, 0]);
    const debits = (await server.service.store.ledger(record.id)).filter((l) => l.reason === 'debit');
    assert.equal(debits.length, 3);
    assert.equal(new Set(debits.map((d) => d.taskId)).size, 3, 'one debit per task');
  });
});

describe('processing timeout and progress', () => {
  let slow: TestServer;
  let steady: TestServer;
  let engine: EnginePool;
  before(async () => {
    // Small tiles: many steps, so progress and cancellation are observable.
    engine = await EnginePool.start({ dataDir: TEST_DATA_DIR, threads: 2, concurrency: 1, preload: ['fast'], tuning: { tileSize: 48 } });
    slow = await startTestServer({ CLEARSHOT_TASK_TIMEOUT_S: '2' }, { engine });
    steady = await startTestServer({}, { engine });
  });
  after(async () => {
    await slow?.stop();
    await steady?.stop();
    await engine?.close();
  });

  it('progress really advances while processing', async () => {
    // 8 x 6 tiles of 48 px: seconds of work, so a poller sees progress advance even on a loaded machine.
    const created = await json(await createMultipart(steady, { scale_factor: '4' }, await photo(384, 288)));
    const seen = new Set<number>();
    for (;;) {
      const r = await getTask(steady, created.body.data.task_id as string);
      seen.add(r.body.data.progress as number);
      if (r.body.data.state === 1) break;
      assert.ok((r.body.data.state as number) >= 0, JSON.stringify(r.body.data));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const intermediate = [...seen].filter((p) => p > 0 && p < 100);
    assert.ok(intermediate.length >= 2, `progress seen: ${[...seen].join(', ')}`);
  });

  it('a task past the timeout ends in -8, stops between tiles, and the worker takes the next task', async () => {
    const created = await json(await createMultipart(slow, { scale_factor: '4', model: 'quality' }, await photo(160, 160)));
    const done = await pollUntilSettled(slow, created.body.data.task_id as string);
    assert.equal(done.body.data.state, -8);
    assert.match(done.body.data.state_detail as string, /^Processing timeout: processing took longer than 2 s/);
    assert.ok((done.body.data.progress as number) < 60, `stopped early, at ${done.body.data.progress}%`);
    const next = await json(await createMultipart(slow, { sync: '1', scale_factor: '1' }, await photo(40, 40)));
    assert.equal(next.body.data.state, 1);
  });
});
