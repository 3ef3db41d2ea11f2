import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Task } from '../tasks/task.js';

/**
 * Prometheus metrics (GET /metrics): requests, task durations by final state, queue
 * depth, credits debited. One registry per process (API and worker each expose theirs).
 */
export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests = new Counter({ name: 'clearshot_http_requests_total', help: 'HTTP requests by route, method and status', labelNames: ['method', 'route', 'status'], registers: [this.registry] });
  readonly httpDuration = new Histogram({
    name: 'clearshot_http_request_duration_seconds',
    help: 'HTTP request duration by route',
    labelNames: ['route'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60],
    registers: [this.registry],
  });
  readonly tasksCreated = new Counter({ name: 'clearshot_tasks_created_total', help: 'Tasks created', registers: [this.registry] });
  readonly taskDuration = new Histogram({
    name: 'clearshot_task_duration_seconds',
    help: 'Processing time of settled tasks by final state',
    labelNames: ['state'],
    buckets: [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300],
    registers: [this.registry],
  });
  readonly creditsDebited = new Counter({ name: 'clearshot_credits_debited_total', help: 'Credits debited for successful tasks', registers: [this.registry] });
  readonly queueDepth: Gauge;

  constructor(queueDepth: () => Promise<number>) {
    collectDefaultMetrics({ register: this.registry, prefix: 'clearshot_' });
    this.queueDepth = new Gauge({
      name: 'clearshot_queue_depth',
      help: 'Tasks waiting for a worker',
      registers: [this.registry],
      async collect() {
        this.set(await queueDepth());
      },
    });
  }

  settled(task: Task, seconds: number): void {
    this.taskDuration.observe({ state: String(task.state) }, seconds);
    if (task.state === 1) this.creditsDebited.inc(task.credits);
  }
}
