import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Metrics } from '../metrics/metrics.js';
import { capConnectionsPerAddress, timeoutOptions, type ConnectionLimits } from './connection-limits.js';
import { metricsAllowed, requestLogSerializers } from './app.js';
import { failure, success } from '../tasks/envelope.js';

/** The HTTP face of a worker-only process: /healthz and /metrics, nothing else. */
export async function buildOpsApp(deps: { metrics: Metrics; health: () => Promise<Record<string, unknown>>; logger?: FastifyBaseLogger; connections?: ConnectionLimits; metricsToken?: string | undefined }): Promise<FastifyInstance> {
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: false }),
    childLoggerFactory: (logger, bindings, opts) => logger.child(bindings, { ...opts, serializers: { ...opts.serializers, ...requestLogSerializers } }),
    ...timeoutOptions(deps.connections),
  });
  if (deps.connections) capConnectionsPerAddress(app.server, deps.connections.maxPerAddress);
  app.get('/healthz', async (_request, reply) => {
    const data = { ok: true, role: 'worker', ...(await deps.health()) };
    if (data.ok === false) return reply.code(503).send(failure(503, 'unhealthy', data));
    return success(data);
  });
  app.get('/metrics', async (request, reply) => {
    if (!metricsAllowed(deps.metricsToken, request.headers.authorization)) return reply.code(401).header('www-authenticate', 'Bearer').send(failure(401, 'missing or invalid metrics token'));
    reply.header('content-type', deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send(failure(404, `no route ${request.method} ${request.url.split('?')[0]} on a worker process`)));
  return app;
}
