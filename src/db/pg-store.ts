import pg from 'pg';
import { ClearShotError } from '../errors/index.js';
import type { ApiKey, KeyStore, LedgerEntry } from '../keys/key-store.js';
import { STATE, statesBefore, type Task, type TaskResult, type TaskState } from '../tasks/task.js';
import type { NewTask, TaskPatch, TaskStore } from '../tasks/task-store.js';
import type { WebhookDelivery, WebhookOutcome, WebhookStatus } from '../webhooks/webhook-store.js';
import { rowToKey, rowToTask, withoutHash, type KeyRow, type TaskRow } from './rows.js';
import { migrations } from './schema.js';
import { insertArgs, numbered, REQUEUE_ARGS, TASK_SQL, taskUpdate } from './task-sql.js';

/** The shared task statements with PostgreSQL's placeholders. */
const SQL = Object.fromEntries(Object.entries(TASK_SQL).map(([name, sql]) => [name, numbered(sql)])) as { readonly [K in keyof typeof TASK_SQL]: string };

/**
 * PostgreSQL adapter of the task and key stores (scale-out mode): the same invariants
 * as SQLite, enforced by the schema (CHECKs, a unique debit per task) and by row locks
 * (SELECT ... FOR UPDATE), so processes on many machines can share one database.
 *
 * Migrations are versioned and applied at start under an advisory lock, so several
 * processes starting at once apply each exactly once.
 */
const MIGRATIONS = migrations('pg');

const MIGRATION_LOCK = 7_454_001;

/** The tables every migrated database has. */
const SCHEMA_TABLES = ['api_keys', 'tasks', 'ledger'];

/** host:port/database of a connection URL, without its credentials (for messages). */
function describe(url: string): string {
  try {
    const u = new URL(url);
    return `${u.host}${u.pathname}`;
  } catch {
    return '(DATABASE_URL)';
  }
}

type Client = pg.PoolClient;

export class PgStore implements TaskStore, KeyStore {
  private constructor(
    private readonly pool: pg.Pool,
    private readonly url: string,
  ) {}

  /** Connects and applies pending migrations. */
  static async open(url: string, options: { max?: number } = {}): Promise<PgStore> {
    const pool = new pg.Pool({ connectionString: url, max: options.max ?? 10 });
    pool.on('error', () => undefined); // idle client errors surface on the next query
    const store = new PgStore(pool, url);
    try {
      await store.migrate();
    } catch (err) {
      await pool.end();
      if (err instanceof ClearShotError) throw err;
      throw new ClearShotError('UNAVAILABLE', `cannot prepare the PostgreSQL database ${describe(url)}: ${(err as Error).message}`, { cause: err });
    }
    return store;
  }

  /** For /healthz: the database answers, each table reads, and the schema is the one this version knows. */
  async health(): Promise<{ ok: boolean; detail: string }> {
    try {
      const { rows } = await this.pool.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations');
      for (const table of SCHEMA_TABLES) await this.pool.query(`SELECT 1 FROM ${table} LIMIT 1`);
      const v = rows[0]?.v ?? 0;
      if (v !== MIGRATIONS.length) return { ok: false, detail: `schema version ${v}, expected ${MIGRATIONS.length}` };
      return { ok: true, detail: 'ok' };
    } catch (err) {
      return { ok: false, detail: `unreadable: ${(err as Error).message}` };
    }
  }

  private async migrate(): Promise<void> {
    const c = await this.pool.connect();
    try {
      await c.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
      await c.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())');
      const { rows } = await c.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations');
      const applied = rows[0]?.v ?? 0;
      if (applied > MIGRATIONS.length) {
        throw new ClearShotError('DATABASE_INVALID', `the PostgreSQL database ${describe(this.url)} has schema version ${applied}, newer than this ClearShot knows (${MIGRATIONS.length}): run the newer version`);
      }
      if (applied > 0) {
        const present = await c.query<{ name: string }>('SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ANY($1)', [SCHEMA_TABLES]);
        const missing = SCHEMA_TABLES.filter((t) => !present.rows.some((r) => r.name === t));
        if (missing.length) {
          throw new ClearShotError(
            'DATABASE_INVALID',
            `the PostgreSQL database ${describe(this.url)} records schema version ${applied} but its table${missing.length > 1 ? 's' : ''} ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} missing: restore it from a backup (ClearShot will not recreate them over lost data)`,
          );
        }
      }
      for (let v = applied; v < MIGRATIONS.length; v++) {
        await c.query('BEGIN');
        try {
          await c.query(MIGRATIONS[v]!);
          await c.query('INSERT INTO schema_migrations (version) VALUES ($1)', [v + 1]);
          await c.query('COMMIT');
        } catch (err) {
          await c.query('ROLLBACK');
          throw err;
        }
      }
    } finally {
      await c.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
      c.release();
    }
  }

  private async tx<T>(fn: (c: Client) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const out = await fn(c);
      await c.query('COMMIT');
      return out;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      c.release();
    }
  }

  private async lockTask(c: Client, id: string): Promise<TaskRow | undefined> {
    return (await c.query<TaskRow>('SELECT * FROM tasks WHERE id = $1 FOR UPDATE', [id])).rows[0];
  }

  private async taskRow(c: Client | pg.Pool, id: string): Promise<Task> {
    return rowToTask((await c.query<TaskRow>(SQL.get, [id])).rows[0]!);
  }

  // ---- tasks ---------------------------------------------------------------------

  async create(task: NewTask): Promise<Task> {
    return this.tx(async (c) => {
      const key = (await c.query<KeyRow>('SELECT * FROM api_keys WHERE id = $1 FOR UPDATE', [task.keyId])).rows[0];
      if (!key || key.disabled) throw new ClearShotError('UNAUTHORIZED');
      const held = await c.query(SQL.hold, [task.credits, task.keyId, task.credits]);
      if (held.rowCount === 0) {
        throw new ClearShotError('INSUFFICIENT_CREDITS', `not enough credits: this image costs ${task.credits}, the key has ${Number(key.credits) - Number(key.held)} available`);
      }
      await c.query(SQL.insert, insertArgs(task));
      return this.taskRow(c, task.id);
    });
  }

  async get(id: string): Promise<Task | undefined> {
    const r = (await this.pool.query<TaskRow>(SQL.get, [id])).rows[0];
    return r ? rowToTask(r) : undefined;
  }

  private async update(c: Client, id: string, to: TaskState, patch: TaskPatch, extra: Readonly<Record<string, unknown>> = {}): Promise<void> {
    const { sql, args } = taskUpdate(id, to, patch, extra);
    await c.query(numbered(sql), args);
  }

  async transition(id: string, to: TaskState, patch: TaskPatch = {}): Promise<Task | undefined> {
    return this.tx(async (c) => {
      const r = await this.lockTask(c, id);
      if (!r || !statesBefore(to).includes(r.state as TaskState)) return undefined;
      await this.update(c, id, to, patch);
      if (to < 0 && !r.charged) await c.query(SQL.release, [r.credits, r.key_id]);
      if (to < 0) await this.oweWebhook(c, r, patch.completedAt);
      return this.taskRow(c, id);
    });
  }

  /** Inside the final transition's transaction: the callback becomes owed atomically with the end. */
  private async oweWebhook(c: Client, r: TaskRow, at: number | undefined): Promise<void> {
    const request = (typeof r.request === 'string' ? JSON.parse(r.request) : r.request) as Task['request'];
    if (!request.callbackUrl) return;
    const now = at ?? Date.now();
    await c.query(SQL.oweWebhook, [r.id, request.callbackUrl, now, now]);
  }

  // ---- webhooks ------------------------------------------------------------------

  async claimWebhooks(now: number, leaseUntil: number, limit: number): Promise<WebhookDelivery[]> {
    // SKIP LOCKED: processes claiming at once never get the same rows.
    const { rows } = await this.pool.query<{ task_id: string; url: string; attempts: number }>(
      `UPDATE webhook_deliveries SET attempts = attempts + 1, next_at = $2
       WHERE task_id IN (SELECT task_id FROM webhook_deliveries WHERE status = 'pending' AND next_at <= $1 ORDER BY next_at LIMIT $3 FOR UPDATE SKIP LOCKED)
       RETURNING task_id, url, attempts`,
      [now, leaseUntil, limit],
    );
    return rows.map((r) => ({ taskId: r.task_id, url: r.url, attempts: r.attempts }));
  }

  async finishWebhook(taskId: string, attempts: number, outcome: WebhookOutcome): Promise<boolean> {
    const done = outcome.status !== 'pending';
    const r = await this.pool.query(
      "UPDATE webhook_deliveries SET status = $3, next_at = $4, last_error = $5, finished_at = $6 WHERE task_id = $1 AND attempts = $2 AND status = 'pending'",
      [taskId, attempts, outcome.status, outcome.nextAt ?? outcome.at, outcome.error ?? null, done ? outcome.at : null],
    );
    return (r.rowCount ?? 0) > 0;
  }

  async webhookOf(taskId: string): Promise<{ url: string; status: WebhookStatus; attempts: number; nextAt: number; lastError?: string } | undefined> {
    const r = (
      await this.pool.query<{ url: string; status: WebhookStatus; attempts: number; next_at: string; last_error: string | null }>('SELECT * FROM webhook_deliveries WHERE task_id = $1', [taskId])
    ).rows[0];
    return r ? { url: r.url, status: r.status, attempts: r.attempts, nextAt: Number(r.next_at), ...(r.last_error ? { lastError: r.last_error } : {}) } : undefined;
  }

  async pendingWebhooks(): Promise<number> {
    return Number((await this.pool.query<{ n: string }>("SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status = 'pending'")).rows[0]!.n);
  }

  async setProgress(id: string, progress: number): Promise<void> {
    await this.pool.query(SQL.setProgress, [progress, id, progress]);
  }

  async raiseHold(id: string, credits: number): Promise<boolean> {
    return this.tx(async (c) => {
      const r = await this.lockTask(c, id);
      if (!r || r.state === STATE.SUCCESS || r.state < 0) return false;
      const more = credits - r.credits;
      if (more <= 0) return true;
      const held = await c.query(SQL.hold, [more, r.key_id, more]);
      if (held.rowCount === 0) return false;
      await c.query(SQL.setCredits, [credits, id]);
      return true;
    });
  }

  async complete(id: string, result: TaskResult, patch: TaskPatch = {}): Promise<Task | undefined> {
    return this.tx(async (c) => {
      const r = await this.lockTask(c, id);
      if (!r || r.state !== STATE.PROCESSING) return undefined;
      await this.update(c, id, STATE.SUCCESS, { ...patch, progress: 100 }, { result: JSON.stringify(result), result_blob: result.blob, result_expires_at: result.expiresAt, charged: true });
      await c.query(SQL.debit, [r.key_id, id, -r.credits, Date.now()]);
      await c.query(SQL.charge, [r.credits, r.credits, r.key_id]);
      await this.oweWebhook(c, r, patch.completedAt);
      return this.taskRow(c, id);
    });
  }

  async requeueActive(): Promise<string[]> {
    const { rows } = await this.pool.query<{ id: string }>(SQL.requeueActive, [...REQUEUE_ARGS]);
    return rows.map((r) => r.id);
  }

  async queuedBefore(createdAt: number): Promise<number> {
    return Number((await this.pool.query<{ n: string }>(SQL.queuedBefore, [createdAt])).rows[0]!.n);
  }

  async queuedIds(limit: number): Promise<string[]> {
    return (await this.pool.query<{ id: string }>(SQL.queuedIds, [limit])).rows.map((r) => r.id);
  }

  async staleOpenTasks(queuedBefore: number, activeBefore: number, limit: number): Promise<Array<{ id: string; state: TaskState }>> {
    const { rows } = await this.pool.query<{ id: string; state: TaskState }>(SQL.staleOpen, [queuedBefore, activeBefore, limit]);
    return rows;
  }

  async expiredResults(now: number, limit: number): Promise<Array<{ id: string; blob: string }>> {
    return (await this.pool.query<{ id: string; blob: string }>(SQL.expiredResults, [now, limit])).rows;
  }

  async clearResult(id: string): Promise<void> {
    await this.pool.query(SQL.clearResult, [id]);
  }

  async purgeable(before: number, limit: number): Promise<Array<{ id: string; blobs: string[] }>> {
    const { rows } = await this.pool.query<{ id: string; source: Task['source']; result_blob: string | null }>(SQL.purgeable, [before, limit]);
    return rows.map((r) => ({ id: r.id, blobs: [r.source.blob, r.result_blob].filter((b): b is string => typeof b === 'string') }));
  }

  async delete(id: string): Promise<void> {
    await this.pool.query(SQL.delete, [id]);
  }

  async countByState(): Promise<Partial<Record<TaskState, number>>> {
    const { rows } = await this.pool.query<{ state: number; n: string }>(SQL.countByState);
    return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
  }

  // ---- keys ----------------------------------------------------------------------

  async createKey(key: { id: string; name: string; hash: string; credits: number; createdAt: number }): Promise<ApiKey> {
    return this.tx(async (c) => {
      const { rows } = await c.query<KeyRow>('INSERT INTO api_keys (id, name, key_hash, credits, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING *', [
        key.id,
        key.name,
        key.hash,
        key.credits,
        key.createdAt,
      ]);
      if (key.credits > 0) await c.query("INSERT INTO ledger (key_id, delta, reason, created_at) VALUES ($1, $2, 'grant', $3)", [key.id, key.credits, key.createdAt]);
      return withoutHash(rowToKey(rows[0]!))!;
    });
  }

  async findByHash(hash: string): Promise<(ApiKey & { hash: string }) | undefined> {
    const r = (await this.pool.query<KeyRow>('SELECT * FROM api_keys WHERE key_hash = $1', [hash])).rows[0];
    return r ? rowToKey(r) : undefined;
  }

  async findById(id: string): Promise<ApiKey | undefined> {
    const r = (await this.pool.query<KeyRow>('SELECT * FROM api_keys WHERE id = $1', [id])).rows[0];
    return withoutHash(r ? rowToKey(r) : undefined);
  }

  async listKeys(): Promise<ApiKey[]> {
    return (await this.pool.query<KeyRow>('SELECT * FROM api_keys ORDER BY created_at, id')).rows.map((r) => withoutHash(rowToKey(r))!);
  }

  async exportKeys(): Promise<Array<ApiKey & { hash: string }>> {
    return (await this.pool.query<KeyRow>('SELECT * FROM api_keys ORDER BY created_at, id')).rows.map(rowToKey);
  }

  async setDisabled(id: string, disabled: boolean): Promise<ApiKey | undefined> {
    await this.pool.query('UPDATE api_keys SET disabled = $2 WHERE id = $1', [id, disabled]);
    return this.findById(id);
  }

  async addCredits(id: string, delta: number, reason: 'grant' | 'adjust'): Promise<ApiKey | undefined> {
    return this.tx(async (c) => {
      const { rows } = await c.query<KeyRow>('UPDATE api_keys SET credits = credits + $2 WHERE id = $1 AND credits + $2 >= held RETURNING *', [id, delta]);
      if (rows.length === 0) return undefined;
      await c.query('INSERT INTO ledger (key_id, delta, reason, created_at) VALUES ($1, $2, $3, $4)', [id, delta, reason, Date.now()]);
      return withoutHash(rowToKey(rows[0]!));
    });
  }

  async ledger(keyId: string): Promise<LedgerEntry[]> {
    const { rows } = await this.pool.query<{ key_id: string; task_id: string | null; delta: string; reason: LedgerEntry['reason']; created_at: string }>(
      'SELECT key_id, task_id, delta, reason, created_at FROM ledger WHERE key_id = $1 ORDER BY id',
      [keyId],
    );
    return rows.map((r) => ({ keyId: r.key_id, taskId: r.task_id ?? undefined, delta: Number(r.delta), reason: r.reason, createdAt: Number(r.created_at) }));
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
