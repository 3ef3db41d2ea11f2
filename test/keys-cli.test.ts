import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PgStore } from '../src/db/pg-store.js';
import { SqliteStore } from '../src/db/sqlite-store.js';
import { KeyService } from '../src/keys/key-service.js';
import { REPO_ROOT } from './helpers/paths.js';
import { createTestDatabase } from './helpers/services.js';

/** `clearshot keys ...` over a real store, and the embedded -> PostgreSQL migration. */
let dir: string;
function cli(args: string[], env: Record<string, string | undefined> = {}, cwd?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(REPO_ROOT, 'bin', 'clearshot.js'), 'keys', ...args], { cwd, env: { ...process.env, DATA_DIR: dir, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'clearshot-keys-'));
});
after(() => rm(dir, { recursive: true, force: true }));

describe('clearshot keys', () => {
  let plain = '';
  let id = '';

  it('never makes a new database by accident: refused with the path, unless --create', async () => {
    const elsewhere = await mkdtemp(join(tmpdir(), 'clearshot-keys-cwd-'));
    try {
      // Run from another folder with no DATA_DIR: today's trap, ./data/clearshot.db there.
      const env = { DATA_DIR: undefined };
      for (const args of [['list'], ['create', '--name', 'x']]) {
        const r = await cli(args, env, elsewhere);
        assert.equal(r.code, 2, r.stderr);
        assert.equal(r.stderr.trim(), `clearshot: no database at ${join(elsewhere, 'data', 'clearshot.db')}: point DATA_DIR (or --data-dir) at the server's data directory, set DATABASE_URL, or pass --create to start a new database there [NOT_FOUND]`);
      }
      assert.deepEqual(await readdir(elsewhere), [], 'nothing was created');
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });

  it('create prints the key once on stdout, details on stderr', async () => {
    const r = await cli(['create', '--create', '--name', 'acme', '--credits', '10']);
    assert.equal(r.code, 0, r.stderr);
    plain = r.stdout.trim();
    assert.match(plain, /^cs_[0-9A-Za-z]{32}$/);
    id = /created (key_\w+) "acme" with 10 credits/.exec(r.stderr)![1]!;
  });

  it('list shows the key without revealing it; credits +N / -N; disable', async () => {
    const list = await cli(['list']);
    assert.match(list.stdout, new RegExp(`${id}\\tacme\\t10\\t0\\tactive`));
    assert.ok(!list.stdout.includes(plain));
    assert.match((await cli(['credits', id, '+5'])).stdout, /now has 15 credits/);
    assert.match((await cli(['credits', plain, '-3'])).stdout, /now has 12 credits/);
    const tooMuch = await cli(['credits', id, '-100']);
    assert.equal(tooMuch.code, 2);
    assert.match(tooMuch.stderr, /cannot remove 100 credits/);
    const store = new SqliteStore(join(dir, 'clearshot.db'));
    try {
      assert.equal((await new KeyService(store).authenticate(plain)).credits, 12);
    } finally {
      await store.close();
    }
  });

  it('--data-dir names the database folder from anywhere (both spellings)', async () => {
    const elsewhere = await mkdtemp(join(tmpdir(), 'clearshot-keys-cwd-'));
    try {
      for (const args of [['list', '--data-dir', dir], [`--data-dir=${dir}`, 'list']]) {
        const r = await cli(args, { DATA_DIR: undefined }, elsewhere);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, new RegExp(`${id}\tacme`));
      }
      assert.deepEqual(await readdir(elsewhere), []);
      const missing = await cli(['list', '--data-dir'], {}, elsewhere);
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /expected a folder after --data-dir/);
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });

  it('refuses bad usage with exit code 2', async () => {
    for (const args of [['create', '--credits', '-1'], ['credits', id, 'lots'], ['disable'], ['frobnicate'], ['credits', 'key_nope', '+1']]) {
      const r = await cli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    }
  });

  it('export from SQLite, import into PostgreSQL: the same plain key works there', async () => {
    const exported = await cli(['export']);
    assert.equal(exported.code, 0);
    assert.ok(!exported.stdout.includes(plain), 'exports hashes, never keys');
    const file = join(dir, 'keys.jsonl');
    await writeFile(file, exported.stdout);
    const db = await createTestDatabase();
    try {
      const imported = await cli(['import', file], { DATABASE_URL: db.url });
      assert.equal(imported.code, 0, imported.stderr);
      assert.match(imported.stdout, /imported 1 key\(s\), 0 already present/);
      assert.match((await cli(['import', file], { DATABASE_URL: db.url })).stdout, /imported 0 key\(s\), 1 already present/);
      const pg = await PgStore.open(db.url);
      try {
        const key = await new KeyService(pg).authenticate(plain);
        assert.deepEqual([key.id, key.name, key.credits], [id, 'acme', 12]);
      } finally {
        await pg.close();
      }
    } finally {
      await db.drop();
    }
    const disabled = await cli(['disable', id]);
    assert.match(disabled.stdout, /disabled key_/);
  });
});
