import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import fastifyFormbody from '@fastify/formbody';
import fastifyMultipart from '@fastify/multipart';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { ClearShotError } from '../errors/index.js';
import { capConnectionsPerAddress, timeoutOptions } from './connection-limits.js';
import { failure, success } from '../tasks/envelope.js';
import { eventRoutes } from './routes/event-routes.js';
import { resultRoutes } from './routes/result-routes.js';
import { taskRoutes } from './routes/task-routes.js';
import { apiGuard } from './auth.js';
import type { RateLimiter } from './rate-limiter.js';
import type { HttpSection } from '../config/sections.js';
import type { KeyService } from '../keys/key-service.js';
import type { Metrics } from '../metrics/metrics.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { TaskService } from '../tasks/task-service.js';
import { createBodyDoc, taskEndedCallbackDoc } from './schemas.js';
import { untypedJsonBodies } from './untyped-body.js';
import type { UrlSigner } from '../storage/signed-url.js';

/**
 * The HTTP application factory: routes, body parsing, errors, docs, metrics. It never
 * listens by itself (tests use `app.inject()` or listen on port 0). It knows nothing of
 * tensors or storage engines: only the task and key services and the blob store port.
 */
export interface AppDeps {
  readonly tasks: TaskService;
  readonly keys: KeyService;
  readonly blobs: BlobStore;
  readonly signer: UrlSigner;
  readonly limiter: RateLimiter;
  readonly metrics: Metrics;
  /** The HTTP section of the configuration (config/sections.ts). */
  readonly config: HttpSection;
  /** Extra health information (engine, queue). */
  readonly health?: () => Promise<Record<string, unknown>>;
  /** A pino logger for request logs (JSON, with request ids); none when absent. */
  readonly logger?: FastifyBaseLogger;
  readonly now?: () => number;
  /** Extra routes registered last (e.g. the web playground). */
  readonly extraRoutes?: (app: FastifyInstance) => Promise<void> | void;
}

/** Constant-time check of a bearer token (always true when no token is configured). */
export function metricsAllowed(token: string | undefined, authorization: string | undefined): boolean {
  if (!token) return true;
  const given = /^Bearer\s+(.+)$/i.exec(authorization ?? '')?.[1]?.trim() ?? '';
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b);
}

/** Maps framework errors (parsing, limits) onto the contract's status codes. */
function frameworkStatus(err: FastifyError, maxUploadBytes: number): { status: number; message: string } | undefined {
  switch (err.code) {
    case 'FST_REQ_FILE_TOO_LARGE':
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, message: `the upload exceeds the size limit (${megabytes(maxUploadBytes)})` };
    case 'FST_FILES_LIMIT':
      return { status: 400, message: 'expected one image_file part but received more than one' };
    case 'FST_FIELDS_LIMIT':
    case 'FST_PARTS_LIMIT':
      return { status: 400, message: `too many parts in the form: ${err.message}` };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 400, message: 'unsupported Content-Type: use multipart/form-data, application/x-www-form-urlencoded or application/json' };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { status: 400, message: `invalid JSON body: ${err.message}` };
    default:
      if (err.validation) return { status: 400, message: err.message };
      if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) return { status: err.statusCode === 415 ? 400 : err.statusCode, message: err.message };
      return undefined;
  }
}

/** "20 MB": a byte limit as messages show it. */
export function megabytes(bytes: number): string {
  return `${Math.round((bytes / 2 ** 20) * 100) / 100} MB`;
}

/**
 * A request URL as logged: the query string is dropped (`?…`), because it may carry
 * an API key or a result URL's signature, which are bearer credentials.
 */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : `${url.slice(0, q)}?…`;
}

/** Request log fields (Fastify's, with the URL redacted). */
export const requestLogSerializers = {
  req(req: { method?: string; url?: string; host?: string; ip?: string; socket?: { remotePort?: number } }) {
    return { method: req.method, url: redactUrl(req.url ?? ''), host: req.host, remoteAddress: req.ip, remotePort: req.socket?.remotePort };
  },
};

/** The client went away mid-request (closed the connection, aborted an upload). */
function clientAborted(err: FastifyError, request: { raw: { aborted?: boolean; destroyed?: boolean; socket?: { destroyed?: boolean } | null } }): boolean {
  const code = (err as { code?: string }).code;
  return code === 'ECONNRESET' || code === 'ECONNABORTED' || code === 'ERR_STREAM_PREMATURE_CLOSE' || err.message === 'aborted' || request.raw.aborted === true || request.raw.socket?.destroyed === true;
}

/** Router refusals (an over-long path parameter, a bad % escape) in the usual envelope. */
function routerError(err: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') void reply.code(414).send(failure(414, 'the URL is too long'));
  else if (err.code === 'FST_ERR_BAD_URL') void reply.code(400).send(failure(400, 'the URL is not valid: bad % escape'));
  else {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400;
    void reply.code(status).send(failure(status, err.message));
  }
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: false }),
    childLoggerFactory: (logger, bindings, opts) => logger.child(bindings, { ...opts, serializers: { ...opts.serializers, ...requestLogSerializers } }),
    frameworkErrors: routerError,
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    bodyLimit: 1024 * 1024,
    // Uploads stream through @fastify/multipart with their own limit.
    ...timeoutOptions(deps.config.connections),
  });
  capConnectionsPerAddress(app.server, deps.config.connections.maxPerAddress);
  app.decorateRequest('apiKey', null);

  await app.register(fastifyMultipart, { throwFileSizeLimit: true, limits: { fileSize: deps.config.maxUploadBytes } });
  await app.register(fastifyFormbody);
  untypedJsonBodies(app);
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'ClearShot Photo Enhancement API',
        version: '1.0.0',
        description: 'PicWish-compatible photo enhancement (Real-ESRGAN). Every response is {status, message, data}.',
      },
      components: { securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'X-API-KEY' } } },
    },
    transform: ({ schema, url, route }) => {
      // The create body is parsed by hand (three encodings); document it here.
      if (url === '/api/tasks/visual/scale' && route.method === 'POST') {
        return { schema: { ...schema, body: undefined }, url };
      }
      return { schema, url };
    },
    transformObject: (doc) => {
      const spec = 'openapiObject' in doc ? doc.openapiObject : doc.swaggerObject;
      const post = (spec as { paths?: Record<string, { post?: Record<string, unknown> }> }).paths?.['/api/tasks/visual/scale']?.post;
      if (post) {
        post.requestBody = {
          required: true,
          content: {
            'multipart/form-data': { schema: createBodyDoc },
            'application/x-www-form-urlencoded': { schema: createBodyDoc },
            'application/json': { schema: createBodyDoc },
            // fetch()'s default for a string body; read as JSON (an empty or absent
            // Content-Type is read the same way: src/http/untyped-body.ts).
            'text/plain': { schema: { ...createBodyDoc, description: 'The same fields as a JSON object, sent as text/plain (any parameters), with an empty Content-Type or with none: read as JSON when the body parses as a JSON object, a 400 otherwise.' } },
          },
        };
        post.callbacks = taskEndedCallbackDoc;
      }
      return spec;
    },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    deps.metrics.httpRequests.inc({ method: request.method, route, status: String(reply.statusCode) });
    deps.metrics.httpDuration.observe({ route }, reply.elapsedTime / 1000);
  });

  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err instanceof ClearShotError) {
      if (err.httpStatus >= 500) request.log.error({ err, code: err.code }, err.message);
      return reply.code(err.httpStatus).send(failure(err.httpStatus, err.message));
    }
    const mapped = frameworkStatus(err, deps.config.maxUploadBytes);
    if (mapped) return reply.code(mapped.status).send(failure(mapped.status, mapped.message));
    if (clientAborted(err, request)) {
      // Nobody is left to answer: a note, not an error with a stack.
      request.log.info({ code: (err as { code?: string }).code ?? err.message }, 'client closed the connection before the request was read');
      return reply.code(400).send(failure(400, 'the request was aborted'));
    }
    request.log.error({ err }, 'unhandled error');
    return reply.code(500).send(failure(500, 'internal error'));
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send(failure(404, `no route ${request.method} ${request.url.split('?')[0]}`)));

  // The API proper, as one plugin: each route declares its guard (auth + rate limit) as a preHandler.
  const now = deps.now ?? Date.now;
  const guard = apiGuard(deps.keys, deps.limiter);
  const { config } = deps;
  await app.register(async (api) => {
    await taskRoutes(api, { tasks: deps.tasks, metrics: deps.metrics, guard, config });
    eventRoutes(api, { tasks: deps.tasks, guard, config: { queryRateLimit: config.queryRateLimit, ...config.events } });
    resultRoutes(api, { blobs: deps.blobs, signer: deps.signer, resultTtlMs: config.resultTtlMs, now });
  });

  app.get('/healthz', { schema: { summary: 'Health: the process, its database and (scale-out) Redis; 503 when one is not ok', tags: ['ops'] } }, async (_request, reply) => {
    const data = { ok: true, ...(deps.health ? await deps.health() : {}) };
    if (data.ok === false) return reply.code(503).send(failure(503, 'unhealthy', data));
    return success(data);
  });
  app.get('/metrics', { schema: { summary: 'Prometheus metrics (Authorization: Bearer CLEARSHOT_METRICS_TOKEN when set)', tags: ['ops'] } }, async (request, reply) => {
    if (!metricsAllowed(deps.config.metricsToken, request.headers.authorization)) {
      reply.header('www-authenticate', 'Bearer');
      throw new ClearShotError('UNAUTHORIZED', 'missing or invalid metrics token');
    }
    reply.header('content-type', deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  if (deps.extraRoutes) await deps.extraRoutes(app);
  return app;
}
