/**
 * Per-key rate limiting port (token bucket: `rate` tokens per second, burst `rate`).
 * Adapters: in-memory (embedded) and Redis (shared by every API process).
 */
export interface RateLimiter {
  /** Takes one token for `key` in bucket `bucket`; when none is left, the seconds to wait. */
  take(bucket: string, key: string, rate: number): Promise<{ ok: true } | { ok: false; retryAfterS: number }>;
}

export class MemoryRateLimiter implements RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  async take(bucket: string, key: string, rate: number): Promise<{ ok: true } | { ok: false; retryAfterS: number }> {
    if (rate <= 0) return { ok: true };
    const id = `${bucket}:${key}`;
    const now = this.now();
    const burst = Math.max(1, rate);
    const b = this.buckets.get(id) ?? { tokens: burst, at: now };
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * rate);
    b.at = now;
    this.buckets.set(id, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterS: Math.max(1, Math.ceil((1 - b.tokens) / rate)) };
  }
}
