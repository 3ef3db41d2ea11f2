import type { FastifyInstance } from 'fastify';
import { ClearShotError } from '../../errors/index.js';
import type { BlobStore } from '../../storage/blob-store.js';
import type { UrlSigner } from '../../storage/signed-url.js';

const TYPES: Readonly<Record<string, string>> = { jpg: 'image/jpeg', png: 'image/png', webp: 'image/webp', tif: 'image/tiff' };

/**
 * GET /results/<task_id>.<ext>?expires=&signature=: the result file, for as long as its
 * signed URL is valid. No API key (the signature is the credential); 403 for a bad
 * signature, 410 once expired, 404 when the file is gone.
 */
export function resultRoutes(app: FastifyInstance, deps: { blobs: BlobStore; signer: UrlSigner; now?: () => number }): void {
  app.get<{ Params: { name: string }; Querystring: { expires?: string; signature?: string } }>(
    '/results/:name',
    { schema: { summary: 'Download a result (signed URL from a task)', tags: ['results'] } },
    async (request, reply) => {
      const { name } = request.params;
      if (!/^[0-9a-f-]{36}\.(jpg|png|webp|tif)$/.test(name)) throw new ClearShotError('NOT_FOUND', 'no such result');
      const verdict = deps.signer.verify(name, request.query.expires, request.query.signature, (deps.now ?? Date.now)());
      if (verdict === 'bad') {
        reply.code(403);
        return { status: 403, message: 'invalid or missing signature', data: {} };
      }
      if (verdict === 'expired') {
        reply.code(410);
        return { status: 410, message: 'this result URL has expired (results are kept for 1 hour)', data: {} };
      }
      const bytes = await deps.blobs.get(`results/${name}`);
      if (!bytes) throw new ClearShotError('NOT_FOUND', 'this result is no longer available');
      const maxAge = Math.max(0, Number(request.query.expires) - Math.floor(Date.now() / 1000));
      reply.header('content-type', TYPES[name.split('.').pop()!] ?? 'application/octet-stream');
      reply.header('cache-control', `private, max-age=${maxAge}`);
      reply.header('content-disposition', `inline; filename="${name}"`);
      return reply.send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    },
  );
}
