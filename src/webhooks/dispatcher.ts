import { Counter, Gauge, type Registry } from 'prom-client';
import { success } from '../tasks/envelope.js';
import type { TaskService } from '../tasks/task-service.js';
import type { TaskStore } from '../tasks/task-store.js';
import type { CallbackGuard } from './callback-url.js';
import { postWebhook, type AttemptResult } from './deliver.js';
import { secretKey, signatureHeaders } from './signature.js';
import type { WebhookDelivery } from './webhook-store.js';

/**
 * Delivers owed webhooks at least once. Every process runs one (API and workers
 * alike): it polls the task store for due deliveries, claims a few with a lease, and
 * POSTs each task's final view (the same envelope as GET) signed with the service's
 * secret. A failed attempt (network error, timeout, non-2xx answer, refused address)
 * is retried after the next delay of the schedule; the last failure gives up. A
 * process that dies mid-attempt leaves a lease that expires, and whoever polls next
 * (a restarted process, another one in scale-out) tries again with the same
 * `webhook-id`, so receivers can drop duplicates.
 *
 * It runs beside the tasks, never in their way: nothing here is awaited by a task.
 */
export interface DispatcherConfig {
  /** `whsec_...` secrets: the first signs, every one signs too (rotation). */
  readonly secrets: readonly string[];
  /** Delays between attempts, ms: n delays = n + 1 attempts. */
  readonly retryDelaysMs: readonly number[];
  readonly timeoutMs: number;
  readonly guard: CallbackGuard;
  /** How often the store is polled for due deliveries, ms. */
  readonly pollMs?: number;
  /** Deliveries in flight at once in this process. */
  readonly maxInFlight?: number;
}

export interface DispatcherDeps {
  readonly store: TaskStore;
  readonly tasks: TaskService;
  readonly registry: Registry;
  readonly log: (level: 'info' | 'warn' | 'error', obj: Record<string, unknown>, msg: string) => void;
  readonly now?: () => number;
}

/** A URL as logged: no query string or fragment (they may carry a receiver's token). */
function shown(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

export class WebhookDispatcher {
  private readonly keys: Buffer[];
  private readonly now: () => number;
  private readonly stopped = new AbortController();
  private readonly inFlight = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private again = false;
  private readonly attempts: Counter<'result'>;
  private readonly deliveries: Counter<'outcome'>;

  constructor(
    private readonly deps: DispatcherDeps,
    private readonly config: DispatcherConfig,
  ) {
    this.keys = config.secrets.map(secretKey);
    this.now = deps.now ?? Date.now;
    this.attempts = new Counter({
      name: 'clearshot_webhook_attempts_total',
      help: 'Webhook delivery attempts by result (delivered, http_error, network_error, timeout, forbidden)',
      labelNames: ['result'],
      registers: [deps.registry],
    });
    this.deliveries = new Counter({ name: 'clearshot_webhook_deliveries_total', help: 'Webhooks finished by outcome (delivered, failed)', labelNames: ['outcome'], registers: [deps.registry] });
    const store = deps.store;
    new Gauge({
      name: 'clearshot_webhooks_pending',
      help: 'Webhook deliveries owed and not yet finished (all processes)',
      registers: [deps.registry],
      async collect() {
        this.set(await store.pendingWebhooks());
      },
    });
  }

  get maxAttempts(): number {
    return this.config.retryDelaysMs.length + 1;
  }

  start(): void {
    this.timer = setInterval(() => this.kick(), this.config.pollMs ?? 1000);
    this.timer.unref();
    // A task that ends in this process is delivered at once, without waiting for the poll.
    this.deps.tasks.events.on('settled', this.onSettled);
    this.kick();
  }

  private readonly onSettled = () => this.kick();

  /** Runs a claim round soon (coalesced). */
  kick(): void {
    if (this.stopped.signal.aborted) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = true;
    void this.tick()
      .catch((err: unknown) => this.deps.log('error', { component: 'webhooks', err }, 'webhook poll failed'))
      .finally(() => {
        this.ticking = false;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  private async tick(): Promise<void> {
    const room = (this.config.maxInFlight ?? 16) - this.inFlight.size;
    if (room <= 0) return;
    const now = this.now();
    // The lease outlasts an attempt: a live process always records its outcome first.
    const claimed = await this.deps.store.claimWebhooks(now, now + this.config.timeoutMs + 5000, room);
    for (const d of claimed) {
      const p = this.deliver(d).catch((err: unknown) => this.deps.log('error', { component: 'webhooks', taskId: d.taskId, err }, 'webhook delivery failed unexpectedly'));
      this.inFlight.add(p);
      void p.finally(() => this.inFlight.delete(p));
    }
  }

  private async deliver(d: WebhookDelivery): Promise<void> {
    const task = await this.deps.store.get(d.taskId);
    if (!task) {
      await this.deps.store.finishWebhook(d.taskId, d.attempts, { status: 'failed', error: 'the task was purged', at: this.now() });
      return;
    }
    const body = JSON.stringify(success(await this.deps.tasks.view(task)));
    const timestamp = Math.floor(this.now() / 1000);
    const headers = signatureHeaders(this.keys, task.id, timestamp, body);
    const result: AttemptResult = await postWebhook(d.url, body, headers, { ...this.config.guard, timeoutMs: this.config.timeoutMs, signal: this.stopped.signal });
    if (this.stopped.signal.aborted && !result.ok) return; // shutting down: the lease expires and the attempt is made again
    const at = this.now();
    const log = { component: 'webhooks', taskId: task.id, url: shown(d.url), attempt: d.attempts, of: this.maxAttempts, state: task.state };
    this.attempts.inc({ result: result.ok ? 'delivered' : result.kind });
    if (result.ok) {
      await this.deps.store.finishWebhook(d.taskId, d.attempts, { status: 'delivered', at });
      this.deliveries.inc({ outcome: 'delivered' });
      this.deps.log('info', { ...log, status: result.status }, 'webhook delivered');
      return;
    }
    if (d.attempts >= this.maxAttempts) {
      await this.deps.store.finishWebhook(d.taskId, d.attempts, { status: 'failed', error: result.error, at });
      this.deliveries.inc({ outcome: 'failed' });
      this.deps.log('warn', { ...log, error: result.error }, 'webhook failed: giving up');
      return;
    }
    const delay = this.config.retryDelaysMs[d.attempts - 1] ?? this.config.retryDelaysMs.at(-1) ?? 0;
    await this.deps.store.finishWebhook(d.taskId, d.attempts, { status: 'pending', nextAt: at + delay, error: result.error, at });
    this.deps.log('warn', { ...log, error: result.error, retryInS: delay / 1000 }, 'webhook attempt failed, will retry');
  }

  /** Stops polling; attempts in flight are abandoned (their leases expire and they are made again). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.deps.tasks.events.off('settled', this.onSettled);
    this.stopped.abort();
    await Promise.allSettled([...this.inFlight]);
  }
}
