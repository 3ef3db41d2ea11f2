import assert from 'node:assert/strict';
import { ClearShotError } from '../../src/errors/index.js';
import type { Raster } from '../../src/engine/types.js';

/** Deterministic PRNG (mulberry32): the same seed gives the same damaged files on every run. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Asserts that a decoder call throws the ClearShotError `code` with a message matching `message`. */
export function assertRejects(fn: () => unknown, code: 'INVALID_IMAGE' | 'IMAGE_TOO_LARGE', message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ClearShotError, `expected a ClearShotError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, message);
    return true;
  });
}

export interface DecoderFuzz {
  readonly seeds: readonly Uint8Array[];
  readonly seed: number;
  readonly iterations: number;
  /** Bytes to overwrite in one mutation: 1 + pick(maxMutations). */
  readonly maxMutations: number;
  /** Values written half of the time (the other half: any byte). */
  readonly special: readonly number[];
  /** Where to mutate, given the file, the PRNG and pick(n) = integer in [0, n). */
  at(bytes: Uint8Array, rand: () => number, pick: (n: number) => number): number;
  decode(bytes: Uint8Array): Raster;
  header(bytes: Uint8Array): unknown;
  /** Extra checks on a raster that decoded. */
  check(r: Raster): void;
}

/**
 * Feeds a decoder files damaged by mutation, truncation or both, and asserts that each
 * either decodes to a consistent raster or fails with INVALID_IMAGE / IMAGE_TOO_LARGE
 * (never another error, never a hang), and that the header reader fails cleanly too.
 */
export function fuzzDecoder(f: DecoderFuzz): void {
  const rand = prng(f.seed);
  const pick = (n: number): number => Math.floor(rand() * n);
  let slowest = 0;
  let decoded = 0;
  for (let iter = 0; iter < f.iterations; iter++) {
    let bytes = Uint8Array.from(f.seeds[pick(f.seeds.length)]!);
    const mode = pick(3);
    if (mode !== 1) {
      const count = 1 + pick(f.maxMutations);
      for (let k = 0; k < count; k++) {
        const at = f.at(bytes, rand, pick);
        bytes[at] = rand() < 0.5 ? f.special[pick(f.special.length)]! : pick(256);
      }
    }
    if (mode !== 0) bytes = bytes.subarray(0, pick(bytes.length + 1));
    const started = performance.now();
    try {
      const r = f.decode(bytes);
      assert.equal(r.data.length, r.width * r.height * r.channels);
      f.check(r);
      decoded++;
    } catch (err) {
      assert.ok(err instanceof ClearShotError, `iteration ${iter}: ${String(err)}`);
      assert.ok(err.code === 'INVALID_IMAGE' || err.code === 'IMAGE_TOO_LARGE', `iteration ${iter}: ${err.code}`);
    }
    try {
      f.header(bytes);
    } catch (err) {
      assert.ok(err instanceof ClearShotError && err.code === 'INVALID_IMAGE', `iteration ${iter}: ${String(err)}`);
    }
    slowest = Math.max(slowest, performance.now() - started);
  }
  // A hang guard, not a speed check: typical calls take well under 20 ms.
  assert.ok(slowest < 5000, `slowest call took ${slowest.toFixed(1)} ms`);
  assert.ok(decoded > 100, `only ${decoded} damaged files decoded: the fuzz is not reaching the pixel code`);
}
