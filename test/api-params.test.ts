import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, stopTestServer, type TestServer } from './helpers/server.js';
import { createForm, createJson, createMultipart, getTask, json } from './helpers/client.js';
import { photo } from './helpers/images.js';

/** Every parameter rule, auth, and the request-level limits, over real HTTP. */
let server: TestServer;
let image: Buffer;
before(async () => {
  server = await startTestServer();
  image = await photo(24, 16);
});
after(() => stopTestServer(server));

async function expect400(res: Response, field: RegExp) {
  const r = await json(res);
  assert.equal(r.http, 400, JSON.stringify(r.body));
  assert.equal(r.body.status, 400);
  assert.match(r.body.message, field);
  assert.deepEqual(r.body.data, {});
}

describe('POST parameters', () => {
  it('exactly one of image_url and image_file', async () => {
    await expect400(await createMultipart(server, {}), /one of image_url, image_file or image_base64 is required/);
    await expect400(await createMultipart(server, { image_url: 'https://example.com/a.jpg' }, image), /exactly one of image_url, image_file and image_base64, not image_url and image_file/);
    await expect400(await createJson(server, {}), /one of image_url, image_file or image_base64 is required/);
    await expect400(await createForm(server, { image_file: 'not a file' }), /image_file must be sent as a file part/);
    await expect400(await createMultipart(server, {}, new Uint8Array(0)), /image_file is empty/);
  });

  it('sync, type, scale_factor, return_type and extensions are range-checked by name', async () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ sync: '2' }, /expected 0 or 1 for sync but received "2"/],
      [{ sync: 'yes' }, /for sync/],
      [{ type: 'portrait' }, /expected clean or face for type but received "portrait"/],
      [{ scale_factor: '3' }, /expected 1, 2, 4 or empty \(auto\) for scale_factor but received "3"/],
      [{ scale_factor: '8' }, /scale_factor/],
      [{ return_type: '4' }, /for return_type but received "4"/],
      [{ return_type: '3' }, /return_type 3 \(binary\) is only available with sync=1/],
      [{ return_type: '3', sync: '0' }, /return_type 3/],
      [{ model: 'huge' }, /expected fast or quality for model/],
      [{ format: 'gif' }, /expected jpg, png, webp or tiff for format/],
      [{ keep_gps: '2' }, /for keep_gps/],
      [{ strength: '1.5' }, /expected a number from 0 to 1 or auto for strength but received "1.5"/],
      [{ strength: '-0.1' }, /for strength/],
      [{ strength: 'strong' }, /for strength/],
      [{ strength: '0x1' }, /for strength/],
      [{ face_strength: '2' }, /expected a number from 0 to 1 for face_strength but received "2"/],
      [{ face_strength: 'auto' }, /for face_strength/],
      [{ fix_face_only: 'yes' }, /expected 0 or 1 for fix_face_only/],
      [{ precision: 'fp16' }, /expected auto, fp32 or int8 for precision but received "fp16"/],
      [{ precision: 'INT8' }, /for precision/],
    ];
    for (const [fields, message] of cases) await expect400(await createMultipart(server, fields, image), message);
  });

  it('strength and the input analysis travel to task data (extension)', async () => {
    for (const [fields, expected] of [
      [{ strength: '0.3' }, { strength: 0.3, strength_auto: false }],
      [{ strength: 'auto' }, { strength_auto: true }],
      [{}, { strength_auto: true }],
    ] as const) {
      const r = await json(await createMultipart(server, { sync: '1', ...fields }, image));
      assert.equal(r.http, 200, JSON.stringify(r.body));
      assert.equal(r.body.data.state, 1);
      for (const [k, v] of Object.entries(expected)) assert.equal(r.body.data[k], v, k);
      assert.equal(typeof r.body.data.strength, 'number');
      const analysis = r.body.data.analysis as Record<string, unknown>;
      assert.equal(typeof analysis.noise, 'number');
      assert.equal(typeof analysis.sharpness, 'number');
      assert.ok("jpeg_quality" in analysis);
    }
  });

  it('a repeated field is refused by name, in multipart as in urlencoded bodies', async () => {
    const form = new FormData();
    form.append('sync', '1');
    form.append('sync', '0');
    form.append('image_file', new Blob([image]), 'photo.png');
    const post = (body: FormData | URLSearchParams) => fetch(`${server.url}/api/tasks/visual/scale`, { method: 'POST', headers: { 'X-API-KEY': server.key }, body });
    await expect400(await post(form), /expected one value for sync but received 2 values/);
    await expect400(await post(new URLSearchParams([['image_url', 'https://example.com/a.jpg'], ['sync', '1'], ['sync', '0']])), /for sync but received/);
    const two = new FormData();
    two.append('image_file', new Blob([image]), 'a.png');
    two.append('image_file', new Blob([image]), 'b.png');
    await expect400(await post(two), /expected one image_file part but received more than one/);
  });

  it('image_url must be http(s), at most 512 characters, without credentials', async () => {
    await expect400(await createJson(server, { image_url: 'ftp://example.com/a.jpg' }), /image_url must be an http or https URL/);
    await expect400(await createJson(server, { image_url: `https://example.com/${'a'.repeat(500)}.jpg` }), /image_url is longer than 512 characters/);
    await expect400(await createJson(server, { image_url: 'https://user:pw@example.com/a.jpg' }), /must not contain credentials/);
    await expect400(await createJson(server, { image_url: 'not a url' }), /not a valid URL/);
  });

  it('accepts every valid value (JSON numbers, form strings, empty scale_factor = auto)', async () => {
    const valid: Array<Record<string, string>> = [
      { sync: '0', type: 'clean', scale_factor: '', return_type: '1' },
      { type: 'face', scale_factor: '2', return_type: '2', model: 'fast', format: 'webp' },
      { precision: 'auto' },
      { precision: 'fp32' },
    ];
    for (const fields of valid) {
      const r = await json(await createMultipart(server, fields, image));
      assert.equal(r.http, 200, JSON.stringify(r.body));
      assert.match(r.body.data.task_id as string, /^[0-9a-f-]{36}$/);
    }
    const r = await json(await createJson(server, { image_url: 'https://example.com/a.jpg', sync: 0, scale_factor: 4, return_type: 1 }));
    assert.equal(r.http, 200);
  });

  it('refuses a body that is not an object, and an unknown content type', async () => {
    const res = await fetch(`${server.url}/api/tasks/visual/scale`, { method: 'POST', headers: { 'X-API-KEY': server.key, 'content-type': 'application/json' }, body: '[1,2]' });
    await expect400(res, /body must be a JSON object/);
    const xml = await fetch(`${server.url}/api/tasks/visual/scale`, { method: 'POST', headers: { 'X-API-KEY': server.key, 'content-type': 'text/xml' }, body: '<a/>' });
    await expect400(xml, /unsupported Content-Type/);
  });

  it('a malformed multipart body is a 400, not a server error', async () => {
    const post = (contentType: string, body: string) =>
      fetch(`${server.url}/api/tasks/visual/scale`, { method: 'POST', headers: { 'X-API-KEY': server.key, 'content-type': contentType }, body });
    await expect400(await post('multipart/form-data', 'junk'), /malformed multipart\/form-data body/);
    const cut = '--XX\r\ncontent-disposition: form-data; name="image_file"; filename="a.png"\r\n\r\nabc';
    await expect400(await post('multipart/form-data; boundary=XX', cut), /malformed multipart\/form-data body/);
  });
});

describe('auth', () => {
  it('missing, unknown and disabled keys get 401 with the envelope', async () => {
    const missing = await json(await fetch(`${server.url}/api/tasks/visual/scale/00000000-0000-0000-0000-000000000000`));
    assert.deepEqual([missing.http, missing.body.status, missing.body.message], [401, 401, 'missing X-API-KEY header']);
    const unknown = await getTask(server, '00000000-0000-0000-0000-000000000000', 'cs_nope');
    assert.equal(unknown.http, 401);
    const { key } = await server.service.keys.create('to-disable', 10);
    await server.service.keys.disable(key);
    const disabled = await json(await createMultipart(server, {}, image, key));
    assert.deepEqual([disabled.http, disabled.body.message], [401, 'this API key is disabled']);
  });

  it('a task is visible only to the key that created it', async () => {
    const created = await json(await createMultipart(server, {}, image));
    const { key: other } = await server.service.keys.create('other', 10);
    const r = await getTask(server, created.body.data.task_id as string, other);
    assert.equal(r.http, 404);
    assert.equal((await getTask(server, 'not-a-uuid')).http, 404);
  });
});

describe('request limits', () => {
  it('a 21 MB upload gets 413 without being read to the end', async () => {
    const big = new Uint8Array(21 * 1024 * 1024);
    big.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const r = await json(await createMultipart(server, {}, big));
    assert.deepEqual([r.http, r.body.status], [413, 413]);
    assert.match(r.body.message, /exceeds the size limit/);
  });

  it('unknown routes get 404 with the envelope', async () => {
    const r = await json(await fetch(`${server.url}/api/nope`));
    assert.deepEqual([r.http, r.body.status], [404, 404]);
  });
});

describe('rate limit', () => {
  it('answers 429 with Retry-After past 2 creations per second, per key', async () => {
    const limited = await startTestServer({ CLEARSHOT_RATE_LIMIT: '2' });
    try {
      const results = [];
      for (let i = 0; i < 4; i++) results.push(await json(await createMultipart(limited, {}, image)));
      assert.deepEqual(
        results.map((r) => r.http),
        [200, 200, 429, 429],
      );
      assert.equal(results[2]!.body.status, 429);
      assert.ok(Number(results[2]!.headers.get('retry-after')) >= 1);
      // Another key has its own allowance.
      const { key } = await limited.service.keys.create('second', 10);
      assert.equal((await createMultipart(limited, {}, image, key)).status, 200);
    } finally {
      await limited.stop();
    }
  });
});

describe('operability endpoints', () => {
  it('/healthz, /openapi.json, /docs and /metrics', async () => {
    const health = await json(await fetch(`${server.url}/healthz`));
    assert.equal(health.body.status, 200);
    const spec = (await (await fetch(`${server.url}/openapi.json`)).json()) as { openapi: string; paths: Record<string, Record<string, { requestBody?: unknown }>> };
    assert.equal(spec.openapi, '3.1.0');
    assert.ok(spec.paths['/api/tasks/visual/scale']?.post?.requestBody, 'create body documented');
    const post = spec.paths['/api/tasks/visual/scale']!.post as { requestBody: { content: Record<string, { schema: { properties: Record<string, unknown> } }> }; callbacks?: Record<string, unknown> };
    for (const field of ['image_base64', 'callback_url']) assert.ok(post.requestBody.content['application/json']!.schema.properties[field], field);
    assert.ok(post.callbacks?.taskEnded, 'the webhook is documented as a callback');
    assert.ok(spec.paths['/api/tasks/visual/scale/{task_id}/events']?.get, 'the progress stream is documented');
    assert.ok(spec.paths['/api/tasks/visual/scale/{task_id}']?.get);
    const docs = await fetch(`${server.url}/docs/`);
    assert.equal(docs.status, 200);
    assert.match(await docs.text(), /swagger/i);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    for (const name of ['clearshot_http_requests_total', 'clearshot_task_duration_seconds', 'clearshot_queue_depth', 'clearshot_credits_debited_total']) assert.match(metrics, new RegExp(name));
  });

  it('echoes a request id', async () => {
    const res = await fetch(`${server.url}/healthz`, { headers: { 'x-request-id': 'abc-123' } });
    assert.equal(res.headers.get('x-request-id'), 'abc-123');
  });
});
