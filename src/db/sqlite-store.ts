import { closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { ClearShotError } from '../errors/index.js';
import type { ApiKey, KeyStore, LedgerEntry } from '../keys/key-store.js';
import { STATE, statesBefore, type Task, type TaskResult, type TaskState } from '../tasks/task.js';
import type { NewTask, TaskPatch, TaskStore } from '../tasks/task-store.js';
import type { WebhookDelivery, WebhookOutcome, WebhookStatus } from '../webhooks/webhook-store.js';
import { rowToKey, rowToTask, withoutHash, type KeyRow, type TaskRow } from './rows.js';
import { migrations } from './schema.js';
import { insertArgs, REQUEUE_ARGS, TASK_SQL, taskUpdate } from './task-sql.js';

/**
 * Embedded adapter for the task and key stores: one SQLite file in WAL mode.
 *
 * Invariants the schema itself enforces: a balance is never negative, credits held by
 * open tasks never exceed the balance, and a task is debited at most once (a unique
 * index on debit ledger rows). better-sqlite3 is synchronous, so each method's
 * transaction is atomic within the process; across processes SQLite's locks apply.
 */
const MIGRATIONS = migrations('sqlite');

export interface SqliteOpenOptions {
  /**
   * Other state of this installation that exists (e.g. `DATA_DIR/url-secret`): an
   * existing database file that is empty or has no ClearShot schema is then refused,
   * because starting afresh would forget every key, balance and ledger row and grant
   * the bootstrap key its credits again.
   */
  readonly existingState?: readonly string[];
  /** Initialise such a database anyway (CLEARSHOT_INIT_DATABASE=1). */
  readonly initialise?: boolean;
}

/** A fatal start-up error that names the database file. */
function unusable(path: string, why: string, cause?: unknown): ClearShotError {
  return new ClearShotError('DATABASE_INVALID', `the SQLite database ${path} ${why}`, { cause });
}

export class SqliteStore implements TaskStore, KeyStore {
  private readonly db: Database.Database;
  private lastCheck = { at: 0, ok: true, detail: 'ok' };

  /**
   * Opens (or creates, with mode 0600) the database, then refuses to go on with one
   * that is damaged (SQLite's quick_check), from a newer ClearShot, or empty while
   * other state exists (see {@link SqliteOpenOptions}).
   */
  constructor(path: string, options: SqliteOpenOptions = {}) {
    let existed = false;
    if (path !== ':memory:') {
      mkdirSync(dirname(path), { recursive: true });
      existed = existsSync(path);
      if (!existed) {
        try {
          closeSync(openSync(path, 'wx', 0o600)); // SQLite gives its -wal and -shm files the same mode
        } catch {
          existed = true; // created by another process meanwhile
        }
      }
    }
    const wasEmpty = existed && statSync(path).size === 0;
    try {
      this.db = new Database(path);
    } catch (err) {
      throw unusable(path, `cannot be opened: ${(err as Error).message}`, err);
    }
    try {
      // Read-only checks first: switching to WAL would write a header into an empty file.
      this.db.pragma('busy_timeout = 5000');
      const check = this.quickCheck();
      if (check !== 'ok') throw unusable(path, `is damaged (quick_check: ${check}); restore it from a backup`);
      const version = this.db.pragma('user_version', { simple: true }) as number;
      if (version > MIGRATIONS.length) throw unusable(path, `has schema version ${version}, newer than this ClearShot knows (${MIGRATIONS.length}): run the newer version`);
      if (existed && version === 0 && options.existingState?.length && !options.initialise) {
        throw unusable(
          path,
          `is ${wasEmpty ? 'empty' : 'not a ClearShot database (no schema)'} but ${options.existingState.join(' and ')} exist${options.existingState.length === 1 ? 's' : ''}: ` +
            'starting afresh would forget every key, balance and ledger row. Restore the file, or set CLEARSHOT_INIT_DATABASE=1 to initialise it',
        );
      }
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('foreign_keys = ON');
      this.migrate();
    } catch (err) {
      this.db.close();
      if (err instanceof ClearShotError) throw err;
      throw unusable(path, `is damaged or not a SQLite database: ${(err as Error).message}`, err);
    }
  }

  /** SQLite's quick integrity check: 'ok', or its first findings joined. */
  private quickCheck(): string {
    const rows = this.db.pragma('quick_check(5)') as Array<{ quick_check: string }>;
    return rows.map((r) => r.quick_check).join('; ');
  }

  /**
   * For /healthz: every table answers a read, and SQLite's quick_check passes (run at
   * most once a minute: it reads the whole file).
   */
  async health(): Promise<{ ok: boolean; detail: string }> {
    try {
      for (const table of ['api_keys', 'tasks', 'ledger']) this.db.prepare(`SELECT 1 FROM ${table} LIMIT 1`).get();
      if (Date.now() - this.lastCheck.at > 60_000 || !this.lastCheck.ok) {
        const check = this.quickCheck();
        this.lastCheck = { at: Date.now(), ok: check === 'ok', detail: check === 'ok' ? 'ok' : 'damaged (quick_check failed)' };
      }
      return { ok: this.lastCheck.ok, detail: this.lastCheck.detail };
    } catch (err) {
      return { ok: false, detail: `unreadable: ${(err as Error).message}` };
    }
  }

  /** Versioned, idempotent: PRAGMA user_version counts the migrations applied. */
  private migrate(): void {
    const current = this.db.pragma('user_version', { simple: true }) as number;
    for (let v = current; v < MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]!);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  private row(id: string): TaskRow | undefined {
    return this.db.prepare(TASK_SQL.get).get(id) as TaskRow | undefined;
  }

  // ---- tasks ---------------------------------------------------------------------

  async create(task: NewTask): Promise<Task> {
    return this.db.transaction(() => {
      const key = this.db.prepare('SELECT * FROM api_keys WHERE id = ?').get(task.keyId) as KeyRow | undefined;
      if (!key || key.disabled) throw new ClearShotError('UNAUTHORIZED');
      const held = this.db.prepare(TASK_SQL.hold).run(task.credits, task.keyId, task.credits);
      if (held.changes === 0) {
        throw new ClearShotError('INSUFFICIENT_CREDITS', `not enough credits: this image costs ${task.credits}, the key has ${Number(key.credits) - Number(key.held)} available`);
      }
      this.db.prepare(TASK_SQL.insert).run(...insertArgs(task));
      return rowToTask(this.row(task.id)!);
    })();
  }

  async get(id: string): Promise<Task | undefined> {
    const r = this.row(id);
    return r ? rowToTask(r) : undefined;
  }

  async transition(id: string, to: TaskState, patch: TaskPatch = {}): Promise<Task | undefined> {
    return this.db.transaction(() => {
      const r = this.row(id);
      if (!r || !statesBefore(to).includes(r.state as TaskState)) return undefined;
      this.applyUpdate(id, to, patch);
      if (to < 0 && !r.charged) this.db.prepare(TASK_SQL.release).run(r.credits, r.key_id);
      if (to < 0) this.oweWebhook(r, patch.completedAt);
      return rowToTask(this.row(id)!);
    })();
  }

  private applyUpdate(id: string, to: TaskState, patch: TaskPatch, extra: Readonly<Record<string, unknown>> = {}): void {
    const { sql, args } = taskUpdate(id, to, patch, extra);
    this.db.prepare(sql).run(...args);
  }

  /** Inside the final transition's transaction: the callback becomes owed atomically with the end. */
  private oweWebhook(r: TaskRow, at: number | undefined): void {
    const url = (JSON.parse(r.request as string) as Task['request']).callbackUrl;
    if (!url) return;
    const now = at ?? Date.now();
    this.db.prepare(TASK_SQL.oweWebhook).run(r.id, url, now, now);
  }

  // ---- webhooks ------------------------------------------------------------------

  async claimWebhooks(now: number, leaseUntil: number, limit: number): Promise<WebhookDelivery[]> {
    // IMMEDIATE: take the write lock first, so two processes never claim the same rows.
    return this.db
      .transaction(() => {
        const rows = this.db
          .prepare("SELECT task_id FROM webhook_deliveries WHERE status = 'pending' AND next_at <= ? ORDER BY next_at LIMIT ?")
          .all(now, limit) as Array<{ task_id: string }>;
        const claim = this.db.prepare('UPDATE webhook_deliveries SET attempts = attempts + 1, next_at = ? WHERE task_id = ? RETURNING task_id, url, attempts');
        return rows.map((r) => {
          const c = claim.get(leaseUntil, r.task_id) as { task_id: string; url: string; attempts: number };
          return { taskId: c.task_id, url: c.url, attempts: c.attempts };
        });
      })
      .immediate();
  }

  async finishWebhook(taskId: string, attempts: number, outcome: WebhookOutcome): Promise<boolean> {
    const done = outcome.status !== 'pending';
    const r = this.db
      .prepare("UPDATE webhook_deliveries SET status = ?, next_at = ?, last_error = ?, finished_at = ? WHERE task_id = ? AND attempts = ? AND status = 'pending'")
      .run(outcome.status, outcome.nextAt ?? outcome.at, outcome.error ?? null, done ? outcome.at : null, taskId, attempts);
    return r.changes > 0;
  }

  async webhookOf(taskId: string): Promise<{ url: string; status: WebhookStatus; attempts: number; nextAt: number; lastError?: string } | undefined> {
    const r = this.db.prepare('SELECT * FROM webhook_deliveries WHERE task_id = ?').get(taskId) as
      | { url: string; status: WebhookStatus; attempts: number; next_at: number; last_error: string | null }
      | undefined;
    return r ? { url: r.url, status: r.status, attempts: r.attempts, nextAt: r.next_at, ...(r.last_error ? { lastError: r.last_error } : {}) } : undefined;
  }

  async pendingWebhooks(): Promise<number> {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status = 'pending'").get() as { n: number }).n;
  }

  async setProgress(id: string, progress: number): Promise<void> {
    this.db.prepare(TASK_SQL.setProgress).run(progress, id, progress);
  }

  async raiseHold(id: string, credits: number): Promise<boolean> {
    return this.db.transaction(() => {
      const r = this.row(id);
      if (!r || r.state === STATE.SUCCESS || r.state < 0) return false;
      const more = credits - r.credits;
      if (more <= 0) return true;
      const held = this.db.prepare(TASK_SQL.hold).run(more, r.key_id, more);
      if (held.changes === 0) return false;
      this.db.prepare(TASK_SQL.setCredits).run(credits, id);
      return true;
    })();
  }

  async complete(id: string, result: TaskResult, patch: TaskPatch = {}): Promise<Task | undefined> {
    return this.db.transaction(() => {
      const r = this.row(id);
      if (!r || r.state !== STATE.PROCESSING) return undefined;
      this.applyUpdate(id, STATE.SUCCESS, { ...patch, progress: 100 }, { result: JSON.stringify(result), result_blob: result.blob, result_expires_at: result.expiresAt, charged: 1 });
      this.db.prepare(TASK_SQL.debit).run(r.key_id, id, -r.credits, Date.now());
      this.db.prepare(TASK_SQL.charge).run(r.credits, r.credits, r.key_id);
      this.oweWebhook(r, patch.completedAt);
      return rowToTask(this.row(id)!);
    })();
  }

  async requeueActive(): Promise<string[]> {
    const rows = this.db.prepare(TASK_SQL.requeueActive).all(...REQUEUE_ARGS) as Array<{ id: string }>;
    return rows.map((r) => r.id);
  }

  async queuedBefore(createdAt: number): Promise<number> {
    return (this.db.prepare(TASK_SQL.queuedBefore).get(createdAt) as { n: number }).n;
  }

  async queuedIds(limit: number): Promise<string[]> {
    return (this.db.prepare(TASK_SQL.queuedIds).all(limit) as Array<{ id: string }>).map((r) => r.id);
  }

  async staleOpenTasks(queuedBefore: number, activeBefore: number, limit: number): Promise<Array<{ id: string; state: TaskState }>> {
    return this.db.prepare(TASK_SQL.staleOpen).all(queuedBefore, activeBefore, limit) as Array<{ id: string; state: TaskState }>;
  }

  async expiredResults(now: number, limit: number): Promise<Array<{ id: string; blob: string }>> {
    return this.db.prepare(TASK_SQL.expiredResults).all(now, limit) as Array<{ id: string; blob: string }>;
  }

  async clearResult(id: string): Promise<void> {
    this.db.prepare(TASK_SQL.clearResult).run(id);
  }

  async purgeable(before: number, limit: number): Promise<Array<{ id: string; blobs: string[] }>> {
    const rows = this.db.prepare(TASK_SQL.purgeable).all(before, limit) as Array<{ id: string; source: string; result_blob: string | null }>;
    return rows.map((r) => {
      const source = JSON.parse(r.source) as Task['source'];
      const blobs = [source.blob, r.result_blob].filter((b): b is string => typeof b === 'string');
      return { id: r.id, blobs };
    });
  }

  async delete(id: string): Promise<void> {
    this.db.prepare(TASK_SQL.delete).run(id);
  }

  async countByState(): Promise<Partial<Record<TaskState, number>>> {
    const rows = this.db.prepare(TASK_SQL.countByState).all() as Array<{ state: TaskState; n: number }>;
    return Object.fromEntries(rows.map((r) => [r.state, r.n]));
  }

  // ---- keys ----------------------------------------------------------------------

  async createKey(key: { id: string; name: string; hash: string; credits: number; createdAt: number }): Promise<ApiKey> {
    return this.db.transaction(() => {
      this.db.prepare('INSERT INTO api_keys (id, name, key_hash, credits, created_at) VALUES (?, ?, ?, ?, ?)').run(key.id, key.name, key.hash, key.credits, key.createdAt);
      if (key.credits > 0) this.db.prepare("INSERT INTO ledger (key_id, delta, reason, created_at) VALUES (?, ?, 'grant', ?)").run(key.id, key.credits, key.createdAt);
      return withoutHash(rowToKey(this.db.prepare('SELECT * FROM api_keys WHERE id = ?').get(key.id) as KeyRow))!;
    })();
  }

  async findByHash(hash: string): Promise<(ApiKey & { hash: string }) | undefined> {
    const r = this.db.prepare('SELECT * FROM api_keys WHERE key_hash = ?').get(hash) as KeyRow | undefined;
    return r ? rowToKey(r) : undefined;
  }

  async findById(id: string): Promise<ApiKey | undefined> {
    const r = this.db.prepare('SELECT * FROM api_keys WHERE id = ?').get(id) as KeyRow | undefined;
    return withoutHash(r ? rowToKey(r) : undefined);
  }

  async listKeys(): Promise<ApiKey[]> {
    return (this.db.prepare('SELECT * FROM api_keys ORDER BY created_at, id').all() as KeyRow[]).map((r) => withoutHash(rowToKey(r))!);
  }

  async exportKeys(): Promise<Array<ApiKey & { hash: string }>> {
    return (this.db.prepare('SELECT * FROM api_keys ORDER BY created_at, id').all() as KeyRow[]).map(rowToKey);
  }

  async setDisabled(id: string, disabled: boolean): Promise<ApiKey | undefined> {
    this.db.prepare('UPDATE api_keys SET disabled = ? WHERE id = ?').run(disabled ? 1 : 0, id);
    return this.findById(id);
  }

  async addCredits(id: string, delta: number, reason: 'grant' | 'adjust'): Promise<ApiKey | undefined> {
    return this.db.transaction(() => {
      // Never below what open tasks hold (and so never negative).
      const updated = this.db.prepare('UPDATE api_keys SET credits = credits + ? WHERE id = ? AND credits + ? >= held').run(delta, id, delta);
      if (updated.changes === 0) return undefined;
      this.db.prepare('INSERT INTO ledger (key_id, delta, reason, created_at) VALUES (?, ?, ?, ?)').run(id, delta, reason, Date.now());
      return withoutHash(rowToKey(this.db.prepare('SELECT * FROM api_keys WHERE id = ?').get(id) as KeyRow));
    })();
  }

  async ledger(keyId: string): Promise<LedgerEntry[]> {
    const rows = this.db.prepare('SELECT key_id, task_id, delta, reason, created_at FROM ledger WHERE key_id = ? ORDER BY id').all(keyId) as Array<{
      key_id: string;
      task_id: string | null;
      delta: number;
      reason: LedgerEntry['reason'];
      created_at: number;
    }>;
    return rows.map((r) => ({ keyId: r.key_id, taskId: r.task_id ?? undefined, delta: r.delta, reason: r.reason, createdAt: r.created_at }));
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
