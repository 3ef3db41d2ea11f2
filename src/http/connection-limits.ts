import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { ConnectionLimits } from '../config/sections.js';

/** The limits themselves are a config section (src/config/sections.ts). */
export type { ConnectionLimits };

/** Node's own default for receiving the headers. */
const HEADERS_TIMEOUT_MS = 60_000;

/** Fastify options that apply the timeouts to its HTTP server. */
export function timeoutOptions(limits: ConnectionLimits | undefined): Record<string, unknown> {
  if (!limits) return {};
  const headersTimeout = Math.min(HEADERS_TIMEOUT_MS, limits.requestTimeoutMs);
  return {
    requestTimeout: limits.requestTimeoutMs,
    connectionTimeout: limits.idleTimeoutMs,
    http: {
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout,
      // Node checks the two timeouts above every this many ms (default 30 s).
      connectionsCheckingInterval: Math.max(250, Math.min(30_000, Math.floor(headersTimeout / 4))),
    },
  };
}

const TOO_MANY = JSON.stringify({ status: 429, message: 'too many connections from your address', data: {} });
const TOO_MANY_RESPONSE =
  `HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(TOO_MANY)}\r\n` +
  `Retry-After: 1\r\nConnection: close\r\n\r\n${TOO_MANY}`;

/**
 * Caps open connections per client address on `server`. A refused connection is kept
 * from the HTTP layer altogether (its 'connection' event is not passed on), so no byte
 * it sends is parsed and no request of it is handled.
 */
export function capConnectionsPerAddress(server: Server, maxPerAddress: number): void {
  if (maxPerAddress <= 0) return;
  const open = new Map<string, number>();
  const emit = server.emit.bind(server) as (event: string | symbol, ...args: unknown[]) => boolean;
  server.emit = ((event: string | symbol, ...args: unknown[]) => {
    if (event !== 'connection') return emit(event, ...args);
    const socket = args[0] as Socket;
    const address = socket.remoteAddress ?? 'unknown';
    const n = (open.get(address) ?? 0) + 1;
    if (n > maxPerAddress) {
      socket.on('error', () => undefined);
      socket.end(TOO_MANY_RESPONSE);
      socket.setTimeout(5000, () => socket.destroy());
      socket.resume(); // discard whatever it sends until it closes
      return true;
    }
    open.set(address, n);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left > 0) open.set(address, left);
      else open.delete(address);
    });
    return emit(event, ...args);
  }) as Server['emit'];
}
