import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { startTestServer, stopTestServer, type TestServer } from './helpers/server.js';
import { createForm, createJson, createMultipart, getTask, json, pollUntilSettled } from './helpers/client.js';
import { photo, sizeOf } from './helpers/images.js';

/** What a PicWish client does, end to end over real HTTP, with the real model. */
let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(() => stopTestServer(server));

describe('PicWish client flow', () => {
  it('create async, poll until state 1, download the URL, size = input x scale', async () => {
    const input = await photo(40, 30, 'jpeg');
    const before = Math.floor(Date.now() / 1000);
    const created = await json(await createMultipart(server, { scale_factor: '2' }, input));
    assert.deepEqual([created.http, created.body.status, created.body.message], [200, 200, 'success']);
    const taskId = created.body.data.task_id as string;
    const done = await pollUntilSettled(server, taskId);
    const d = done.body.data;
    assert.equal(done.http, 200);
    assert.equal(d.state, 1);
    assert.equal(d.state_detail, 'Complete');
    assert.equal(d.progress, 100);
    assert.equal(d.task_id, taskId);
    assert.equal(d.return_type, 1);
    for (const t of ['created_at', 'processed_at', 'completed_at'] as const) {
      assert.equal(typeof d[t], 'number', t);
      assert.ok((d[t] as number) >= before - 1 && (d[t] as number) <= before + 120, `${t} is Unix seconds`);
    }
    assert.ok((d.created_at as number) <= (d.processed_at as number) && (d.processed_at as number) <= (d.completed_at as number));
    assert.deepEqual([d.image_width, d.image_height, d.input_width, d.input_height, d.credits], [80, 60, 40, 30, 2]);
    const url = d.image as string;
    assert.match(url, new RegExp(`^${server.url}/results/${taskId}\\.jpg\\?expires=\\d+&signature=[0-9a-f]{64}$`));
    const file = await fetch(url);
    assert.equal(file.status, 200);
    assert.equal(file.headers.get('content-type'), 'image/jpeg');
    assert.deepEqual(await sizeOf(new Uint8Array(await file.arrayBuffer())), { width: 80, height: 60, format: 'jpeg' });
  });

  it('auto scale follows the long edge', async () => {
    const created = await json(await createMultipart(server, {}, await photo(30, 20)));
    const d = (await pollUntilSettled(server, created.body.data.task_id as string)).body.data;
    assert.deepEqual([d.image_width, d.image_height], [120, 80]);
  });
});

describe('sync requests, each return_type', () => {
  it('return_type 1: the full task with a URL', async () => {
    const r = await json(await createMultipart(server, { sync: '1', return_type: '1', scale_factor: '1' }, await photo(32, 24)));
    assert.equal(r.http, 200);
    assert.equal(r.body.data.state, 1);
    assert.match(r.body.data.image as string, /^http:\/\/127\.0\.0\.1:\d+\/results\//);
  });

  it('return_type 2: base64 of the image', async () => {
    const r = await json(await createMultipart(server, { sync: '1', return_type: '2', scale_factor: '2' }, await photo(32, 24)));
    assert.equal(r.body.data.state, 1);
    const bytes = Buffer.from(r.body.data.image as string, 'base64');
    assert.deepEqual(await sizeOf(bytes), { width: 64, height: 48, format: 'png' });
    // A later GET still returns base64.
    const again = await getTask(server, r.body.data.task_id as string);
    assert.equal(again.body.data.image, r.body.data.image);
  });

  it('return_type 3: the image bytes with their Content-Type', async () => {
    const res = await createMultipart(server, { sync: '1', return_type: '3', scale_factor: '4', format: 'webp' }, await photo(20, 15));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/webp');
    assert.match(res.headers.get('x-task-id') ?? '', /^[0-9a-f-]{36}$/);
    assert.deepEqual(await sizeOf(new Uint8Array(await res.arrayBuffer())), { width: 80, height: 60, format: 'webp' });
  });

  it('return_type 3 on failure: a JSON error envelope with the task', async () => {
    const r = await json(await createMultipart(server, { sync: '1', return_type: '3' }, Buffer.from('this is not an image')));
    assert.equal(r.http, 400);
    assert.equal(r.body.status, 400);
    assert.equal(r.body.data.state, -7);
    assert.match(r.body.message, /^Invalid image: invalid image file/);
  });
});

describe('body encodings', () => {
  it('JSON and urlencoded bodies carry image_url (a failed download gives state -3)', async () => {
    for (const res of [await createJson(server, { image_url: 'http://127.0.0.1:9/none.jpg', sync: 1 }), await createForm(server, { image_url: 'http://127.0.0.1:9/none.jpg', sync: '1' })]) {
      const r = await json(res);
      assert.equal(r.http, 200);
      assert.equal(r.body.data.state, -3);
      assert.match(r.body.data.state_detail as string, /^Download failed: image_url is not allowed: 127\.0\.0\.1 resolves to a private or reserved address/);
    }
  });
});

describe('failed tasks keep their state code', () => {
  it('over 4096 px: state -5; corrupt: state -7; too small: -5; no credits held', async () => {
    const wide = await sharp({ create: { width: 4097, height: 2, channels: 3, background: '#808080' } }).png().toBuffer();
    const cases: Array<[Uint8Array, number, RegExp]> = [
      [wide, -5, /^Image exceeds the limits: image is 4097x2; the limit is 4096x4096/],
      [Buffer.from('GIF89a and then nonsense'), -7, /^Invalid image: invalid image file/],
      [await photo(10, 10), -5, /long edge must be at least 11 px/],
    ];
    const keyBefore = (await server.service.keys.resolve(server.key))!;
    for (const [bytes, state, detail] of cases) {
      const created = await json(await createMultipart(server, {}, bytes));
      assert.equal(created.http, 200, 'the task is created, then fails');
      const r = await getTask(server, created.body.data.task_id as string);
      assert.equal(r.body.data.state, state);
      assert.match(r.body.data.state_detail as string, detail);
      assert.equal(r.body.data.image, undefined);
    }
    const keyAfter = (await server.service.keys.resolve(server.key))!;
    assert.equal(keyAfter.credits, keyBefore.credits, 'failures are free');
  });
});

describe('credits', () => {
  it('2 credits up to a 2048 px long edge, 3 above; debited once on success; 402 when broke', async () => {
    const { key } = await server.service.keys.create('pricing', 5);
    const small = await json(await createMultipart(server, { sync: '1', scale_factor: '1' }, await photo(2048, 4), key));
    assert.equal(small.body.data.credits, 2);
    const large = await json(await createMultipart(server, { sync: '1', scale_factor: '1' }, await photo(2049, 4), key));
    assert.equal(large.body.data.credits, 3);
    const k = (await server.service.keys.resolve(key))!;
    assert.deepEqual([k.credits, k.held], [0, 0]);
    const broke = await json(await createMultipart(server, {}, await photo(20, 20), key));
    assert.deepEqual([broke.http, broke.body.status], [402, 402]);
    assert.match(broke.body.message, /not enough credits: this image costs 2, the key has 0 available/);
    const ledger = await server.service.store.ledger(k.id);
    assert.deepEqual(
      ledger.map((l) => [l.reason, l.delta]),
      [
        ['grant', 5],
        ['debit', -2],
        ['debit', -3],
      ],
    );
  });
});

describe('result expiry and purge (injected clock)', () => {
  it('URL works for an hour, then 410; the sweeper deletes the file; the task is purged after retention', async () => {
    const r = await json(await createMultipart(server, { sync: '1' }, await photo(16, 16)));
    const url = r.body.data.image as string;
    const taskId = r.body.data.task_id as string;
    assert.equal((await fetch(url)).status, 200);
    const tampered = url.replace(/signature=./, (m) => (m.endsWith('0') ? `${m.slice(0, -1)}1` : `${m.slice(0, -1)}0`));
    assert.equal((await fetch(tampered)).status, 403);
    assert.equal((await fetch(url.replace(/\?.*$/, ''))).status, 403);

    server.advance(3600 * 1000 + 1000);
    const expired = await json(await fetch(url));
    assert.equal(expired.http, 410);
    const swept = await server.service.sweep();
    assert.ok(swept.expired >= 1 && swept.purged >= 1, JSON.stringify(swept));
    assert.equal((await getTask(server, taskId)).http, 404, 'purged after the 1 h retention');
  });
});
