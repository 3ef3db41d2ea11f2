import type { FastifyInstance } from 'fastify';
import { contentTypeOf } from '../../engine/image/formats.js';
import { ClearShotError } from '../../errors/index.js';
import type { BlobStore } from '../../storage/blob-store.js';
import type { UrlSigner } from '../../storage/signed-url.js';
import { parseResultFileName } from '../../tasks/blob-keys.js';

/** How long a result URL works, for messages (the live setting). */
function describeTtl(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s % 3600 === 0) return s === 3600 ? '1 hour' : `${s / 3600} hours`;
  if (s % 60 === 0) return s === 60 ? '1 minute' : `${s / 60} minutes`;
  return `${s} s`;
}

/**
 * GET /results/<task_id>.<ext>?expires=&signature=: the result file, for as long as its
 * signed URL is valid. No API key (the signature is the credential); 403 for a bad
 * signature, 410 once expired, 404 when the file is gone.
 */
export function resultRoutes(app: FastifyInstance, deps: { blobs: BlobStore; signer: UrlSigner; resultTtlMs: number; now: () => number }): void {
  app.get<{ Params: { name: string }; Querystring: { expires?: string; signature?: string } }>(
    '/results/:name',
    { schema: { summary: 'Download a result (signed URL from a task)', tags: ['results'] } },
    async (request, reply) => {
      const { name } = request.params;
      const result = parseResultFileName(name);
      if (!result) throw new ClearShotError('NOT_FOUND', 'no such result');
      const now = deps.now();
      const verdict = deps.signer.verify(name, request.query.expires, request.query.signature, now);
      if (verdict === 'bad') throw new ClearShotError('SIGNATURE_INVALID');
      if (verdict === 'expired') throw new ClearShotError('LINK_EXPIRED', `this result URL has expired (results are kept for ${describeTtl(deps.resultTtlMs)})`);
      const bytes = await deps.blobs.get(result.key);
      if (!bytes) throw new ClearShotError('NOT_FOUND', 'this result is no longer available');
      const maxAge = Math.max(0, Number(request.query.expires) - Math.floor(now / 1000));
      reply.header('content-type', contentTypeOf(result.format));
      reply.header('cache-control', `private, max-age=${maxAge}`);
      reply.header('content-disposition', `inline; filename="${name}"`);
      return reply.send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    },
  );
}
