import { ACTIVE_STATES, STATE, STATE_DETAIL, type TaskState } from '../tasks/task.js';
import type { TaskPatch } from '../tasks/task-store.js';

/**
 * The task statements both SQL adapters run, built in one place from the task module's
 * state constants (never bare state numbers), with `?` placeholders. SQLite runs them
 * as they are; PostgreSQL through {@link numbered}. Each adapter keeps its own DDL and
 * its own locking (SQLite transactions, PostgreSQL row locks).
 */
const ACTIVE = `state IN (${ACTIVE_STATES.join(', ')})`;
const QUEUED = `state = ${STATE.QUEUED}`;
const FINISHED = `(state = ${STATE.SUCCESS} OR state < 0)`;

export const TASK_SQL = {
  insert: `INSERT INTO tasks (id, key_id, state, state_detail, progress, created_at, request, source, input, credits) VALUES (?, ?, ${STATE.QUEUED}, ?, 0, ?, ?, ?, ?, ?)`,
  get: 'SELECT * FROM tasks WHERE id = ?',
  /** Args: progress, id, progress. Progress only grows, and only while the task is active. */
  setProgress: `UPDATE tasks SET progress = ? WHERE id = ? AND ${ACTIVE} AND progress < ?`,
  /** Args: credits, id. */
  setCredits: 'UPDATE tasks SET credits = ? WHERE id = ?',
  requeueActive: `UPDATE tasks SET state = ${STATE.QUEUED}, state_detail = ?, progress = 0, attempts = attempts + 1 WHERE ${ACTIVE} RETURNING id`,
  queuedBefore: `SELECT COUNT(*) AS n FROM tasks WHERE ${QUEUED} AND created_at < ?`,
  queuedIds: `SELECT id FROM tasks WHERE ${QUEUED} ORDER BY created_at, id LIMIT ?`,
  /** Args: queued before, active (processed) before, limit. */
  staleOpen: `SELECT id, state FROM tasks WHERE (${QUEUED} AND created_at < ?) OR (${ACTIVE} AND processed_at < ?) ORDER BY created_at LIMIT ?`,
  expiredResults: 'SELECT id, result_blob AS blob FROM tasks WHERE result_blob IS NOT NULL AND result_expires_at <= ? LIMIT ?',
  clearResult: 'UPDATE tasks SET result_blob = NULL WHERE id = ?',
  purgeable: `SELECT id, source, result_blob FROM tasks WHERE completed_at IS NOT NULL AND completed_at <= ? AND ${FINISHED} LIMIT ?`,
  delete: 'DELETE FROM tasks WHERE id = ?',
  countByState: 'SELECT state, COUNT(*) AS n FROM tasks GROUP BY state',
  /** Args: credits, key id, credits. Holds credits unless that would exceed the balance. */
  hold: 'UPDATE api_keys SET held = held + ? WHERE id = ? AND credits - held >= ?',
  /** Args: credits, key id. */
  release: 'UPDATE api_keys SET held = held - ? WHERE id = ?',
  /** Args: key id, task id, -credits, at. The unique index on debit rows allows one per task. */
  debit: "INSERT INTO ledger (key_id, task_id, delta, reason, created_at) VALUES (?, ?, ?, 'debit', ?)",
  /** Args: credits, credits, key id. */
  charge: 'UPDATE api_keys SET credits = credits - ?, held = held - ? WHERE id = ?',
  /** Args: task id, url, at, at. */
  oweWebhook: "INSERT INTO webhook_deliveries (task_id, url, status, next_at, created_at) VALUES (?, ?, 'pending', ?, ?) ON CONFLICT (task_id) DO NOTHING",
} as const;

/** The arguments of {@link TASK_SQL.requeueActive}. */
export const REQUEUE_ARGS: readonly unknown[] = [STATE_DETAIL[STATE.QUEUED]];

/** The arguments of {@link TASK_SQL.insert} for a new task (JSON columns as text). */
export function insertArgs(task: { id: string; keyId: string; createdAt: number; request: unknown; source: unknown; input?: unknown; credits: number }): unknown[] {
  return [task.id, task.keyId, STATE_DETAIL[STATE.QUEUED], task.createdAt, JSON.stringify(task.request), JSON.stringify(task.source), task.input ? JSON.stringify(task.input) : null, task.credits];
}

/**
 * `UPDATE tasks SET ... WHERE id = ?` for a move to `to` with `patch`, plus `extra`
 * columns (already in the adapter's representation). JSON columns go as text, which
 * both SQLite and PostgreSQL's JSONB accept. The last argument is the id.
 */
export function taskUpdate(id: string, to: TaskState, patch: TaskPatch, extra: Readonly<Record<string, unknown>> = {}): { sql: string; args: unknown[] } {
  const sets = ['state = ?', 'state_detail = ?'];
  const args: unknown[] = [to, patch.stateDetail ?? STATE_DETAIL[to]];
  const add = (column: string, value: unknown) => {
    sets.push(`${column} = ?`);
    args.push(value);
  };
  if (patch.progress !== undefined) add('progress', patch.progress);
  if (patch.processedAt !== undefined) add('processed_at', patch.processedAt);
  if (patch.completedAt !== undefined) add('completed_at', patch.completedAt);
  if (patch.source !== undefined) add('source', JSON.stringify(patch.source));
  if (patch.input !== undefined) add('input', JSON.stringify(patch.input));
  if (patch.errorCode !== undefined) add('error_code', patch.errorCode);
  if (patch.notes !== undefined) add('notes', JSON.stringify(patch.notes));
  if (patch.extra !== undefined) add('extra', JSON.stringify(patch.extra));
  for (const [column, value] of Object.entries(extra)) add(column, value);
  if (patch.countAttempt) sets.push('attempts = attempts + 1');
  return { sql: `UPDATE tasks SET ${sets.join(', ')} WHERE id = ?`, args: [...args, id] };
}

/** PostgreSQL's numbered placeholders: the n-th `?` becomes `$n`. */
export function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}
