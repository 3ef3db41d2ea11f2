import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PgStore } from '../src/db/pg-store.js';
import { KeyService } from '../src/keys/key-service.js';
import { photo, sizeOf } from './helpers/images.js';
import { TEST_DATA_DIR } from './helpers/paths.js';
import { exited, logTail, scaleoutEnv, spawnServer, waitHealthy } from './helpers/process.js';
import { freePort } from './helpers/server.js';
import { createRedisPrefix, createTestDatabase, startS3, type TestS3 } from './helpers/services.js';
import { createHmac } from 'node:crypto';
import { startReceiver } from './helpers/receiver.js';
import { openEvents } from './helpers/sse.js';

/**
 * Scale-out end to end over real sockets: 2 API processes and 2 worker processes
 * (`node dist/src/main.js` with ROLE=api / ROLE=worker) sharing PostgreSQL, Redis
 * (BullMQ) and an S3 endpoint (s3rver). 40 tasks from 3 keys over both APIs; one
 * worker is killed with SIGKILL while it processes, one API is restarted mid-run.
 *
 * Each process writes its output to a file of its own under a temporary directory; when
 * a case fails, the tails of those files are printed and the directory is kept.
 */
interface Proc {
  child: ChildProcess;
  url: string;
  env: NodeJS.ProcessEnv;
  log: string;
}

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let redis: Awaited<ReturnType<typeof createRedisPrefix>>;
let s3: TestS3;
let dataDir: string;
let logDir: string;
let failed = false;
const procs: Proc[] = [];

function sharedEnv(port: number, role: 'api' | 'worker'): NodeJS.ProcessEnv {
  return scaleoutEnv({ port, role, dataDir, databaseUrl: db.url, redisUrl: redis.url, redisPrefix: redis.prefix, s3, extra: {
      CLEARSHOT_JOB_LOCK_S: '4',
      CLEARSHOT_THREADS: '1',
      // The webhook receiver of the second test is on loopback.
      CLEARSHOT_ALLOW_PRIVATE_URLS: '1',
      CLEARSHOT_WEBHOOK_TIMEOUT_S: '2',
      CLEARSHOT_WEBHOOK_RETRY_S: '1',
    },
  });
}

async function launch(env: NodeJS.ProcessEnv): Promise<Proc> {
  // A relaunch with the same env appends to the same file.
  const log = join(logDir, `${env.ROLE}-${env.PORT}.log`);
  const child = spawnServer(env, log);
  const p: Proc = { child, url: env.PUBLIC_URL!, env, log };
  await waitHealthy(p.url, child);
  procs.push(p);
  return p;
}

async function create(api: Proc, key: string, image: Uint8Array, scale: string): Promise<string> {
  const form = new FormData();
  form.append('scale_factor', scale);
  form.append('image_file', new Blob([image]), 'p.png');
  const res = await fetch(`${api.url}/api/tasks/visual/scale`, { method: 'POST', headers: { 'X-API-KEY': key }, body: form });
  const body = (await res.json()) as { status: number; data: { task_id: string } };
  assert.equal(res.status, 200, JSON.stringify(body));
  return body.data.task_id;
}

async function query(api: Proc, key: string, id: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${api.url}/api/tasks/visual/scale/${id}`, { headers: { 'X-API-KEY': key } });
  return ((await res.json()) as { data: Record<string, unknown> }).data;
}

/** Runs a case; if it fails, prints every process's log tail (and keeps the logs) first. */
async function diagnosed(body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    failed = true;
    const seen = new Set<string>();
    for (const p of procs) {
      if (seen.has(p.log)) continue;
      seen.add(p.log);
      process.stderr.write(`\n----- ${p.log} (${p.env.ROLE}, pid ${p.child.pid}, exit ${p.child.exitCode ?? p.child.signalCode ?? 'running'}) -----\n${await logTail(p.log)}\n`);
    }
    process.stderr.write(`scale-out logs kept in ${logDir}\n`);
    throw err;
  }
}

/** `promise`, or a failure with `message()` once `ms` have passed. */
async function within<T>(promise: Promise<T>, ms: number, message: () => Promise<string>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)));
  try {
    const r = await Promise.race([promise, timeout]);
    if (r === 'timeout') throw new Error(await message());
    return r;
  } finally {
    clearTimeout(timer);
  }
}

before(async () => {
  db = await createTestDatabase();
  redis = await createRedisPrefix();
  s3 = await startS3();
  dataDir = await mkdtemp(join(tmpdir(), 'clearshot-scaleout-'));
  logDir = await mkdtemp(join(tmpdir(), 'clearshot-scaleout-logs-'));
  await symlink(join(TEST_DATA_DIR, 'models'), join(dataDir, 'models'));
});

after(async () => {
  for (const p of procs) p.child.kill('SIGKILL');
  await Promise.all(procs.map((p) => exited(p.child)));
  await s3?.stop();
  await redis?.clear();
  await db?.drop();
  await rm(dataDir, { recursive: true, force: true });
  if (!failed) await rm(logDir, { recursive: true, force: true });
});

describe('scale-out: 2 APIs, 2 workers, PostgreSQL + Redis + S3', () => {
  it('40 tasks all succeed through a worker kill and an API restart, each debited once', () => diagnosed(async () => {
    const [p1, p2, w1, w2] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const api1 = await launch(sharedEnv(p1, 'api'));
    const api2 = await launch(sharedEnv(p2, 'api'));
    // Worker 1 alone at first: the task it is running when killed is known to be its own.
    let worker1 = await launch(sharedEnv(w1, 'worker'));

    const store = await PgStore.open(db.url);
    const keyService = new KeyService(store);
    const keys = await Promise.all([1, 2, 3].map((i) => keyService.create(`tenant-${i}`, 200)));
    await store.close();

    // 40 tasks: mostly small, a few medium ones so that a worker is caught mid-task.
    const small = await photo(40, 30);
    const medium = await photo(192, 192);
    const tasks: Array<{ id: string; key: string; keyId: string; api: Proc; width: number; height: number }> = [];
    for (let i = 0; i < 40; i++) {
      const api = i % 2 === 0 ? api1 : api2;
      const k = keys[i % 3]!;
      const big = i % 8 === 3;
      const id = await create(api, k.key, big ? medium : small, '4');
      tasks.push({ id, key: k.key, keyId: k.record.id, api, width: big ? 768 : 160, height: big ? 768 : 120 });
      if (i === 12) {
        // Kill worker 1 while it processes a medium task, then start worker 2, which must
        // take the task over once worker 1's job lock expires.
        const target = tasks.find((t) => t.width === 768)!;
        const deadline = Date.now() + 60_000;
        while ((await query(api2, target.key, target.id)).phase !== 'processing') {
          if (Date.now() > deadline) throw new Error('worker 1 never processed the medium task');
          await new Promise((r) => setTimeout(r, 10));
        }
        worker1.child.kill('SIGKILL');
        await exited(worker1.child);
        await launch(sharedEnv(w2, 'worker'));
      }
      if (i === 25) {
        // Restart API 1 mid-run (and bring worker 1 back).
        api1.child.kill('SIGTERM');
        await exited(api1.child);
        const restarted = await launch(api1.env);
        api1.child = restarted.child;
        worker1 = await launch(worker1.env);
      }
    }

    // Every task ends in state 1, readable through either API.
    const deadline = Date.now() + 240_000;
    for (const t of tasks) {
      for (;;) {
        const d = await query(api2, t.key, t.id);
        if (d.state === 1) break;
        assert.ok((d.state as number) >= 0, `task ${t.id} failed: ${JSON.stringify(d)}`);
        if (Date.now() > deadline) throw new Error(`task ${t.id} still in state ${d.state}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    for (const t of tasks) {
      const [a, b] = await Promise.all([query(api1, t.key, t.id), query(api2, t.key, t.id)]);
      assert.equal(a.state, 1);
      assert.equal(b.state, 1);
      assert.deepEqual([a.image_width, a.image_height], [t.width, t.height]);
      // The result URL (signed by whichever API answered) serves the right image from S3.
      const res = await fetch(a.image as string);
      assert.equal(res.status, 200);
      assert.deepEqual(await sizeOf(new Uint8Array(await res.arrayBuffer())), { width: t.width, height: t.height, format: 'png' });
    }

    // Each key debited exactly once per task, nothing left held.
    const check = await PgStore.open(db.url);
    try {
      for (const k of keys) {
        const mine = tasks.filter((t) => t.keyId === k.record.id);
        const debits = (await check.ledger(k.record.id)).filter((l) => l.reason === 'debit');
        assert.equal(debits.length, mine.length, `${k.record.name}: one debit per task`);
        assert.deepEqual(new Set(debits.map((d) => d.taskId)), new Set(mine.map((t) => t.id)));
        const after = (await check.findById(k.record.id))!;
        assert.deepEqual([after.credits, after.held], [200 - 2 * mine.length, 0]);
      }
      // A task the killed worker held was taken over: at least one shows a retry.
      const attempts = await Promise.all(tasks.map(async (t) => (await check.get(t.id))!.attempts));
      assert.ok(attempts.some((a) => a > 0), `no task was taken over (attempts ${attempts.join(',')})`);
    } finally {
      await check.close();
    }
  }));

  it('live progress through the other API, and a webhook finished by the one process left', () => diagnosed(async () => {
    const alive = (role: string) => procs.filter((p) => p.env.ROLE === role && p.child.exitCode === null && p.child.signalCode === null);
    const [api1, api2] = alive('api');
    assert.ok(api1 && api2 && alive('worker').length > 0, 'the processes of the first test still run');
    const store = await PgStore.open(db.url);
    const { key } = await new KeyService(store).create('tenant-events', 100);
    await store.close();
    // The first delivery is left unanswered; the service is then cut down to api2 alone.
    const receiver = await startReceiver((i, _r, res) => {
      if (i > 0) res.writeHead(200).end();
    });
    try {
      const form = new FormData();
      form.append('scale_factor', '4');
      form.append('callback_url', receiver.url);
      form.append('image_file', new Blob([await photo(192, 192)]), 'p.png');
      const created = (await (await fetch(`${api1.url}/api/tasks/visual/scale`, { method: 'POST', headers: { 'X-API-KEY': key }, body: form })).json()) as { data: { task_id: string } };
      const id = created.data.task_id;
      const stream = await openEvents(`${api2.url}/api/tasks/visual/scale/${id}/events`, key);
      assert.equal(stream.status, 200);
      // The stream ends with the task; a task that never finishes fails here, not at the runner's timeout.
      const events = await within(stream.events, 120_000, async () => {
        stream.abort();
        const seen = (await stream.events).map((e) => `${e.event} ${JSON.stringify(e.data)}`);
        return `the event stream of task ${id} did not end within 120 s (events: ${seen.join('; ')}; ${stream.comments.length} heartbeats); the task reads ${JSON.stringify(await query(api2, key, id))}`;
      });
      assert.ok(events.some((e) => e.event === 'progress' && e.data.state === 4), JSON.stringify(events));
      assert.equal(events.at(-1)?.event, 'done');
      assert.equal(events.at(-1)?.data.state, 1);
      assert.deepEqual(events.at(-1)?.data, await query(api2, key, id), 'the final event is the GET view');

      const [first] = await receiver.waitFor(1);
      assert.equal(first!.headers['webhook-id'], id);
      // Every process but api2 dies; api2 finishes the delivery once the lease has passed.
      for (const p of procs) if (p !== api2 && p.child.exitCode === null) p.child.kill('SIGKILL');
      await Promise.all(procs.filter((p) => p !== api2).map((p) => exited(p.child)));
      const [, second] = await receiver.waitFor(2, 60_000);
      assert.equal(second!.headers['webhook-id'], id);
      const secret = api2.env.CLEARSHOT_WEBHOOK_SECRET!;
      const keyBytes = Buffer.from(secret.slice('whsec_'.length), 'base64');
      for (const h of [first!, second!]) {
        const expected = `v1,${createHmac('sha256', keyBytes).update(`${h.headers['webhook-id']}.${h.headers['webhook-timestamp']}.${h.body}`).digest('base64')}`;
        assert.equal(h.headers['webhook-signature'], expected, 'signed with the shared secret');
      }
      assert.equal((JSON.parse(second!.body) as { data: { state: number } }).data.state, 1);
    } finally {
      await receiver.close();
    }
  }));
});
