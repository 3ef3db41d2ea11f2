/**
 * The schema of the task and key stores, one migration per entry, written once for both
 * SQL dialects: the column types that differ (64-bit integers, JSON, booleans, the
 * ledger's serial key) come from the dialect. Applied in order; `user_version`
 * (SQLite) or `schema_migrations` (PostgreSQL) records how many ran. Never edit an
 * applied entry: add one.
 */
export type Dialect = 'sqlite' | 'pg';

const TYPES: Readonly<Record<Dialect, { int64: string; json: string; bool: string; no: string; serial: string }>> = {
  sqlite: { int64: 'INTEGER', json: 'TEXT', bool: 'INTEGER', no: '0', serial: 'INTEGER PRIMARY KEY AUTOINCREMENT' },
  pg: { int64: 'BIGINT', json: 'JSONB', bool: 'BOOLEAN', no: 'FALSE', serial: 'BIGSERIAL PRIMARY KEY' },
};

export function migrations(dialect: Dialect): readonly string[] {
  const t = TYPES[dialect];
  return [
    `CREATE TABLE api_keys (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     key_hash TEXT NOT NULL UNIQUE,
     credits ${t.int64} NOT NULL CHECK (credits >= 0),
     held ${t.int64} NOT NULL DEFAULT 0 CHECK (held >= 0 AND held <= credits),
     disabled ${t.bool} NOT NULL DEFAULT ${t.no},
     created_at ${t.int64} NOT NULL
   );
   CREATE TABLE tasks (
     id TEXT PRIMARY KEY,
     key_id TEXT NOT NULL REFERENCES api_keys(id),
     state INTEGER NOT NULL,
     state_detail TEXT NOT NULL,
     progress INTEGER NOT NULL DEFAULT 0,
     created_at ${t.int64} NOT NULL,
     processed_at ${t.int64},
     completed_at ${t.int64},
     request ${t.json} NOT NULL,
     source ${t.json} NOT NULL,
     input ${t.json},
     result ${t.json},
     result_blob TEXT,
     result_expires_at ${t.int64},
     credits INTEGER NOT NULL,
     charged ${t.bool} NOT NULL DEFAULT ${t.no},
     attempts INTEGER NOT NULL DEFAULT 0,
     error_code TEXT,
     notes ${t.json} NOT NULL DEFAULT '[]',
     extra ${t.json}
   );
   CREATE INDEX tasks_by_state ON tasks(state, created_at);
   CREATE INDEX tasks_by_expiry ON tasks(result_expires_at) WHERE result_blob IS NOT NULL;
   CREATE INDEX tasks_by_completion ON tasks(completed_at);
   CREATE TABLE ledger (
     id ${t.serial},
     key_id TEXT NOT NULL REFERENCES api_keys(id),
     task_id TEXT,
     delta ${t.int64} NOT NULL,
     reason TEXT NOT NULL,
     created_at ${t.int64} NOT NULL
   );
   CREATE UNIQUE INDEX ledger_one_debit_per_task ON ledger(task_id) WHERE reason = 'debit';
   CREATE INDEX ledger_by_key ON ledger(key_id, id);`,
    // Webhook deliveries owed for ended tasks with a callback_url (src/webhooks).
    `CREATE TABLE webhook_deliveries (
     task_id TEXT PRIMARY KEY REFERENCES tasks(id) ON DELETE CASCADE,
     url TEXT NOT NULL,
     status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
     attempts INTEGER NOT NULL DEFAULT 0,
     next_at ${t.int64} NOT NULL,
     last_error TEXT,
     created_at ${t.int64} NOT NULL,
     finished_at ${t.int64}
   );
   CREATE INDEX webhooks_due ON webhook_deliveries(next_at) WHERE status = 'pending';`,
  ];
}
