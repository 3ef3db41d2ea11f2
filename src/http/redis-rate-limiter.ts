import type { Redis } from 'ioredis';
import type { RateLimiter } from './rate-limiter.js';

/**
 * Token bucket in Redis, shared by every API process, so two processes never double a
 * key's allowance. One atomic Lua script per request; time comes from Redis itself so
 * clock skew between machines does not matter.
 */
const SCRIPT = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local data = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(data[1]) or burst
local at = tonumber(data[2]) or now
tokens = math.min(burst, tokens + (now - at) / 1000 * rate)
local ok = 0
if tokens >= 1 then
  tokens = tokens - 1
  ok = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {ok, tostring(tokens)}
`;

export class RedisRateLimiter implements RateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async take(bucket: string, key: string, rate: number): Promise<{ ok: true } | { ok: false; retryAfterS: number }> {
    if (rate <= 0) return { ok: true };
    const burst = Math.max(1, rate);
    const [ok, tokens] = (await this.redis.eval(SCRIPT, 1, `${this.prefix}ratelimit:${bucket}:${key}`, String(rate), String(burst))) as [number, string];
    if (ok === 1) return { ok: true };
    return { ok: false, retryAfterS: Math.max(1, Math.ceil((1 - Number(tokens)) / rate)) };
  }
}
