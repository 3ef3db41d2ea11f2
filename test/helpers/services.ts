import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';

/**
 * The real services the scale-out tests use: PostgreSQL and Redis on this machine
 * (CI's .ci/run starts them), and s3rver as a local S3 endpoint. Each test run gets
 * its own database, key prefix and bucket directory, so runs never collide.
 *
 * Override the locations with CLEARSHOT_TEST_DATABASE_URL (an admin connection used to
 * create and drop databases) and CLEARSHOT_TEST_REDIS_URL.
 */
export const ADMIN_DATABASE_URL = process.env.CLEARSHOT_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const TEST_REDIS_URL = process.env.CLEARSHOT_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

const suffix = () => randomBytes(5).toString('hex');

export async function createTestDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `clearshot_test_${suffix()}`;
  const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(`PostgreSQL is needed by the scale-out tests at ${ADMIN_DATABASE_URL} (set CLEARSHOT_TEST_DATABASE_URL): ${(err as Error).message}`);
  }
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export async function createRedisPrefix(): Promise<{ url: string; prefix: string; clear: () => Promise<void> }> {
  const prefix = `clearshot-test-${suffix()}`;
  const probe = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await probe.connect();
    await probe.ping();
  } catch (err) {
    probe.disconnect();
    throw new Error(`Redis is needed by the scale-out tests at ${TEST_REDIS_URL} (set CLEARSHOT_TEST_REDIS_URL): ${(err as Error).message}`);
  }
  return {
    url: TEST_REDIS_URL,
    prefix,
    clear: async () => {
      let cursor = '0';
      do {
        const [next, keys] = await probe.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
        if (keys.length) await probe.del(...keys);
        cursor = next;
      } while (cursor !== '0');
      await probe.quit();
    },
  };
}

export interface TestS3 {
  readonly endpoint: string;
  readonly bucket: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  stop(): Promise<void>;
}

/**
 * s3rver on a loopback port with a fresh directory and one bucket. It understands both
 * path-style requests and virtual-host ones addressed to <bucket>.s3.localhost.
 */
export async function startS3(): Promise<TestS3> {
  const { default: S3rver } = (await import('s3rver')) as unknown as { default: new (options: Record<string, unknown>) => { run(): Promise<{ address: string; port: number }>; close(): Promise<void> } };
  const directory = await mkdtemp(join(tmpdir(), 'clearshot-s3-'));
  const bucket = 'clearshot-test';
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, serviceEndpoint: 'localhost', configureBuckets: [{ name: bucket }] });
  const { address, port } = await server.run();
  return {
    endpoint: `http://${address}:${port}`,
    bucket,
    // s3rver's fixed credentials.
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    async stop() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
