import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { HttpSection } from '../../config/sections.js';
import { ClearShotError, ERROR_CODES } from '../../errors/index.js';
import type { Metrics } from '../../metrics/metrics.js';
import { isTerminal, type Task } from '../../tasks/task.js';
import type { TaskService } from '../../tasks/task-service.js';
import { apiKeyOf, type Guard } from '../auth.js';
import { base64TextLimit } from '../base64-image.js';
import { parseCreate, type RawCreate } from '../create-params.js';
import { failure, success } from '../../tasks/envelope.js';
import { taskEnvelopeSchema } from '../schemas.js';

/** Text fields other than image_base64 stay small. */
const FIELD_LIMIT = 64 * 1024;

export interface TaskRoutesDeps {
  readonly tasks: TaskService;
  readonly metrics: Metrics;
  readonly guard: Guard;
  readonly config: Pick<HttpSection, 'defaultModel' | 'maxUploadBytes' | 'maxUrlLength' | 'rateLimit' | 'queryRateLimit' | 'syncTimeoutMs'>;
}

const PATH = '/api/tasks/visual/scale';

/** Reads any of the three body encodings into fields + the image_file bytes. */
async function readBody(request: FastifyRequest, maxUploadBytes: number): Promise<RawCreate> {
  if (request.isMultipart()) {
    const fields: Record<string, unknown> = {};
    let file: Uint8Array | undefined;
    // image_base64 may be as large as the encoded upload; every other text field is
    // small, and the text fields together may not exceed that either, so memory stays
    // bounded by one limit whatever the number of fields.
    const textLimit = base64TextLimit(maxUploadBytes);
    let textBytes = 0;
    try {
      for await (const part of request.parts({ limits: { fileSize: maxUploadBytes, files: 1, fields: 32, fieldSize: textLimit } })) {
        if (part.type === 'file') {
          if (part.fieldname !== 'image_file') {
            part.file.resume();
            throw new ClearShotError('BAD_PARAMETER', `unexpected file field ${JSON.stringify(part.fieldname)}: the image goes in image_file`);
          }
          // Throws a 413 as soon as the stream passes the limit: nothing unbounded is buffered.
          file = await part.toBuffer();
        } else {
          const value = typeof part.value === 'string' ? part.value : String(part.value);
          textBytes += value.length;
          if (part.fieldname === 'image_base64' && (part.valueTruncated || textBytes > textLimit)) {
            throw new ClearShotError('FILE_TOO_LARGE', `image_base64 decodes to more than the size limit (${Math.round(maxUploadBytes / 2 ** 20)} MB)`);
          }
          if (part.fieldname !== 'image_base64' && value.length > FIELD_LIMIT) throw new ClearShotError('BAD_PARAMETER', `the field ${JSON.stringify(part.fieldname)} is longer than ${FIELD_LIMIT} bytes`);
          if (textBytes > textLimit) throw new ClearShotError('FILE_TOO_LARGE', 'the form fields exceed the size limit');
          // A repeated field becomes a list, as in a urlencoded body, so it is refused
          // by name instead of the last value silently winning.
          const seen = fields[part.fieldname];
          fields[part.fieldname] = seen === undefined ? part.value : [...(Array.isArray(seen) ? seen : [seen]), part.value];
        }
      }
    } catch (err) {
      // Limits (413, too many parts) carry a Fastify code and are mapped by the error
      // handler; busboy's own parse errors (no boundary, body cut short) are plain
      // Errors and are the client's fault, not a 500.
      if (err instanceof ClearShotError || (err as { code?: unknown }).code !== undefined) throw err;
      throw new ClearShotError('BAD_PARAMETER', `malformed multipart/form-data body: ${(err as Error).message}`, { cause: err });
    }
    return { fields, file };
  }
  const body = request.body;
  if (body !== undefined && body !== null && (typeof body !== 'object' || Array.isArray(body))) {
    throw new ClearShotError('BAD_PARAMETER', 'the body must be a JSON object, form fields or multipart/form-data');
  }
  return { fields: (body ?? {}) as Record<string, unknown> };
}

/** POST and GET of /api/tasks/visual/scale: the contract's two calls. */
export async function taskRoutes(app: FastifyInstance, deps: TaskRoutesDeps): Promise<void> {
  app.post(
    PATH,
    {
      preHandler: deps.guard('create', deps.config.rateLimit),
      // JSON and urlencoded bodies may carry image_base64: room for the encoded upload.
      bodyLimit: Math.ceil(base64TextLimit(deps.config.maxUploadBytes) * 1.1),
      schema: {
        summary: 'Create a photo enhancement task',
        description:
          'Body as multipart/form-data (image_file as a file part), application/x-www-form-urlencoded or JSON (also read as JSON when the body is a JSON object sent without a Content-Type, with an empty one, or as text/plain, which fetch() gives a string body). The image comes from exactly one of image_url, image_file and image_base64. See README for every field.',
        tags: ['tasks'],
        security: [{ apiKey: [] }],
        response: { 200: taskEnvelopeSchema },
      },
    },
    async (request, reply) => {
      const key = apiKeyOf(request);
      const { request: taskRequest, source } = parseCreate(await readBody(request, deps.config.maxUploadBytes), deps.config);
      const closed = new AbortController();
      request.raw.once('close', () => closed.abort());
      const task = await deps.tasks.submit(key, taskRequest, source, {
        syncTimeoutMs: deps.config.syncTimeoutMs,
        signal: closed.signal,
        onCreated: (created) => {
          deps.metrics.tasksCreated.inc();
          request.log.info({ taskId: created.id, keyId: key.id, source: source.kind, state: created.state }, 'task created');
        },
      });
      if (!taskRequest.sync) return success({ task_id: task.id });
      if (taskRequest.returnType === 3 && isTerminal(task.state)) return binary(deps, reply, task);
      return success(await deps.tasks.view(task));
    },
  );

  app.get<{ Params: { task_id: string } }>(
    `${PATH}/:task_id`,
    {
      preHandler: deps.guard('query', deps.config.queryRateLimit),
      schema: {
        summary: 'Query a photo enhancement task',
        tags: ['tasks'],
        security: [{ apiKey: [] }],
        params: { type: 'object', properties: { task_id: { type: 'string' } }, required: ['task_id'] },
        response: { 200: taskEnvelopeSchema },
      },
    },
    async (request) => {
      const task = await deps.tasks.get(apiKeyOf(request), request.params.task_id);
      return success(await deps.tasks.view(task));
    },
  );
}

/** sync + return_type 3: the image itself, or a JSON error envelope with the task on failure. */
async function binary(deps: TaskRoutesDeps, reply: FastifyReply, task: Task): Promise<unknown> {
  const bytes = await deps.tasks.resultBytes(task);
  if (bytes && task.result) {
    reply.header('content-type', task.result.contentType);
    reply.header('x-task-id', task.id);
    reply.header('x-image-width', String(task.result.width));
    reply.header('x-image-height', String(task.result.height));
    return reply.send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  }
  const status = task.errorCode ? ERROR_CODES[task.errorCode].http : 500;
  reply.code(status);
  return failure(status, task.stateDetail, await deps.tasks.view(task));
}
