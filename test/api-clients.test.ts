import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { decodeBase64Image } from '../src/http/base64-image.js';
import { ClearShotError } from '../src/errors/index.js';
import { startTestServer, stopTestServer, type TestServer } from './helpers/server.js';
import { createForm, createJson, createMultipart, getTask, json, pollUntilSettled } from './helpers/client.js';
import { photo, sizeOf } from './helpers/images.js';

/** What published PicWish clients send: image_base64, untyped JSON, polling while state is 4. */
let server: TestServer;
let image: Buffer;
before(async () => {
  server = await startTestServer();
  image = await photo(24, 16);
});
after(() => stopTestServer(server));

const post = (body: string | Uint8Array | FormData | URLSearchParams, headers: Record<string, string> = {}) =>
  fetch(`${server.url}/api/tasks/visual/scale`, { method: 'POST', headers: { 'X-API-KEY': server.key, ...headers }, body });

async function expectStatus(res: Response, status: number, message: RegExp) {
  const r = await json(res);
  assert.equal(r.http, status, JSON.stringify(r.body).slice(0, 300));
  assert.equal(r.body.status, status);
  assert.match(r.body.message, message);
}

describe('image_base64', () => {
  it('raw base64 in JSON, a data URI in multipart, line-wrapped base64 in urlencoded: each is the image', async () => {
    const b64 = image.toString('base64');
    const wrapped = b64.replace(/(.{76})/g, '$1\r\n');
    const answers = [
      await json(await createJson(server, { image_base64: b64, sync: 1, return_type: 2, scale_factor: 2 })),
      await json(await createMultipart(server, { image_base64: `data:image/png;base64,${b64}`, sync: '1', return_type: '2', scale_factor: '2' })),
      await json(await createForm(server, { image_base64: wrapped, sync: '1', return_type: '2', scale_factor: '2' })),
    ];
    for (const r of answers) {
      assert.equal(r.http, 200, JSON.stringify(r.body).slice(0, 300));
      const d = r.body.data;
      assert.equal(d.state, 1, JSON.stringify(d).slice(0, 300));
      assert.deepEqual([d.input_width, d.input_height, d.image_width, d.image_height], [24, 16, 48, 32]);
      assert.deepEqual(await sizeOf(Buffer.from(d.image as string, 'base64')), { width: 48, height: 32, format: 'png' });
    }
  });

  it('is one of three sources: exactly one, named in the refusal', async () => {
    const b64 = image.toString('base64');
    await expectStatus(await createJson(server, { image_base64: b64, image_url: 'https://example.com/a.png' }), 400, /exactly one of image_url, image_file and image_base64, not image_url and image_base64/);
    await expectStatus(await createMultipart(server, { image_base64: b64 }, image), 400, /not image_file and image_base64/);
    const twice = new URLSearchParams([
      ['image_base64', b64],
      ['image_base64', b64],
    ]);
    await expectStatus(await post(twice), 400, /expected one value for image_base64 but received 2 values/);
  });

  it('malformed base64 or data URI is a 400 naming image_base64', async () => {
    const cases: Array<[string, RegExp]> = [
      ['not base64 at all!', /image_base64 is not valid base64/],
      ['QUJD$RA==', /image_base64 is not valid base64/],
      ['QUJDR', /image_base64 is not valid base64/],
      ['data:image/png,iVBORw0KGgo=', /image_base64 is a data URI without ;base64/],
      ['data:image/png;base64', /image_base64 is a data URI without a comma/],
      ['data:image/png;base64,', /image_base64 is empty/],
    ];
    for (const [value, message] of cases) {
      await expectStatus(await createJson(server, { image_base64: value }), 400, message);
      await expectStatus(await createMultipart(server, { image_base64: value }), 400, message);
    }
  });

  it('a decoded size over 20 MB is a 413 in every encoding; bodies far past 1 MB are fine below it', async () => {
    // 21 MB of bytes: over the limit once decoded.
    const big = Buffer.alloc(21 * 1024 * 1024, 7).toString('base64');
    await expectStatus(await createJson(server, { image_base64: big }), 413, /exceeds the size limit|decodes to more than the size limit/);
    await expectStatus(await createMultipart(server, { image_base64: big }), 413, /image_base64 decodes to more than the size limit \(20 MB\)/);
    await expectStatus(await createForm(server, { image_base64: big }), 413, /exceeds the size limit|decodes to more than the size limit/);
    // 5 MB: accepted as a body (a task is created), then refused as an image (state -7).
    const junk = Buffer.alloc(5 * 1024 * 1024, 1);
    junk.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const r = await json(await createJson(server, { image_base64: junk.toString('base64') }));
    assert.equal(r.http, 200, JSON.stringify(r.body));
    assert.equal((await getTask(server, r.body.data.task_id as string)).body.data.state, -7);
  });

  it('the size is judged from the text length before any decoding', () => {
    const limit = 1000;
    // Not base64 at all, but long enough to decode past the limit: the size answers first.
    assert.throws(
      () => decodeBase64Image('!'.repeat(2000), limit),
      (err: unknown) => err instanceof ClearShotError && err.code === 'FILE_TOO_LARGE' && err.httpStatus === 413,
    );
    assert.throws(() => decodeBase64Image('!'.repeat(1000), limit), (err: unknown) => err instanceof ClearShotError && err.code === 'BAD_PARAMETER');
    // Exactly at the limit decodes; one byte more does not.
    assert.equal(decodeBase64Image(Buffer.alloc(limit, 1).toString('base64'), limit).length, limit);
    assert.throws(() => decodeBase64Image(Buffer.alloc(limit + 1, 1).toString('base64'), limit), /size limit/);
    // URL-safe alphabet and missing padding are accepted.
    const bytes = Buffer.from([0xfb, 0xff, 0xfe, 0x01]);
    assert.deepEqual(Buffer.from(decodeBase64Image(bytes.toString('base64url'), limit)), bytes);
  });
});

describe('bodies without a Content-Type', () => {
  it('a JSON object is read as JSON; anything else is a clear 400', async () => {
    // A Uint8Array body makes fetch send no Content-Type at all.
    const body = new TextEncoder().encode(JSON.stringify({ image_base64: image.toString('base64'), sync: 1, scale_factor: 1 }));
    const r = await json(await post(body));
    assert.equal(r.http, 200, JSON.stringify(r.body).slice(0, 300));
    assert.equal(r.body.data.state, 1);
    await expectStatus(await post(new TextEncoder().encode('[1,2]')), 400, /without a Content-Type header must be a JSON object/);
    await expectStatus(await post(new TextEncoder().encode('image_url=https://example.com/a.png')), 400, /without a Content-Type header must be a JSON object/);
    await expectStatus(await post('<a/>', { 'content-type': 'text/xml' }), 400, /unsupported Content-Type/);
  });

  it("fetch with a string body and no headers of its own (text/plain;charset=UTF-8) is read as JSON", async () => {
    // The fetch standard gives a string body Content-Type: text/plain;charset=UTF-8.
    const res = await fetch(`${server.url}/api/tasks/visual/scale`, {
      method: 'POST',
      body: JSON.stringify({ image_base64: image.toString('base64'), sync: 1, scale_factor: 2 }),
      headers: { 'X-API-KEY': server.key },
    });
    const r = await json(res);
    assert.equal(r.http, 200, JSON.stringify(r.body).slice(0, 300));
    assert.equal(r.body.data.state, 1);
    assert.deepEqual([r.body.data.image_width, r.body.data.image_height], [48, 32]);
    // Other parameters of text/plain are fine too.
    const r2 = await json(await post(JSON.stringify({ image_base64: image.toString('base64'), sync: 1, scale_factor: 1 }), { 'content-type': 'Text/Plain; charset=us-ascii; format=flowed' }));
    assert.equal(r2.http, 200, JSON.stringify(r2.body).slice(0, 300));
    assert.equal(r2.body.data.state, 1);
  });

  it('a text/plain body that is not a JSON object is the same clear 400, naming the accepted types', async () => {
    for (const text of ['image_url=https://example.com/a.png', '[1,2]', '"a string"', '', '{"image_url": ']) {
      await expectStatus(await post(text, { 'content-type': 'text/plain;charset=UTF-8' }), 400, /text\/plain body must be a JSON object; otherwise send Content-Type: multipart\/form-data, application\/x-www-form-urlencoded or application\/json/);
    }
  });

  it('an empty Content-Type header (raw socket) is read like no Content-Type', async () => {
    const u = new URL(server.url);
    const raw = async (payload: string): Promise<{ status: number; body: string }> => {
      const { connect } = await import('node:net');
      return new Promise((resolve, reject) => {
        const socket = connect(Number(u.port), u.hostname, () => {
          socket.write(
            `POST /api/tasks/visual/scale HTTP/1.1\r\nHost: ${u.host}\r\nX-API-KEY: ${server.key}\r\nContent-Type: \r\nContent-Length: ${Buffer.byteLength(payload)}\r\nConnection: close\r\n\r\n${payload}`,
          );
        });
        let text = '';
        socket.setEncoding('utf8');
        socket.on('data', (c: string) => (text += c));
        socket.on('end', () => {
          const status = Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 0);
          resolve({ status, body: text.slice(text.indexOf('\r\n\r\n') + 4) });
        });
        socket.on('error', reject);
      });
    };
    const ok = await raw(JSON.stringify({ image_base64: image.toString('base64'), sync: 1, scale_factor: 1 }));
    assert.equal(ok.status, 200, ok.body.slice(0, 300));
    assert.match(ok.body, /"state":1/);
    const bad = await raw('image_url=https://example.com/a.png');
    assert.equal(bad.status, 400, bad.body.slice(0, 300));
    assert.match(bad.body, /without a Content-Type header must be a JSON object/);
  });

  it('header names are case-insensitive as before', async () => {
    const payload = JSON.stringify({ image_base64: image.toString('base64') });
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const u = new URL(`${server.url}/api/tasks/visual/scale`);
      const req = httpRequest({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST' }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      // Raw header names exactly as some clients spell them.
      req.setHeader('X-Api-KEY', server.key);
      req.setHeader('CONTENT-TYPE', 'Application/JSON');
      req.end(payload);
    });
    assert.equal(answer.status, 200, answer.body);
  });
});

describe('an open task reads state 4 in every phase', () => {
  it('queued and preparing tasks poll as state 4 with the phase in state_detail and phase; 1 and negatives unchanged', async () => {
    // One worker: a slow task holds it while a second one waits in line.
    const slow = await json(await createMultipart(server, { model: 'quality', scale_factor: '4' }, await photo(128, 128)));
    // Once the worker has taken it, the next tasks wait behind it.
    while ((await getTask(server, slow.body.data.task_id as string)).body.data.phase === 'queued') await new Promise((r) => setTimeout(r, 10));
    const queued = await json(await createMultipart(server, { scale_factor: '2' }, image));
    const third = await json(await createMultipart(server, { scale_factor: '2' }, image));
    const first = (await getTask(server, queued.body.data.task_id as string)).body.data;
    assert.equal(first.state, 4, JSON.stringify(first));
    assert.equal(first.phase, 'queued');
    assert.equal(first.phase_state, 0);
    // The slow task is being prepared or processed, not queued: nothing waits ahead.
    assert.match(first.state_detail as string, /^Queued: 0 ahead$/);
    assert.equal(first.progress, 0);
    assert.equal((await getTask(server, third.body.data.task_id as string)).body.data.state_detail, 'Queued: 1 ahead');

    // A client that polls only while state is 4 sees nothing else until the end.
    const seen = new Set<string>();
    const slowId = slow.body.data.task_id as string;
    const progress: number[] = [];
    for (;;) {
      const d = (await getTask(server, slowId)).body.data;
      if (d.state !== 4) {
        assert.equal(d.state, 1);
        assert.equal(d.phase, undefined, 'a finished task has no phase');
        assert.equal(d.state_detail, 'Complete');
        break;
      }
      seen.add(`${d.phase}/${d.phase_state}/${d.state_detail}`);
      progress.push(d.progress as number);
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(seen.has('processing/4/Processing'), [...seen].join(', '));
    for (const s of seen) assert.match(s, /^(queued\/0\/Queued: \d+ ahead|preparing\/2\/Preparing|processing\/4\/Processing)$/);
    assert.deepEqual(progress, [...progress].sort((a, b) => a - b), 'progress never goes back');
    assert.equal((await pollUntilSettled(server, queued.body.data.task_id as string)).body.data.state, 1);
    // Failures keep their negative codes.
    const bad = await json(await createJson(server, { image_base64: Buffer.from('not an image at all').toString('base64') }));
    const failed = (await getTask(server, bad.body.data.task_id as string)).body.data;
    assert.equal(failed.state, -7);
    assert.equal(failed.phase, undefined);
  });
});
