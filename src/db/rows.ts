import type { ApiKey } from '../keys/key-store.js';
import type { Task, TaskResult, TaskState } from '../tasks/task.js';

/**
 * Row shapes shared by the SQL adapters and their mapping to domain objects. JSON
 * columns arrive as text (SQLite) or already parsed (PostgreSQL JSONB); integers as
 * numbers (SQLite) or strings (PostgreSQL BIGINT); booleans as 0/1 or true/false.
 */
type Json<T> = T | string | null;
type Int = number | string;

export interface TaskRow {
  id: string;
  key_id: string;
  state: number;
  state_detail: string;
  progress: number;
  created_at: Int;
  processed_at: Int | null;
  completed_at: Int | null;
  request: Json<Task['request']>;
  source: Json<Task['source']>;
  input: Json<NonNullable<Task['input']>>;
  result: Json<TaskResult>;
  result_blob: string | null;
  credits: number;
  charged: number | boolean;
  attempts: number;
  error_code: string | null;
  notes: Json<string[]>;
  extra: Json<Record<string, unknown>>;
}

export interface KeyRow {
  id: string;
  name: string;
  key_hash: string;
  credits: Int;
  held: Int;
  disabled: number | boolean;
  created_at: Int;
}

function json<T>(v: Json<T>): T | undefined {
  if (v === null) return undefined;
  return typeof v === 'string' ? (JSON.parse(v) as T) : v;
}

const int = (v: Int | null): number | undefined => (v === null ? undefined : Number(v));

export function rowToTask(r: TaskRow): Task {
  return {
    id: r.id,
    keyId: r.key_id,
    state: r.state as TaskState,
    stateDetail: r.state_detail,
    progress: r.progress,
    createdAt: Number(r.created_at),
    processedAt: int(r.processed_at),
    completedAt: int(r.completed_at),
    request: json(r.request)!,
    source: json(r.source)!,
    input: json(r.input),
    // A result whose blob the sweeper deleted is gone.
    result: r.result_blob === null ? undefined : json(r.result),
    credits: r.credits,
    charged: r.charged === true || r.charged === 1,
    attempts: r.attempts,
    errorCode: (r.error_code ?? undefined) as Task['errorCode'],
    notes: json(r.notes) ?? [],
    extra: json(r.extra),
  };
}

export function rowToKey(r: KeyRow): ApiKey & { hash: string } {
  return {
    id: r.id,
    name: r.name,
    hash: r.key_hash,
    credits: Number(r.credits),
    held: Number(r.held),
    disabled: r.disabled === true || r.disabled === 1,
    createdAt: Number(r.created_at),
  };
}

export function withoutHash(k: (ApiKey & { hash: string }) | undefined): ApiKey | undefined {
  if (!k) return undefined;
  const { hash: _hash, ...rest } = k;
  return rest;
}
