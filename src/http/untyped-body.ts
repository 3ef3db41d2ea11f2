import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ClearShotError } from '../errors/index.js';

/**
 * Bodies sent without a Content-Type header (some HTTP libraries do that with JSON):
 * read as JSON when the body parses as a JSON object, refused with a 400 otherwise.
 * A body with a Content-Type nobody parses is refused at once, unread.
 *
 * Fastify routes both cases to its catch-all parser; the route's body limit applies
 * while the body streams in (413 past it, nothing more is buffered).
 */
export function untypedJsonBodies(app: FastifyInstance): void {
  app.addContentTypeParser('*', async (request: FastifyRequest, payload: NodeJS.ReadableStream) => {
    if (request.headers['content-type'] !== undefined) {
      throw new ClearShotError('BAD_PARAMETER', 'unsupported Content-Type: use multipart/form-data, application/x-www-form-urlencoded or application/json');
    }
    const limit = request.routeOptions.bodyLimit ?? 1024 * 1024;
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of payload) {
      total += (chunk as Buffer).length;
      if (total > limit) throw new ClearShotError('FILE_TOO_LARGE', 'the body exceeds the size limit');
      chunks.push(chunk as Buffer);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new ClearShotError('BAD_PARAMETER', 'a body without a Content-Type header must be a JSON object; otherwise send Content-Type: multipart/form-data, application/x-www-form-urlencoded or application/json');
    }
    return body;
  });
}
