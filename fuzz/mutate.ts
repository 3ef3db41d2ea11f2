import fc from 'fast-check';

/**
 * Byte-level mutations of seed files, as coverage-guided fuzzers apply them: flips,
 * overwrites with boundary values (0, 1, 0x7f, 0x80, 0xff and 16/32-bit extremes, little-
 * and big-endian, where headers keep sizes and offsets), insertions, deletions,
 * truncation, duplication of a slice, and splices from another seed. Positions are
 * fractions of the current length so that one recipe applies to any seed.
 */
export type Mutation =
  | { readonly op: 'flip'; readonly at: number; readonly bit: number }
  | { readonly op: 'set'; readonly at: number; readonly value: number }
  | { readonly op: 'word'; readonly at: number; readonly value: number; readonly bytes: 2 | 4; readonly big: boolean }
  | { readonly op: 'insert'; readonly at: number; readonly data: Uint8Array }
  | { readonly op: 'delete'; readonly at: number; readonly length: number }
  | { readonly op: 'truncate'; readonly at: number }
  | { readonly op: 'repeat'; readonly at: number; readonly length: number; readonly times: number }
  | { readonly op: 'splice'; readonly at: number; readonly from: number; readonly other: number; readonly length: number };

const INTERESTING = [0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff, 4096, 4097, 16384, 65536];

const position = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true });

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: position, bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant('set' as const), at: position, value: fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0, 0xff, 0x7f, 0x80)) }),
  fc.record({ op: fc.constant('word' as const), at: position, value: fc.oneof(fc.constantFrom(...INTERESTING), fc.integer({ min: 0, max: 0xffffffff })), bytes: fc.constantFrom(2 as const, 4 as const), big: fc.boolean() }),
  fc.record({ op: fc.constant('insert' as const), at: position, data: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
  fc.record({ op: fc.constant('delete' as const), at: position, length: fc.integer({ min: 1, max: 256 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: position }),
  fc.record({ op: fc.constant('repeat' as const), at: position, length: fc.integer({ min: 1, max: 64 }), times: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ op: fc.constant('splice' as const), at: position, from: position, other: fc.nat(), length: fc.integer({ min: 1, max: 512 }) }),
);

export function applyMutations(seed: Uint8Array, ops: readonly Mutation[], seeds: readonly Uint8Array[]): Uint8Array {
  let b: Uint8Array = Uint8Array.from(seed);
  for (const m of ops) {
    const at = Math.floor(m.at * Math.max(1, b.length));
    switch (m.op) {
      case 'flip':
        if (b.length) b[at] = b[at]! ^ (1 << m.bit);
        break;
      case 'set':
        if (b.length) b[at] = m.value;
        break;
      case 'word': {
        for (let k = 0; k < m.bytes && at + k < b.length; k++) {
          const shift = 8 * (m.big ? m.bytes - 1 - k : k);
          b[at + k] = Math.floor(m.value / 2 ** shift) & 0xff;
        }
        break;
      }
      case 'insert':
        b = concat(b.subarray(0, at), m.data, b.subarray(at));
        break;
      case 'delete':
        b = concat(b.subarray(0, at), b.subarray(at + m.length));
        break;
      case 'truncate':
        b = b.slice(0, at);
        break;
      case 'repeat': {
        const slice = b.subarray(at, at + m.length);
        b = concat(b.subarray(0, at), ...Array.from({ length: m.times }, () => slice), b.subarray(at));
        break;
      }
      case 'splice': {
        const other = seeds[m.other % seeds.length]!;
        const from = Math.floor(m.from * Math.max(1, other.length));
        b = concat(b.subarray(0, at), other.subarray(from, from + m.length), b.subarray(at));
        break;
      }
    }
    if (b.length > 4 * 1024 * 1024) b = b.slice(0, 4 * 1024 * 1024);
  }
  return b;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A seed from `seeds` with 0-8 mutations, or (one time in ten) random bytes. */
export function mutatedBytes(seeds: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    { weight: 9, arbitrary: fc.tuple(fc.nat({ max: seeds.length - 1 }), fc.array(mutation, { maxLength: 8 })).map(([i, ops]) => applyMutations(seeds[i]!, ops, seeds)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 2048 }) },
  );
}
