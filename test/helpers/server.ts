import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { startService, type Service } from '../../src/app/service.js';
import { loadConfig, type Config } from '../../src/config/config.js';
import { EnginePool } from '../../src/engine/engine-pool.js';
import type { Engine } from '../../src/engine/local-engine.js';
import { TEST_DATA_DIR } from './paths.js';

/**
 * A real ClearShot server on a loopback port, with its own data directory (converted
 * models are shared through a symlink), for HTTP tests. Engines are expensive to start,
 * so a test file may share one across servers.
 */
export interface TestServer {
  readonly url: string;
  readonly service: Service;
  readonly config: Config;
  readonly dataDir: string;
  /** Bootstrap key with plenty of credits. */
  readonly key: string;
  /** Moves the injected clock forward. */
  advance(ms: number): void;
  stop(): Promise<void>;
}

let sharedEngine: Promise<EnginePool> | undefined;

/** One engine pool for the whole test process (fast model preloaded, small tiles). */
export function testEngine(): Promise<Engine> {
  sharedEngine ??= EnginePool.start({ dataDir: TEST_DATA_DIR, threads: 2, concurrency: 1, preload: ['fast'] });
  return sharedEngine;
}

export async function closeTestEngine(): Promise<void> {
  if (sharedEngine) await (await sharedEngine).close();
  sharedEngine = undefined;
}

/** An `after` hook's cleanup: stops the server (if it started), then the shared engine even if stopping failed. */
export async function stopTestServer(server: TestServer | undefined): Promise<void> {
  try {
    await server?.stop();
  } finally {
    await closeTestEngine();
  }
}

export async function startTestServer(env: Record<string, string> = {}, options: { engine?: Engine; dataDir?: string; logger?: Logger } = {}): Promise<TestServer> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'clearshot-api-')));
  if (!options.dataDir) await symlink(join(TEST_DATA_DIR, 'models'), join(dataDir, 'models'));
  let offset = 0;
  const key = env.CLEARSHOT_BOOTSTRAP_KEY ?? 'cs_test_key_0123456789abcdef0123456789';
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const config = loadConfig({
    DATA_DIR: dataDir,
    PORT: String(port),
    PUBLIC_URL: url,
    HOST: '127.0.0.1',
    CLEARSHOT_THREADS: '2',
    CLEARSHOT_BOOTSTRAP_KEY: key,
    CLEARSHOT_BOOTSTRAP_CREDITS: '100000',
    CLEARSHOT_RATE_LIMIT: '0',
    CLEARSHOT_QUERY_RATE_LIMIT: '0',
    LOG_LEVEL: 'silent',
    ...env,
  });
  const service = await startService({
    config,
    logger: options.logger ?? pino({ level: 'silent' }),
    now: () => Date.now() + offset,
    engine: options.engine ?? (await testEngine()),
    sweeper: false,
  });
  await service.app.listen({ port, host: '127.0.0.1' });
  return {
    url,
    service,
    config,
    dataDir,
    key,
    advance: (ms) => {
      offset += ms;
    },
    async stop() {
      await service.close(1000);
      if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A free loopback port (the result URLs need it before the server listens). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      s.close(() => resolve(port));
    });
  });
}
