import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ClearShotError } from '../errors/index.js';

const ACCEPTED = 'send Content-Type: multipart/form-data, application/x-www-form-urlencoded or application/json';

/**
 * Bodies whose Content-Type says nothing useful, read as JSON when they parse as a JSON
 * object and refused with a 400 naming the accepted types otherwise:
 * - no Content-Type header at all (some HTTP libraries send JSON that way);
 * - an empty `Content-Type:` header (hand-written clients);
 * - `text/plain`, with any parameters: what `fetch(url, {method: 'POST', body:
 *   JSON.stringify(...)})` sends for a string body (the fetch standard's default).
 * A body with any other Content-Type nobody parses is refused at once, unread.
 *
 * Fastify routes the first two to its catch-all parser (an empty header is dropped first)
 * and `text/plain` to its own text parser, which this replaces; the route's body limit applies while the body streams in
 * (413 past it, nothing more is buffered).
 */
export function untypedJsonBodies(app: FastifyInstance): void {
  // Fastify refuses an empty Content-Type as an invalid media type before any parser
  // runs; it says no more than an absent one, so it is treated as absent.
  app.addHook('onRequest', async (request) => {
    const type = request.raw.headers['content-type'];
    if (type !== undefined && type.trim() === '') delete request.raw.headers['content-type'];
  });
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('text/plain', async (request: FastifyRequest, payload: NodeJS.ReadableStream) =>
    jsonObject(await readAll(request, payload), 'a text/plain body must be a JSON object'),
  );
  app.addContentTypeParser('*', async (request: FastifyRequest, payload: NodeJS.ReadableStream) => {
    if (request.headers['content-type'] !== undefined) {
      throw new ClearShotError('BAD_PARAMETER', `unsupported Content-Type: ${ACCEPTED.replace('send Content-Type: ', 'use ')}`);
    }
    return jsonObject(await readAll(request, payload), 'a body without a Content-Type header must be a JSON object');
  });
}

async function readAll(request: FastifyRequest, payload: NodeJS.ReadableStream): Promise<string> {
  const limit = request.routeOptions.bodyLimit ?? 1024 * 1024;
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of payload) {
    total += (chunk as Buffer).length;
    if (total > limit) throw new ClearShotError('FILE_TOO_LARGE', 'the body exceeds the size limit');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function jsonObject(text: string, what: string): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ClearShotError('BAD_PARAMETER', `${what}; otherwise ${ACCEPTED}`);
  }
  return body as Record<string, unknown>;
}
