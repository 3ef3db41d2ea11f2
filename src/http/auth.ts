import type { FastifyRequest } from 'fastify';
import type { ApiKey } from '../keys/key-store.js';
import type { KeyService } from '../keys/key-service.js';

/** The API key of a request (X-API-KEY header); UNAUTHORIZED (401) otherwise. */
export async function authenticate(keys: KeyService, request: FastifyRequest): Promise<ApiKey> {
  const header = request.headers['x-api-key'];
  return keys.authenticate(Array.isArray(header) ? header[0] : header);
}
