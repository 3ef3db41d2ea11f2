import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { Config } from '../config/config.js';
import { maxRunningPerKey } from '../config/sections.js';
import { PgStore } from '../db/pg-store.js';
import { SqliteStore } from '../db/sqlite-store.js';
import { MemoryRateLimiter, type RateLimiter } from '../http/rate-limiter.js';
import { RedisRateLimiter } from '../http/redis-rate-limiter.js';
import type { KeyStore } from '../keys/key-store.js';
import { BullQueue } from '../queue/bull-queue.js';
import { EmbeddedQueue } from '../queue/embedded-queue.js';
import type { JobQueue } from '../queue/job-queue.js';
import type { BlobStore } from '../storage/blob-store.js';
import { FsBlobStore } from '../storage/fs-blob-store.js';
import { S3BlobStore } from '../storage/s3-blob-store.js';
import type { TaskStore } from '../tasks/task-store.js';

/**
 * The only place that chooses adapters: embedded defaults, or PostgreSQL /
 * BullMQ on Redis / S3 when their variables are set.
 */
export interface Adapters {
  readonly store: TaskStore & KeyStore;
  readonly blobs: BlobStore;
  readonly queue: JobQueue;
  readonly limiter: RateLimiter;
  /** True when this process is the only one working on its queue (restart recovery may requeue running tasks). */
  readonly embeddedQueue: boolean;
  /** For /healthz: the database's health and, in scale-out, Redis's. */
  health(): Promise<Record<string, { ok: boolean; detail: string }>>;
  close(): Promise<void>;
}

/** The task and key store alone (the keys CLI needs no queue). */
export async function openStore(config: Config): Promise<TaskStore & KeyStore> {
  if (config.databaseUrl) return PgStore.open(config.databaseUrl);
  // Signs that this DATA_DIR has been in use: an empty database beside them is refused.
  const existingState = ['url-secret', 'blobs'].map((name) => join(config.dataPath, name)).filter((p) => existsSync(p));
  return new SqliteStore(join(config.dataPath, 'clearshot.db'), { existingState, initialise: config.initDatabase });
}

/** A check that gives up after `ms` (a service that does not answer is unhealthy). */
async function within(ms: number, check: () => Promise<{ ok: boolean; detail: string }>): Promise<{ ok: boolean; detail: string }> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<{ ok: boolean; detail: string }>((resolve) => (timer = setTimeout(() => resolve({ ok: false, detail: `no answer within ${ms} ms` }), ms)));
  try {
    return await Promise.race([check().catch((err: unknown) => ({ ok: false, detail: (err as Error).message })), late]);
  } finally {
    clearTimeout(timer);
  }
}

export async function openAdapters(config: Config): Promise<Adapters> {
  const store = await openStore(config);
  const blobs: BlobStore =
    config.storage === 's3'
      ? new S3BlobStore({
          bucket: config.s3Bucket!,
          region: config.s3Region,
          endpoint: config.s3Endpoint,
          forcePathStyle: config.s3ForcePathStyle,
          prefix: config.s3Prefix,
          credentials:
            config.awsAccessKeyId && config.awsSecretAccessKey
              ? { accessKeyId: config.awsAccessKeyId, secretAccessKey: config.awsSecretAccessKey, sessionToken: config.awsSessionToken }
              : undefined,
        })
      : new FsBlobStore(join(config.dataPath, 'blobs'));
  const prefix = `${config.redisPrefix}:`;
  let redis: Redis | undefined;
  let queue: JobQueue;
  let limiter: RateLimiter;
  if (config.redisUrl) {
    redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 3 });
    redis.on('error', () => undefined);
    queue = new BullQueue({
      redisUrl: config.redisUrl,
      prefix: config.redisPrefix,
      concurrency: config.concurrency,
      lockDurationMs: config.jobLockS * 1000,
      maxStalledCount: config.maxAttempts + 2,
      maxRunningPerGroup: maxRunningPerKey(config),
    });
    limiter = new RedisRateLimiter(redis, prefix);
  } else {
    queue = new EmbeddedQueue({ concurrency: config.concurrency, retryDelayMs: 2000, maxRunningPerGroup: maxRunningPerKey(config) });
    limiter = new MemoryRateLimiter();
  }
  return {
    store,
    blobs,
    queue,
    limiter,
    embeddedQueue: !config.redisUrl,
    async health() {
      const checks: Record<string, { ok: boolean; detail: string }> = { database: await within(3000, () => store.health()) };
      if (redis) {
        const client = redis;
        checks.redis = await within(3000, async () => ((await client.ping()) === 'PONG' ? { ok: true, detail: 'ok' } : { ok: false, detail: 'unexpected PING answer' }));
      }
      return checks;
    },
    async close() {
      await redis?.quit().catch(() => undefined);
      if (blobs instanceof S3BlobStore) blobs.close();
      await store.close();
    },
  };
}
