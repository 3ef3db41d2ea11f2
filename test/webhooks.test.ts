import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ServerResponse } from 'node:http';
import { SqliteStore } from '../src/db/sqlite-store.js';
import { postWebhook } from '../src/webhooks/deliver.js';
import { closeTestEngine, freePort, startTestServer, type TestServer } from './helpers/server.js';
import { createJson, createMultipart, getTask, json } from './helpers/client.js';
import { photo } from './helpers/images.js';
import { TEST_DATA_DIR } from './helpers/paths.js';
import { exited, spawnServer, waitHealthy } from './helpers/process.js';
import { startReceiver, type Received } from './helpers/receiver.js';

/**
 * callback_url webhooks against a real receiver on loopback. The private-address guard
 * is relaxed (CLEARSHOT_ALLOW_PRIVATE_URLS=1) only where a delivery must reach it.
 */
const SECRET = `whsec_${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`;

/** What a receiver does (the README's snippet): Standard Webhooks verification. */
function verify(secret: string, r: Received, toleranceS = 300): boolean {
  const id = r.headers['webhook-id'] as string;
  const timestamp = r.headers['webhook-timestamp'] as string;
  const signatures = (r.headers['webhook-signature'] as string).split(' ');
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > toleranceS) return false;
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const expected = Buffer.from(createHmac('sha256', key).update(`${id}.${timestamp}.${r.body}`).digest('base64'));
  return signatures.some((s) => {
    const given = Buffer.from(s.slice(s.indexOf(',') + 1));
    return s.startsWith('v1,') && given.length === expected.length && timingSafeEqual(given, expected);
  });
}

let image: Buffer;
before(async () => {
  image = await photo(24, 16);
});
after(() => closeTestEngine());

async function metric(server: TestServer, name: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`, 'gm'))) out[m[1] ?? ''] = Number(m[2]);
  return out;
}

async function settledDelivery(server: TestServer, taskId: string, status: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const w = await server.service.store.webhookOf(taskId);
    if (w?.status === status) return w;
    if (Date.now() > deadline) throw new Error(`webhook of ${taskId} is ${JSON.stringify(w)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('callback_url', () => {
  it('POSTs the final task view (the GET envelope) signed over id.timestamp.body, for success and failure, async and sync', async () => {
    const receiver = await startReceiver();
    const server = await startTestServer({ CLEARSHOT_ALLOW_PRIVATE_URLS: '1', CLEARSHOT_WEBHOOK_SECRET: SECRET });
    try {
      const ok = await json(await createMultipart(server, { callback_url: receiver.url, scale_factor: '2' }, image));
      const [hook] = await receiver.waitFor(1);
      const taskId = ok.body.data.task_id as string;
      assert.equal(hook!.headers['webhook-id'], taskId);
      assert.match(hook!.headers['webhook-timestamp'] as string, /^\d{10}$/);
      assert.match(hook!.headers['webhook-signature'] as string, /^v1,[A-Za-z0-9+/]{43}=$/);
      assert.equal(hook!.headers['content-type'], 'application/json');
      assert.ok(verify(SECRET, hook!), 'signature verifies');
      assert.ok(!verify(SECRET, { ...hook!, body: hook!.body.replace('"state":1', '"state":-1') }), 'a changed body does not');
      assert.ok(!verify(`whsec_${Buffer.from('another secret of 32 bytes......').toString('base64')}`, hook!), 'another secret does not');
      const got = await getTask(server, taskId);
      assert.deepEqual(JSON.parse(hook!.body), got.body, 'the same JSON as GET');
      assert.equal(got.body.data.state, 1);

      // A failure (state -7 at creation) and a sync task are called back too.
      const bad = await json(await createJson(server, { image_base64: Buffer.from('not an image').toString('base64'), callback_url: receiver.url }));
      const sync = await json(await createMultipart(server, { callback_url: receiver.url, sync: '1' }, image));
      assert.equal(sync.body.data.state, 1);
      const hooks = await receiver.waitFor(3);
      const byId = new Map(hooks.map((h) => [h.headers['webhook-id'], JSON.parse(h.body) as { data: { state: number } }]));
      assert.equal(byId.get(bad.body.data.task_id as string)?.data.state, -7);
      assert.equal(byId.get(sync.body.data.task_id as string)?.data.state, 1);
      for (const h of hooks) assert.ok(verify(SECRET, h));
      await settledDelivery(server, taskId, 'delivered');
      assert.equal((await metric(server, 'clearshot_webhook_attempts_total'))['{result="delivered"}'], 3);
    } finally {
      await server.stop();
      await receiver.close();
    }
  });

  it('retries after a 500 with the same webhook-id, then gives up after the last attempt', async () => {
    // First hook: 500 then 200. Second hook (another task): always 500.
    let failing = '';
    const receiver = await startReceiver((i, r, res) => {
      const id = r.headers['webhook-id'] as string;
      if (i === 0) return void res.writeHead(500).end('try later');
      res.writeHead(id === failing ? 503 : 200).end();
    });
    const server = await startTestServer({ CLEARSHOT_ALLOW_PRIVATE_URLS: '1', CLEARSHOT_WEBHOOK_SECRET: SECRET, CLEARSHOT_WEBHOOK_RETRY_S: '0.2,0.2' });
    try {
      const t = await json(await createMultipart(server, { callback_url: receiver.url }, image));
      const [first, second] = await receiver.waitFor(2);
      assert.equal(first!.headers['webhook-id'], t.body.data.task_id);
      assert.equal(second!.headers['webhook-id'], t.body.data.task_id, 'a retry keeps its id');
      assert.ok(verify(SECRET, first!) && verify(SECRET, second!));
      const w = await settledDelivery(server, t.body.data.task_id as string, 'delivered');
      assert.equal(w.attempts, 2);

      const doomed = await json(await createJson(server, { image_base64: Buffer.from('junk').toString('base64'), callback_url: receiver.url }));
      failing = doomed.body.data.task_id as string;
      const gaveUp = await settledDelivery(server, failing, 'failed');
      assert.deepEqual([gaveUp.attempts, gaveUp.lastError], [3, 'HTTP 503']);
      assert.equal(receiver.received.filter((r) => r.headers['webhook-id'] === failing).length, 3);
      const attempts = await metric(server, 'clearshot_webhook_attempts_total');
      assert.deepEqual([attempts['{result="delivered"}'], attempts['{result="http_error"}']], [1, 4]);
      const outcomes = await metric(server, 'clearshot_webhook_deliveries_total');
      assert.deepEqual([outcomes['{outcome="delivered"}'], outcomes['{outcome="failed"}']], [1, 1]);
    } finally {
      await server.stop();
      await receiver.close();
    }
  });

  it('never holds up the task or the other tasks: a receiver that does not answer changes nothing', async () => {
    const hanging: ServerResponse[] = [];
    const receiver = await startReceiver((_i, _r, res) => void hanging.push(res));
    const server = await startTestServer({ CLEARSHOT_ALLOW_PRIVATE_URLS: '1', CLEARSHOT_WEBHOOK_SECRET: SECRET });
    try {
      const a = await json(await createMultipart(server, { callback_url: receiver.url, sync: '1' }, image));
      assert.equal(a.body.data.state, 1);
      await receiver.waitFor(1);
      // The first callback is still unanswered while the next tasks run and finish.
      const b = await json(await createMultipart(server, { callback_url: receiver.url, sync: '1' }, image));
      const c = await json(await createMultipart(server, { sync: '1' }, image));
      assert.deepEqual([b.body.data.state, c.body.data.state], [1, 1]);
      assert.equal((await server.service.store.webhookOf(a.body.data.task_id as string))?.status, 'pending', 'the first callback is still unanswered');
    } finally {
      for (const r of hanging) r.destroy();
      await server.stop();
      await receiver.close();
    }
  });

  it('callback_url is checked at creation: http(s), 512 characters, no credentials, no private address', async () => {
    const server = await startTestServer({ CLEARSHOT_WEBHOOK_SECRET: SECRET });
    try {
      const cases: Array<[string, RegExp]> = [
        ['ftp://example.com/hook', /callback_url must be an http or https URL/],
        [`https://example.com/${'a'.repeat(510)}`, /callback_url is longer than 512 characters/],
        ['https://u:p@example.com/hook', /callback_url must not contain credentials/],
        ['not a url', /callback_url is not a valid URL/],
        ['http://127.0.0.1:9/hook', /callback_url is not allowed: 127\.0\.0\.1 resolves to a private or reserved address/],
        ['http://[::ffff:169.254.169.254]/hook', /callback_url is not allowed/],
        ['http://localhost:9/hook', /callback_url is not allowed: localhost resolves to a private or reserved address/],
      ];
      for (const [url, message] of cases) {
        const r = await json(await createMultipart(server, { callback_url: url }, image));
        assert.equal(r.http, 400, url);
        assert.match(r.body.message, message);
      }
    } finally {
      await server.stop();
    }
  });

  it('the guard applies again at delivery: a host that now resolves to loopback gets nothing', async () => {
    const receiver = await startReceiver();
    try {
      const port = new URL(receiver.url).port;
      const result = await postWebhook(`http://hooks.example.com:${port}/x`, '{}', {}, { allowPrivate: false, timeoutMs: 2000, resolve: async () => [{ address: '127.0.0.1', family: 4 }] });
      assert.deepEqual(result, { ok: false, kind: 'forbidden', error: 'callback_url is not allowed: hooks.example.com resolves to a private or reserved address' });
      // The same lookup with the guard relaxed does reach it (the pinned address is used).
      const relaxed = await postWebhook(`http://hooks.example.com:${port}/x`, '{}', {}, { allowPrivate: true, timeoutMs: 2000, resolve: async () => [{ address: '127.0.0.1', family: 4 }] });
      assert.deepEqual(relaxed, { ok: true, status: 200 });
      assert.equal(receiver.received.length, 1);
    } finally {
      await receiver.close();
    }
  });
});

describe('callback_url across a kill -9', () => {
  let dataDir: string;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'clearshot-webhook-'));
    await symlink(join(TEST_DATA_DIR, 'models'), join(dataDir, 'models'));
  });
  after(() => rm(dataDir, { recursive: true, force: true }));

  it('a delivery cut by SIGKILL is made again by the restarted server, signed with the generated, kept secret', async () => {
    const key = 'cs_webhook_kill_test_key_0123456789abcd';
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const start = (): ChildProcess =>
      spawnServer({
        DATA_DIR: dataDir,
        PORT: String(port),
        HOST: '127.0.0.1',
        PUBLIC_URL: base,
        CLEARSHOT_BOOTSTRAP_KEY: key,
        CLEARSHOT_THREADS: '2',
        CLEARSHOT_ALLOW_PRIVATE_URLS: '1',
        CLEARSHOT_WEBHOOK_TIMEOUT_S: '2',
        LOG_LEVEL: 'warn',
      });
    // The first delivery is held open: the server dies while it waits for the answer.
    const receiver = await startReceiver((i, _r, res) => {
      if (i > 0) res.writeHead(204).end();
    });
    let server = start();
    try {
      await waitHealthy(base, server);
      const form = new FormData();
      form.append('callback_url', receiver.url);
      form.append('image_file', new Blob([image]), 'a.png');
      const created = await json(await fetch(`${base}/api/tasks/visual/scale`, { method: 'POST', headers: { 'X-API-KEY': key }, body: form }));
      const taskId = created.body.data.task_id as string;
      await receiver.waitFor(1);
      server.kill('SIGKILL');
      await exited(server);

      server = start();
      await waitHealthy(base, server);
      const [first, second] = await receiver.waitFor(2, 60_000);
      const secret = (await readFile(join(dataDir, 'webhook-secret'), 'utf8')).trim();
      assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
      assert.equal(second!.headers['webhook-id'], taskId);
      assert.equal(first!.headers['webhook-id'], taskId);
      assert.ok(verify(secret, first!) && verify(secret, second!), 'both signed with the secret kept in DATA_DIR');
      assert.equal((JSON.parse(second!.body) as { data: { state: number } }).data.state, 1);
      server.kill('SIGTERM');
      await exited(server);
      const store = new SqliteStore(join(dataDir, 'clearshot.db'));
      try {
        const w = await store.webhookOf(taskId);
        assert.deepEqual([w?.status, w?.attempts], ['delivered', 2]);
      } finally {
        await store.close();
      }
    } finally {
      if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
      await receiver.close();
    }
  });
});
