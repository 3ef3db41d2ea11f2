import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RateLimiter } from '../../src/http/rate-limiter.js';

/** One conformance suite for the rate limiter port (in memory, Redis). */
export function limiterConformance(name: string, open: () => Promise<{ limiter: RateLimiter; cleanup: () => Promise<void> }>): void {
  describe(`rate limiter conformance: ${name}`, () => {
    let limiter: RateLimiter;
    let cleanup: () => Promise<void>;
    before(async () => {
      ({ limiter, cleanup } = await open());
    });
    after(() => cleanup());

    it('allows a burst of `rate`, then refuses with a retry delay, then refills', async () => {
      const key = `k${Math.random()}`;
      const first = await Promise.all([1, 2, 3].map(() => limiter.take('create', key, 2)));
      assert.equal(first.filter((r) => r.ok).length, 2);
      const refused = first.find((r) => !r.ok);
      assert.ok(refused && !refused.ok && refused.retryAfterS >= 1);
      await new Promise((r) => setTimeout(r, 600));
      assert.equal((await limiter.take('create', key, 2)).ok, true, 'refilled after 0.5 s at 2/s');
    });

    it('keeps keys and buckets apart, and 0 means no limit', async () => {
      const key = `k${Math.random()}`;
      await limiter.take('create', key, 1);
      assert.equal((await limiter.take('create', key, 1)).ok, false);
      assert.equal((await limiter.take('query', key, 1)).ok, true);
      assert.equal((await limiter.take('create', `${key}-other`, 1)).ok, true);
      for (let i = 0; i < 20; i++) assert.equal((await limiter.take('create', key, 0)).ok, true);
    });
  });
}
