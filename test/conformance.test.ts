import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from 'node:http';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Redis } from 'ioredis';
import { PgStore } from '../src/db/pg-store.js';
import { SqliteStore } from '../src/db/sqlite-store.js';
import { MemoryRateLimiter } from '../src/http/rate-limiter.js';
import { RedisRateLimiter } from '../src/http/redis-rate-limiter.js';
import { BullQueue } from '../src/queue/bull-queue.js';
import { EmbeddedQueue } from '../src/queue/embedded-queue.js';
import { FsBlobStore } from '../src/storage/fs-blob-store.js';
import { S3BlobStore } from '../src/storage/s3-blob-store.js';
import { blobConformance } from './conformance/blob-conformance.js';
import { limiterConformance } from './conformance/limiter-conformance.js';
import { queueConformance } from './conformance/queue-conformance.js';
import { storeConformance } from './conformance/store-conformance.js';
import { createRedisPrefix, createTestDatabase, startS3 } from './helpers/services.js';

/** Every port's conformance suite against every adapter, on the real services. */

storeConformance('SQLite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'clearshot-sqlite-'));
  return { store: new SqliteStore(join(dir, 'db.sqlite')), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

storeConformance('PostgreSQL', async () => {
  const db = await createTestDatabase();
  return { store: await PgStore.open(db.url), cleanup: db.drop };
});

blobConformance('local files', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'clearshot-blobs-'));
  return { blobs: new FsBlobStore(dir), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

blobConformance('S3 (s3rver, path style)', async () => {
  const s3 = await startS3();
  const blobs = new S3BlobStore({
    bucket: s3.bucket,
    region: 'us-east-1',
    endpoint: s3.endpoint,
    forcePathStyle: true,
    prefix: 'conformance/',
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
  return {
    blobs,
    cleanup: async () => {
      blobs.close();
      await s3.stop();
    },
  };
});

blobConformance('S3 (s3rver, virtual-host style)', async () => {
  const s3 = await startS3();
  const port = new URL(s3.endpoint).port;
  // <bucket>.s3.localhost must reach s3rver: resolve every *.localhost name to loopback.
  const lookup = (_host: string, options: unknown, callback: (e: null, address: string | Array<{ address: string; family: number }>, family?: number) => void) => {
    if ((options as { all?: boolean }).all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
    else callback(null, '127.0.0.1', 4);
  };
  const blobs = new S3BlobStore({
    bucket: s3.bucket,
    region: 'us-east-1',
    endpoint: `http://s3.localhost:${port}`,
    forcePathStyle: false,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    requestHandler: new NodeHttpHandler({ httpAgent: new Agent({ lookup: lookup as never }) }),
  });
  return {
    blobs,
    cleanup: async () => {
      blobs.close();
      await s3.stop();
    },
  };
});

queueConformance('in-process', async (concurrency, maxRunningPerGroup) => ({ queue: new EmbeddedQueue({ concurrency, retryDelayMs: 50, maxRunningPerGroup }), cleanup: async () => undefined }));

queueConformance('BullMQ on Redis', async (concurrency, maxRunningPerGroup) => {
  const redis = await createRedisPrefix();
  const queue = new BullQueue({ redisUrl: redis.url, prefix: redis.prefix, concurrency, lockDurationMs: 5000, maxStalledCount: 5, retryDelayMs: 50, maxRunningPerGroup });
  return { queue, cleanup: redis.clear };
});

limiterConformance('in memory', async () => ({ limiter: new MemoryRateLimiter(), cleanup: async () => undefined }));

limiterConformance('Redis', async () => {
  const r = await createRedisPrefix();
  const client = new Redis(r.url);
  return {
    limiter: new RedisRateLimiter(client, `${r.prefix}:`),
    cleanup: async () => {
      await client.quit();
      await r.clear();
    },
  };
});
