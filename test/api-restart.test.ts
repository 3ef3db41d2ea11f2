import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SqliteStore } from '../src/db/sqlite-store.js';
import { json } from './helpers/client.js';
import { photo } from './helpers/images.js';
import { TEST_DATA_DIR } from './helpers/paths.js';
import { exited, spawnServer, waitHealthy } from './helpers/process.js';
import { freePort } from './helpers/server.js';

/**
 * The real server process (`node dist/src/main.js`, what `npm start` runs), killed with
 * SIGKILL in the middle of a task, or stopped with SIGTERM, then started again on the
 * same data directory: every accepted task completes, each is debited exactly once.
 */
const KEY = 'cs_restart_test_key_0123456789abcdef';
let dataDir: string;
let port: number;
let base: string;

function startServer(): ChildProcess {
  return spawnServer({
    DATA_DIR: dataDir,
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_URL: base,
    CLEARSHOT_BOOTSTRAP_KEY: KEY,
    CLEARSHOT_BOOTSTRAP_CREDITS: '100',
    CLEARSHOT_THREADS: '2',
    CLEARSHOT_RATE_LIMIT: '0',
    CLEARSHOT_QUERY_RATE_LIMIT: '0',
    LOG_LEVEL: 'warn',
  });
}

const ready = () => waitHealthy(base);

async function submit(fields: Record<string, string>, image: Uint8Array): Promise<string> {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  form.append('image_file', new Blob([image]), 'in.png');
  const r = await json(await fetch(`${base}/api/tasks/visual/scale`, { method: 'POST', headers: { 'X-API-KEY': KEY }, body: form }));
  assert.equal(r.http, 200, JSON.stringify(r.body));
  return r.body.data.task_id as string;
}

async function state(taskId: string): Promise<number> {
  const r = await json(await fetch(`${base}/api/tasks/visual/scale/${taskId}`, { headers: { 'X-API-KEY': KEY } }));
  return r.body.data.state as number;
}

/** The fine phase of an open task (its state reads 4 in every phase). */
async function phase(taskId: string): Promise<unknown> {
  const r = await json(await fetch(`${base}/api/tasks/visual/scale/${taskId}`, { headers: { 'X-API-KEY': KEY } }));
  return r.body.data.phase;
}

async function waitFor(taskId: string, predicate: (s: number) => boolean, timeoutMs = 120_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await state(taskId);
    if (predicate(s)) return s;
    if (Date.now() > deadline) throw new Error(`task ${taskId} stuck in state ${s}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function ledger(): Promise<{ credits: number; held: number; debits: Map<string, number> }> {
  const store = new SqliteStore(join(dataDir, 'clearshot.db'));
  try {
    const key = (await store.listKeys()).find((k) => k.name === 'bootstrap')!;
    const debits = new Map<string, number>();
    for (const l of await store.ledger(key.id)) if (l.reason === 'debit') debits.set(l.taskId!, (debits.get(l.taskId!) ?? 0) + 1);
    return { credits: key.credits, held: key.held, debits };
  } finally {
    await store.close();
  }
}

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'clearshot-restart-'));
  await symlink(join(TEST_DATA_DIR, 'models'), join(dataDir, 'models'));
  port = await freePort();
  base = `http://127.0.0.1:${port}`;
});
after(() => rm(dataDir, { recursive: true, force: true }));

describe('restart recovery with the real server process', () => {
  it('kill -9 while a task runs and another waits: both complete after restart, one debit each', async () => {
    let server = startServer();
    await ready();
    // A slow task (quality model) and a queued one behind it (one job at a time).
    const slow = await submit({ model: 'quality', scale_factor: '4' }, await photo(192, 160));
    const queued = await submit({ scale_factor: '2' }, await photo(48, 32));
    assert.equal(await waitFor(slow, (s) => s === 4), 4, 'slow task is open');
    assert.equal(await phase(queued), 'queued', 'second task is queued');
    server.kill('SIGKILL');
    await exited(server);

    server = startServer();
    try {
      await ready();
      assert.equal(await waitFor(slow, (s) => s === 1 || s < 0), 1);
      assert.equal(await waitFor(queued, (s) => s === 1 || s < 0), 1);
    } finally {
      server.kill('SIGTERM');
      await exited(server);
    }
    const l = await ledger();
    assert.equal(l.debits.get(slow), 1);
    assert.equal(l.debits.get(queued), 1);
    assert.deepEqual([l.credits, l.held], [96, 0]);
  });

  it('SIGTERM stops cleanly (exit 0); a task it could not finish runs after the next start', async () => {
    let server = startServer();
    await ready();
    const task = await submit({ model: 'quality', scale_factor: '4' }, await photo(224, 224));
    await waitFor(task, (s) => s === 4);
    server.kill('SIGTERM');
    assert.equal(await exited(server), 0);
    const afterStop = await (async () => {
      const store = new SqliteStore(join(dataDir, 'clearshot.db'));
      try {
        return (await store.get(task))!.state;
      } finally {
        await store.close();
      }
    })();
    assert.ok(afterStop === 0 || afterStop === 1, `after SIGTERM the task is requeued or done, not lost (state ${afterStop})`);

    server = startServer();
    try {
      await ready();
      assert.equal(await waitFor(task, (s) => s === 1 || s < 0), 1);
    } finally {
      server.kill('SIGTERM');
      await exited(server);
    }
    const l = await ledger();
    assert.equal(l.debits.get(task), 1);
    assert.equal(l.held, 0);
  });
});
