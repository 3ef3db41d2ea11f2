import type { PoolConfig } from '../engine/engine-pool.js';
import type { ModelName } from '../engine/types.js';
import { MAX_REDIRECTS, MAX_URL_LENGTH, type FetchLimits } from '../net/url-fetcher.js';
import type { TaskServiceConfig } from '../tasks/task-service.js';
import type { ProcessorConfig } from '../worker/task-processor.js';
import type { Config } from './config.js';

/**
 * Limits on how long a client may hold a connection, and how many one address may
 * hold (issue 13): without them a client with no key could trickle a body and keep a
 * connection open for ever. Applied to every HTTP app (API and a worker's ops app).
 *
 * - `requestTimeoutMs`: the whole request (headers and body) must arrive within this
 *   time, or Node answers 408 and closes the connection. Only the receiving counts: a
 *   sync request that waits for its task after its body arrived is not cut.
 * - `idleTimeoutMs`: a connection with no traffic either way for this long is closed
 *   (longer than the sync wait, during which the connection is silent).
 * - `maxPerAddress`: connections one client address may have open at once; the next is
 *   answered 429 in the usual envelope and closed. 0 = no cap.
 */
export interface ConnectionLimits {
  readonly requestTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly maxPerAddress: number;
}

/**
 * Each component's section of the validated configuration, in the units it works in
 * (ms, bytes, pixels). The only place settings are mapped onto components: the service
 * (app/service.ts), the CLI and the adapters all take their part from here.
 */

/** The engine: models, threads, compute budget, face step (the service and `clearshot enhance`). */
export function engineSection(config: Config): Omit<PoolConfig, 'log'> {
  return {
    dataDir: config.dataPath,
    threads: config.threads,
    provider: config.provider,
    modelSourceDir: config.modelDir,
    concurrency: config.concurrency,
    tuning: { maxNetPixels: config.maxNetMegapixels * 1e6 },
    face: { strength: config.faceStrength, model: config.faceModel },
    restore1x: config.restore1x,
    precision: { setting: config.precision, minPsnr: config.int8MinPsnr, assumeNoVnni: config.int8AssumeNoVnni },
  };
}

export function maxUploadBytes(config: Config): number {
  return config.maxUploadMb * 1024 * 1024;
}

/** Downloads of image_url. */
export function fetchSection(config: Config): FetchLimits {
  return {
    timeoutMs: config.downloadTimeoutS * 1000,
    maxBytes: maxUploadBytes(config),
    maxRedirects: MAX_REDIRECTS,
    maxUrlLength: MAX_URL_LENGTH,
    allowPrivate: config.allowPrivateUrls,
  };
}

/** The job handler (worker/task-processor.ts). */
export function processorSection(config: Config): ProcessorConfig {
  return {
    taskTimeoutMs: config.taskTimeoutS * 1000,
    resultTtlMs: config.resultTtlS * 1000,
    maxAttempts: config.maxAttempts,
    fetch: fetchSection(config),
  };
}

/** The task service (tasks/task-service.ts). */
export function taskServiceSection(config: Config): TaskServiceConfig {
  return { resultTtlMs: config.resultTtlS * 1000, retentionMs: config.retentionS * 1000 };
}

/** What the HTTP layer needs of the settings (http/app.ts). */
export interface HttpSection {
  readonly defaultModel: ModelName;
  readonly maxUploadBytes: number;
  readonly maxUrlLength: number;
  readonly rateLimit: number;
  readonly queryRateLimit: number;
  readonly syncTimeoutMs: number;
  readonly resultTtlMs: number;
  readonly allowPrivateUrls: boolean;
  readonly events: { readonly maxPerKey: number; readonly maxMs: number; readonly heartbeatMs: number; readonly pollMs?: number };
  readonly connections: ConnectionLimits;
  readonly metricsToken: string | undefined;
}

export function httpSection(config: Config): HttpSection {
  return {
    defaultModel: config.defaultModel,
    maxUploadBytes: maxUploadBytes(config),
    maxUrlLength: MAX_URL_LENGTH,
    rateLimit: config.rateLimit,
    queryRateLimit: config.queryRateLimit,
    syncTimeoutMs: config.syncTimeoutS * 1000,
    resultTtlMs: config.resultTtlS * 1000,
    allowPrivateUrls: config.allowPrivateUrls,
    events: { maxPerKey: config.eventsMaxPerKey, maxMs: config.eventsMaxS * 1000, heartbeatMs: config.eventsHeartbeatS * 1000 },
    connections: connectionsSection(config),
    metricsToken: config.metricsToken,
  };
}

/** Request/idle timeouts and the per-address cap (the API and a worker's ops port). */
export function connectionsSection(config: Config): ConnectionLimits {
  return {
    requestTimeoutMs: config.requestTimeoutS * 1000,
    idleTimeoutMs: (config.idleTimeoutS ?? config.syncTimeoutS + 30) * 1000,
    maxPerAddress: config.maxConnectionsPerAddress,
  };
}

/** CLEARSHOT_MAX_RUNNING_PER_KEY, or by default one slot fewer than the concurrency (at least 1). */
export function maxRunningPerKey(config: Config): number {
  return config.maxRunningPerKey ?? Math.max(1, config.concurrency - 1);
}
