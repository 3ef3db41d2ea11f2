import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { connectionsSection, engineSection, httpSection, processorSection, taskServiceSection } from '../config/sections.js';
import { EnginePool } from '../engine/engine-pool.js';
import { probeImage } from '../engine/image/probe.js';
import type { Engine } from '../engine/local-engine.js';
import { buildApp } from '../http/app.js';
import { buildOpsApp } from '../http/ops-app.js';
import { webRoutes } from '../http/web-routes.js';
import { KeyService } from '../keys/key-service.js';
import type { KeyStore } from '../keys/key-store.js';
import { Metrics } from '../metrics/metrics.js';
import { UrlSigner } from '../storage/signed-url.js';
import { loadOrCreateSecret } from '../storage/url-secret.js';
import { TaskService } from '../tasks/task-service.js';
import type { TaskStore } from '../tasks/task-store.js';
import type { Task } from '../tasks/task.js';
import { TaskProcessor } from '../worker/task-processor.js';
import { WebhookDispatcher } from '../webhooks/dispatcher.js';
import { loadOrCreateWebhookSecret } from '../webhooks/signature.js';
import { openAdapters } from './adapters.js';

/**
 * Wires one process for its role: `all` (the embedded default: API and workers), `api`
 * (HTTP only) or `worker` (engine and queue consumer, with /healthz and /metrics).
 * Returns handles so that main.ts (and tests) can listen and shut down in order.
 */
export interface Service {
  /** The HTTP app: the full API, or a worker's /healthz and /metrics. */
  readonly app: FastifyInstance;
  readonly tasks: TaskService;
  readonly keys: KeyService;
  readonly store: TaskStore & KeyStore;
  readonly engine: Engine | undefined;
  /** Runs one sweep now (tests). */
  sweep(): Promise<{ expired: number; purged: number }>;
  /** Stops accepting work, lets running tasks finish for `graceMs`, then requeues them. */
  close(graceMs?: number): Promise<void>;
}

export interface ServiceOptions {
  readonly config: Config;
  readonly logger: Logger;
  /** Injectable clock for expiry tests. */
  readonly now?: () => number;
  /** Pre-started engine (tests share one). */
  readonly engine?: Engine;
  /** Start the periodic sweeper (default true). */
  readonly sweeper?: boolean;
}

/** The fields of the "task ended" line: ids, outcome and shape, never the key or the image. */
export function taskEndLog(task: Task, seconds: number): Record<string, unknown> {
  return {
    taskId: task.id,
    keyId: task.keyId,
    state: task.state,
    ...(task.errorCode ? { code: task.errorCode } : {}),
    durationS: Math.round(seconds * 1000) / 1000,
    totalS: Math.round(((task.completedAt ?? task.createdAt) - task.createdAt) / 10) / 100,
    scale: task.request.scale ?? 'auto',
    ...(task.input && task.result ? { outputScale: Math.round((task.result.width / task.input.width) * 100) / 100 } : {}),
    model: task.request.model,
    type: task.request.type,
    source: task.source.kind,
    ...(task.input ? { input: `${task.input.width}x${task.input.height}` } : {}),
    ...(task.result ? { output: `${task.result.width}x${task.result.height}` } : {}),
    attempts: task.attempts,
  };
}

export async function startService(options: ServiceOptions): Promise<Service> {
  const { config, logger } = options;
  const now = options.now ?? Date.now;
  const serves = config.role !== 'worker';
  const works = config.role !== 'api';
  const adapters = await openAdapters(config);
  const { store, blobs, queue } = adapters;
  const secrets = config.urlSecrets ? config.urlSecrets.split(',').map((s) => s.trim()).filter(Boolean) : [await loadOrCreateSecret(join(config.dataPath, 'url-secret'))];
  const signer = new UrlSigner(secrets, config.baseUrl);
  const keys = new KeyService(store);
  if (config.bootstrapKey) await keys.ensure(config.bootstrapKey, config.bootstrapCredits);
  if (serves && (await keys.list()).length === 0) {
    const where = config.databaseUrl ? 'with the same DATABASE_URL' : `with DATA_DIR=${config.dataPath}`;
    logger.warn(`no API key exists yet: create one with \`npx clearshot keys create --name NAME --credits 100\` (${where}), or set CLEARSHOT_BOOTSTRAP_KEY`);
  }

  const callbackGuard = { allowPrivate: config.allowPrivateUrls };
  const tasks = new TaskService({ tasks: store, blobs, queue, signer, probe: probeImage, config: taskServiceSection(config), now, callbackGuard, log: (obj, msg) => logger.warn(obj, msg) });
  const metrics = new Metrics(() => queue.depth());
  // Every task's end, wherever it happens (refused at creation, failed or done by a
  // worker): one log line and the duration histogram, for every final state.
  tasks.events.on('settled', (task: Task) => {
    const seconds = Math.max(0, ((task.completedAt ?? now()) - (task.processedAt ?? task.createdAt)) / 1000);
    metrics.settled(task, seconds);
    logger.info(taskEndLog(task, seconds), 'task ended');
  });
  // Every process delivers owed webhooks (whoever polls first), so all sign alike.
  const webhookSecrets = config.webhookSecrets ? config.webhookSecrets.split(',') : [await loadOrCreateWebhookSecret(join(config.dataPath, 'webhook-secret'))];
  const webhooks = new WebhookDispatcher(
    { store, tasks, registry: metrics.registry, now, log: (level, obj, msg) => logger[level](obj, msg) },
    { secrets: webhookSecrets, retryDelaysMs: config.webhookRetryS.map((s) => s * 1000), timeoutMs: config.webhookTimeoutS * 1000, guard: callbackGuard },
  );

  let engine: Engine | undefined;
  const ownEngine = works && !options.engine;
  if (works) {
    engine =
      options.engine ??
      (await EnginePool.start({ ...engineSection(config), log: (line) => logger.info({ component: 'engine' }, line) }));
    const processor = new TaskProcessor({
      tasks: store,
      blobs,
      engine,
      service: tasks,
      probe: probeImage,
      now,
      config: processorSection(config),
      log: (obj, msg) => logger.warn({ component: 'worker', ...obj }, msg),
    });
    await queue.start((id, signal) => processor.handle(id, signal));
  }
  const recovered = await tasks.recover(adapters.embeddedQueue && works);
  if (recovered) logger.info({ recovered }, 'enqueued tasks left from a previous run');

  const health = async () => {
    const checks = await adapters.health();
    const ok = Object.values(checks).every((c) => c.ok);
    // The queue's own service may hang or be down: that is reported by its check above.
    let timer: NodeJS.Timeout | undefined;
    const queueDepth = await Promise.race([queue.depth().catch(() => undefined), new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), 3000)))]);
    clearTimeout(timer);
    return { ok, role: config.role, ...checks, queue_depth: queueDepth, running: queue.active() };
  };
  const app = serves
    ? await buildApp({ tasks, keys, blobs, signer, limiter: adapters.limiter, metrics, logger, now, config: httpSection(config), health, extraRoutes: webRoutes })
    : await buildOpsApp({ metrics, health, logger, connections: connectionsSection(config), metricsToken: config.metricsToken });

  // Housekeeping where results are served: expire, purge, and re-enqueue what a queue lost.
  const sweep = async () => {
    const r = await tasks.sweep();
    const requeued = await tasks.reconcile(60_000, config.taskTimeoutS * 1000 + 2 * config.jobLockS * 1000 + 60_000);
    if (r.expired || r.purged || requeued) logger.info({ ...r, requeued }, 'sweeper');
    return r;
  };
  webhooks.start();
  const timer =
    options.sweeper === false || !serves ? undefined : setInterval(() => void sweep().catch((err: unknown) => logger.error({ err }, 'sweeper failed')), config.sweepIntervalS * 1000);
  timer?.unref();

  return {
    app,
    tasks,
    keys,
    store,
    engine,
    sweep: () => tasks.sweep(),
    async close(graceMs = 20_000) {
      clearInterval(timer);
      tasks.stopWaiting();
      await app.close();
      await queue.stop(graceMs);
      await webhooks.stop();
      if (ownEngine) await engine?.close();
      await adapters.close();
    },
  };
}
