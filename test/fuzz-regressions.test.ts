import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { applyMutations, type Mutation } from '../fuzz/mutate.js';
import { findingsOf, HANG_MS, seedsOf, TARGETS } from '../fuzz/targets.js';

/**
 * Replays the fuzzers' committed corpus and findings (fuzz/, README "Fuzzing") through
 * their targets: each input must be accepted or refused with a clear 4xx error, in time.
 * A finding, once fixed, stays here as a regression test.
 */
describe('fuzz corpus and findings replay', () => {
  before(async () => {
    for (const t of TARGETS) await t.setup?.();
  });
  after(async () => {
    for (const t of TARGETS) await t.teardown?.();
  });

  for (const t of TARGETS) {
    it(`${t.name}: every seed and finding gets a result or a clear refusal`, async () => {
      const inputs = [...seedsOf(t.name), ...findingsOf(t.name)];
      assert.ok(inputs.length >= 5, `${t.name} has ${inputs.length} seeds`);
      for (const input of inputs) {
        const t0 = performance.now();
        await assert.doesNotReject(() => t.run(input.bytes), `${input.file}`);
        assert.ok(performance.now() - t0 < HANG_MS, `${input.file} took too long`);
      }
    });
  }

  it('the mutator reaches the headers: boundary values, truncation, splices', () => {
    const seed = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    const ops: Mutation[] = [
      { op: 'word', at: 0.25, value: 0xffffffff, bytes: 4, big: false },
      { op: 'truncate', at: 0.75 },
      { op: 'splice', at: 0, from: 0, other: 0, length: 2 },
    ];
    assert.deepEqual([...applyMutations(seed, ops, [Uint8Array.from([9, 9])])], [9, 9, 1, 2, 255, 255, 255, 255]);
  });
});
