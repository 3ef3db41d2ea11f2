import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { ClearShotError } from '../errors/index.js';
import type { ApiKey } from '../keys/key-store.js';
import type { KeyService } from '../keys/key-service.js';
import type { RateLimiter } from './rate-limiter.js';

/**
 * The API's guard, as `preHandler` hooks on its routes: the request's API key
 * (X-API-KEY header; 401 otherwise), then one token of that key's rate-limit bucket
 * (429 with Retry-After otherwise). Handlers read the key with {@link apiKeyOf}.
 */
declare module 'fastify' {
  interface FastifyRequest {
    apiKey: ApiKey | null;
  }
}

export function apiKeyOf(request: FastifyRequest): ApiKey {
  if (!request.apiKey) throw new ClearShotError('UNAUTHORIZED');
  return request.apiKey;
}

export interface Guard {
  /** Authenticates, then takes a token of `bucket` (at `rate` per second and key; 0 = no limit). */
  (bucket: string, rate: number): preHandlerAsyncHookHandler;
}

export function apiGuard(keys: KeyService, limiter: RateLimiter): Guard {
  return (bucket, rate) =>
    async function guard(request: FastifyRequest, reply: FastifyReply): Promise<void> {
      const header = request.headers['x-api-key'];
      const key = await keys.authenticate(Array.isArray(header) ? header[0] : header);
      request.apiKey = key;
      const r = await limiter.take(bucket, key.id, rate);
      if (!r.ok) {
        reply.header('retry-after', String(r.retryAfterS));
        throw new ClearShotError('RATE_LIMITED', `too many requests: the limit is ${rate} per second for this API key`);
      }
    };
}
