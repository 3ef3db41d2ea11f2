import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { PgStore } from '../src/db/pg-store.js';
import { SqliteStore } from '../src/db/sqlite-store.js';
import { ClearShotError } from '../src/errors/index.js';
import { json } from './helpers/client.js';
import { REPO_ROOT } from './helpers/paths.js';
import { exited } from './helpers/process.js';
import { closeTestEngine, freePort, startTestServer } from './helpers/server.js';
import { createRedisPrefix, createTestDatabase, TEST_REDIS_URL } from './helpers/services.js';

/**
 * Issue 13, item 3: an empty or damaged database must not silently become a fresh
 * install (keys, balances and the ledger gone; the bootstrap key granted again), and
 * /healthz must report the database (and in scale-out PostgreSQL and Redis).
 */
let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'clearshot-dbcheck-'));
});
after(() => rm(dir, { recursive: true, force: true }));

let n = 0;
const fresh = async () => {
  const d = join(dir, `d${n++}`);
  await import('node:fs/promises').then((fs) => fs.mkdir(d));
  return d;
};

/** Runs `fn`; returns the ClearShotError it threw (fails if it did not throw one). */
function refusal(fn: () => unknown): ClearShotError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ClearShotError, `expected a ClearShotError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the database to be refused');
}

describe('SQLite at start', () => {
  it('creates the database file (and its WAL) with mode 0600', async () => {
    const d = await fresh();
    const store = new SqliteStore(join(d, 'clearshot.db'));
    await store.createKey({ id: 'k', name: 'k', hash: 'h', credits: 1, createdAt: 1 });
    assert.equal((await stat(join(d, 'clearshot.db'))).mode & 0o777, 0o600);
    assert.equal((await stat(join(d, 'clearshot.db-wal'))).mode & 0o777, 0o600);
    await store.close();
  });

  it('refuses an empty file when url-secret exists, naming the file; initialises it when told to', async () => {
    const d = await fresh();
    const path = join(d, 'clearshot.db');
    await writeFile(path, '');
    const e = refusal(() => new SqliteStore(path, { existingState: [join(d, 'url-secret')] }));
    assert.equal(e.code, 'DATABASE_INVALID');
    assert.ok(e.message.includes(path), e.message);
    assert.match(e.message, /empty/);
    assert.match(e.message, /CLEARSHOT_INIT_DATABASE=1/);
    assert.equal((await stat(path)).size, 0, 'the file is left as it was');
    const store = new SqliteStore(path, { existingState: [join(d, 'url-secret')], initialise: true });
    assert.deepEqual(await store.listKeys(), []);
    await store.close();
  });

  it('an empty file with no other state is a fresh install', async () => {
    const d = await fresh();
    await writeFile(join(d, 'clearshot.db'), '');
    const store = new SqliteStore(join(d, 'clearshot.db'), { existingState: [] });
    assert.deepEqual(await store.listKeys(), []);
    await store.close();
  });

  it('refuses a SQLite file without the ClearShot schema when other state exists', async () => {
    const d = await fresh();
    const path = join(d, 'clearshot.db');
    const other = new Database(path);
    other.exec('CREATE TABLE notes (t TEXT)');
    other.close();
    const e = refusal(() => new SqliteStore(path, { existingState: [join(d, 'blobs')] }));
    assert.equal(e.code, 'DATABASE_INVALID');
    assert.match(e.message, /no schema/);
  });

  it('refuses a file damaged in a later page (quick_check), and one that is not a database', async () => {
    const d = await fresh();
    const path = join(d, 'clearshot.db');
    const store = new SqliteStore(path);
    for (let i = 0; i < 3000; i++) await store.createKey({ id: `key-${i}`, name: `tenant ${i} ${'x'.repeat(40)}`, hash: `hash-${i}`, credits: 10, createdAt: i });
    await store.close();
    const size = (await stat(path)).size;
    assert.ok(size > 40 * 4096, `a multi-page database (${size} bytes)`);
    const fh = await open(path, 'r+');
    await fh.write(randomBytes(4096), 0, 4096, size - 3 * 4096); // a leaf page near the end
    await fh.close();
    const e = refusal(() => new SqliteStore(path));
    assert.equal(e.code, 'DATABASE_INVALID');
    assert.ok(e.message.includes(path), e.message);
    assert.match(e.message, /damaged/);

    const junk = join(d, 'junk.db');
    await writeFile(junk, randomBytes(8192));
    const j = refusal(() => new SqliteStore(junk));
    assert.equal(j.code, 'DATABASE_INVALID');
    assert.ok(j.message.includes(junk), j.message);
  });

  it('refuses a database from a newer ClearShot', async () => {
    const d = await fresh();
    const path = join(d, 'clearshot.db');
    await (new SqliteStore(path)).close();
    const db = new Database(path);
    db.pragma('user_version = 99');
    db.close();
    const e = refusal(() => new SqliteStore(path));
    assert.equal(e.code, 'DATABASE_INVALID');
    assert.match(e.message, /version 99, newer/);
  });

  it('the real server exits with the fatal message naming the file and does not re-grant the bootstrap key', async () => {
    const d = await fresh();
    const path = join(d, 'clearshot.db');
    await writeFile(path, '');
    await writeFile(join(d, 'url-secret'), `${'a'.repeat(64)}\n`);
    const child = spawn(process.execPath, [join(REPO_ROOT, 'dist', 'src', 'main.js')], {
      env: { ...process.env, DATA_DIR: d, PORT: String(await freePort()), HOST: '127.0.0.1', CLEARSHOT_BOOTSTRAP_KEY: 'cs_test_key_0123456789abcdef0123456789' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    assert.equal(await exited(child), 12, out);
    const fatal = out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { level: number; code: string; msg: string }).find((l) => l.level === 60);
    assert.ok(fatal, out);
    assert.equal(fatal.code, 'DATABASE_INVALID');
    assert.ok(fatal.msg.includes(path), fatal.msg);
    assert.equal((await readFile(path)).length, 0);
  });
});

describe('PostgreSQL at start', () => {
  it('refuses a schema from a newer version, and one whose tables are missing', async () => {
    const db = await createTestDatabase();
    try {
      await (await PgStore.open(db.url)).close();
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      await c.query('INSERT INTO schema_migrations (version) VALUES (99)');
      await assert.rejects(PgStore.open(db.url), (e: unknown) => e instanceof ClearShotError && e.code === 'DATABASE_INVALID' && /version 99, newer/.test(e.message));
      await c.query('DELETE FROM schema_migrations WHERE version = 99');
      await c.query('DROP TABLE ledger');
      await c.query('DROP TABLE tasks CASCADE'); // webhook_deliveries refers to it
      await c.end();
      await assert.rejects(PgStore.open(db.url), (e: unknown) => e instanceof ClearShotError && e.code === 'DATABASE_INVALID' && /tables tasks, ledger are missing/.test(e.message) && e.message.includes(new URL(db.url).pathname));
    } finally {
      await db.drop();
    }
  });
});

/** A TCP relay to Redis that can be made to stop answering (a hung Redis). */
async function redisRelay(): Promise<{ url: string; hang(on: boolean): void; close(): Promise<void> }> {
  const target = new URL(TEST_REDIS_URL);
  let hung = false;
  const pending: Array<() => void> = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port || 6379), target.hostname);
    sockets.add(client).add(upstream);
    client.on('data', (b) => (hung ? pending.push(() => upstream.write(b)) : upstream.write(b)));
    upstream.on('data', (b) => client.write(b));
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `redis://127.0.0.1:${port}`,
    hang(on) {
      hung = on;
      if (!on) for (const f of pending.splice(0)) f();
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('/healthz reports the database (and Redis)', () => {
  after(() => closeTestEngine());

  it('embedded: database ok', async () => {
    const server = await startTestServer();
    try {
      const h = await json(await fetch(`${server.url}/healthz`));
      assert.equal(h.http, 200);
      assert.deepEqual(h.body.data.database, { ok: true, detail: 'ok' });
    } finally {
      await server.stop();
    }
  });

  it('PostgreSQL and Redis: 200 while both answer, 503 naming the one that does not', async () => {
    const db = await createTestDatabase();
    const redis = await createRedisPrefix();
    const relay = await redisRelay();
    const server = await startTestServer({ DATABASE_URL: db.url, REDIS_URL: relay.url, REDIS_PREFIX: redis.prefix });
    try {
      const ok = await json(await fetch(`${server.url}/healthz`));
      assert.equal(ok.http, 200);
      assert.deepEqual([ok.body.data.database, ok.body.data.redis], [{ ok: true, detail: 'ok' }, { ok: true, detail: 'ok' }]);

      relay.hang(true);
      const hung = await json(await fetch(`${server.url}/healthz`));
      relay.hang(false);
      assert.equal(hung.http, 503);
      assert.deepEqual([hung.body.status, hung.body.message, hung.body.data.ok], [503, 'unhealthy', false]);
      assert.equal((hung.body.data.redis as { ok: boolean }).ok, false);
      assert.equal((hung.body.data.database as { ok: boolean }).ok, true);

      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      await c.query('DROP TABLE ledger');
      await c.end();
      const broken = await json(await fetch(`${server.url}/healthz`));
      assert.equal(broken.http, 503);
      assert.equal((broken.body.data.database as { ok: boolean }).ok, false);
    } finally {
      relay.hang(false);
      await server.stop();
      await relay.close();
      await redis.clear();
      await db.drop();
    }
  });
});
