import type { FastifyInstance } from 'fastify';
import { ClearShotError } from '../../errors/index.js';
import { isTerminal, type Task } from '../../tasks/task.js';
import type { TaskService, TaskView } from '../../tasks/task-service.js';
import { waitForEvent } from '../../util/wait.js';
import { apiKeyOf, type Guard } from '../auth.js';

/**
 * GET /api/tasks/visual/scale/{task_id}/events: live progress as Server-Sent Events.
 *
 * `event: progress` each time the state, phase or progress changes (the first one at
 * once), then `event: done` with the final task view (the `data` of a GET) and the
 * stream ends. It reads the task store, so it works through any API process in
 * scale-out, woken at once by tasks that end in this process. Bounded: a heartbeat
 * comment when idle, a time limit (`event: timeout`, then the stream ends), and a cap
 * on the streams one API key holds open in this process (429 past it).
 */
export interface EventRoutesDeps {
  readonly tasks: TaskService;
  readonly guard: Guard;
  readonly config: {
    readonly queryRateLimit: number;
    readonly maxPerKey: number;
    readonly maxMs: number;
    readonly heartbeatMs: number;
    /** How often the store is read for changes, ms (default 500). */
    readonly pollMs?: number | undefined;
  };
}

const PROGRESS_FIELDS = ['task_id', 'state', 'phase', 'phase_state', 'progress', 'state_detail'] as const;

function progressOf(view: TaskView): Record<string, unknown> {
  return Object.fromEntries(PROGRESS_FIELDS.filter((f) => view[f] !== undefined).map((f) => [f, view[f]]));
}

const frame = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

export function eventRoutes(app: FastifyInstance, deps: EventRoutesDeps): void {
  const open = new Map<string, number>();
  const streams = new Set<AbortController>();
  // Shutdown ends every stream, so that closing the server does not wait for them.
  app.addHook('preClose', async () => {
    for (const s of streams) s.abort();
  });

  app.get<{ Params: { task_id: string } }>(
    '/api/tasks/visual/scale/:task_id/events',
    {
      preHandler: deps.guard('query', deps.config.queryRateLimit),
      schema: {
        summary: 'Live progress of a task (Server-Sent Events)',
        description:
          'text/event-stream: `event: progress` ({task_id, state, phase, phase_state, progress, state_detail}) on every change, then `event: done` with the full task view (as in GET) and the stream closes. Heartbeat comments while idle; `event: timeout` after CLEARSHOT_EVENTS_MAX_S; 429 past CLEARSHOT_EVENTS_MAX_PER_KEY open streams per key.',
        tags: ['tasks'],
        security: [{ apiKey: [] }],
        params: { type: 'object', properties: { task_id: { type: 'string' } }, required: ['task_id'] },
        response: { 200: { description: 'An event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } } },
      },
    },
    async (request, reply) => {
      const key = apiKeyOf(request);
      let task: Task = await deps.tasks.get(key, request.params.task_id);
      const held = open.get(key.id) ?? 0;
      if (held >= deps.config.maxPerKey) {
        reply.header('retry-after', '5');
        throw new ClearShotError('RATE_LIMITED', `too many progress streams open for this API key (at most ${deps.config.maxPerKey}): close one, or poll`);
      }
      open.set(key.id, held + 1);
      const stop = new AbortController();
      streams.add(stop);
      const res = reply.raw;
      const closed = () => stop.abort();
      request.raw.once('close', closed);
      res.once('close', closed);
      reply.hijack();
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
        'x-request-id': request.id,
      });
      const limit = AbortSignal.timeout(deps.config.maxMs);
      const done = AbortSignal.any([stop.signal, limit]);
      const pollMs = deps.config.pollMs ?? 500;
      let last = '';
      let lastWrite = Date.now();
      try {
        res.write(`retry: 3000\n\n`);
        for (;;) {
          const view = await deps.tasks.view(task);
          if (isTerminal(task.state)) {
            res.write(frame('done', view));
            break;
          }
          const progress = JSON.stringify(progressOf(view));
          if (progress !== last) {
            last = progress;
            res.write(`event: progress\ndata: ${progress}\n\n`);
            lastWrite = Date.now();
          } else if (Date.now() - lastWrite >= deps.config.heartbeatMs) {
            res.write(': heartbeat\n\n');
            lastWrite = Date.now();
          }
          await waitForEvent(deps.tasks.events, `settled:${task.id}`, Math.min(pollMs, deps.config.heartbeatMs), done);
          if (stop.signal.aborted) break;
          if (limit.aborted) {
            res.write(frame('timeout', { message: `the stream lasted ${deps.config.maxMs / 1000} s: reconnect or poll`, ...progressOf(view) }));
            break;
          }
          try {
            task = await deps.tasks.get(key, task.id);
          } catch (err) {
            const e = err instanceof ClearShotError ? err : new ClearShotError('INTERNAL');
            res.write(frame('error', { status: e.httpStatus, message: e.message }));
            break;
          }
        }
      } catch (err) {
        request.log.warn({ err, taskId: task.id }, 'progress stream failed');
      } finally {
        streams.delete(stop);
        const left = (open.get(key.id) ?? 1) - 1;
        if (left > 0) open.set(key.id, left);
        else open.delete(key.id);
        request.raw.off('close', closed);
        res.end();
      }
    },
  );
}
