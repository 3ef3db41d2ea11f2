import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

/**
 * The web playground at `/`: a few static files built by `npm run build` (run by
 * `npm install` and before `npm start`). Read once at start; no external assets.
 */
const WEB_DIR = fileURLToPath(new URL('../../../web/', import.meta.url));

const FILES: Readonly<Record<string, [path: string, type: string]>> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/app.css': ['app.css', 'text/css; charset=utf-8'],
  '/favicon.svg': ['favicon.svg', 'image/svg+xml'],
  '/app.js': ['dist/app.js', 'text/javascript; charset=utf-8'],
  '/app.js.map': ['dist/app.js.map', 'application/json'],
};

export async function webRoutes(app: FastifyInstance): Promise<void> {
  const contents = new Map<string, Buffer>();
  for (const [route, [path]] of Object.entries(FILES)) {
    try {
      contents.set(route, await readFile(`${WEB_DIR}${path}`));
    } catch {
      // Not built: the page explains below.
    }
  }
  for (const [route, [, type]] of Object.entries(FILES)) {
    app.get(route, { schema: { hide: true } }, async (_request, reply) => {
      const body = contents.get(route);
      if (!body) {
        reply.code(503).type('text/plain; charset=utf-8');
        return 'The playground is not built: run `npm run build` (npm install and npm start do it).\n';
      }
      reply.type(type);
      // The HTML is small and always fresh; the bundle changes only with a rebuild.
      reply.header('cache-control', route === '/' ? 'no-cache' : 'public, max-age=300');
      reply.header('x-content-type-options', 'nosniff');
      if (route === '/') reply.header('content-security-policy', "default-src 'self'; img-src 'self' data: blob: http: https:; style-src 'self'; script-src 'self'; connect-src 'self'");
      return body;
    });
  }
}
