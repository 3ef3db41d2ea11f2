import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from './paths.js';
import type { TestS3 } from './services.js';

/**
 * The real server (`node dist/src/main.js`, what `npm start` runs) as a child process.
 * With `logFile`, its stdout and stderr are appended to that file (so a hang can be read
 * afterwards); without, stdout is dropped and stderr goes to the test's stderr.
 */
export function spawnServer(env: NodeJS.ProcessEnv, logFile?: string): ChildProcess {
  const script = join(REPO_ROOT, 'dist', 'src', 'main.js');
  if (!logFile) return spawn(process.execPath, [script], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
  const fd = openSync(logFile, 'a');
  try {
    return spawn(process.execPath, [script], { env: { ...process.env, ...env }, stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd); // the child has its own copy
  }
}

/** The last `lines` lines of a log file ('' if it is missing). */
export async function logTail(file: string, lines = 60): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.split('\n').slice(-lines - 1).join('\n');
}

/** Resolves once GET /healthz answers 200; fails if the process exits first. */
export async function waitHealthy(url: string, child?: ChildProcess, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child && child.exitCode !== null) throw new Error(`server exited with code ${child.exitCode} before it was ready`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`server at ${url} did not become ready`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Resolves with the exit code once the process has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(child.exitCode) : child.once('exit', (code) => resolve(code))));
}

/** Environment of a scale-out process (ROLE=api|worker) sharing PostgreSQL, Redis and S3. */
export function scaleoutEnv(o: { port: number; role: 'api' | 'worker'; dataDir: string; databaseUrl: string; redisUrl: string; redisPrefix: string; s3: TestS3; extra?: NodeJS.ProcessEnv }): NodeJS.ProcessEnv {
  return {
    ROLE: o.role,
    PORT: String(o.port),
    HOST: '127.0.0.1',
    PUBLIC_URL: `http://127.0.0.1:${o.port}`,
    DATA_DIR: o.dataDir,
    DATABASE_URL: o.databaseUrl,
    REDIS_URL: o.redisUrl,
    REDIS_PREFIX: o.redisPrefix,
    STORAGE: 's3',
    S3_ENDPOINT: o.s3.endpoint,
    S3_BUCKET: o.s3.bucket,
    S3_FORCE_PATH_STYLE: '1',
    AWS_ACCESS_KEY_ID: o.s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: o.s3.secretAccessKey,
    CLEARSHOT_URL_SECRET: 'shared-secret-of-the-scale-out-tests-0123456789',
    CLEARSHOT_WEBHOOK_SECRET: `whsec_${Buffer.from('webhook secret of the scale-out tests').toString('base64')}`,
    CLEARSHOT_RATE_LIMIT: '0',
    CLEARSHOT_QUERY_RATE_LIMIT: '0',
    LOG_LEVEL: 'warn',
    ...o.extra,
  };
}
