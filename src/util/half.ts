/**
 * IEEE 754 binary16 -> binary32 conversion, used to widen ncnn's fp16 weights.
 * A lookup-free bit manipulation; handles subnormals, infinities and NaN.
 */
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function halfToFloat(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >> 10) & 0x1f;
  let mant = h & 0x03ff;
  if (exp === 0) {
    if (mant === 0) {
      u32[0] = sign;
      return f32[0]!;
    }
    // Subnormal: normalise the mantissa.
    let e = -1;
    do {
      e++;
      mant <<= 1;
    } while ((mant & 0x0400) === 0);
    u32[0] = sign | ((127 - 15 - e) << 23) | ((mant & 0x03ff) << 13);
    return f32[0]!;
  }
  if (exp === 0x1f) {
    u32[0] = sign | 0x7f800000 | (mant << 13);
    return f32[0]!;
  }
  u32[0] = sign | ((exp - 15 + 127) << 23) | (mant << 13);
  return f32[0]!;
}

/** Widens `count` little-endian halves starting at `offset` of `bytes`. */
export function halvesToFloats(bytes: Uint8Array, offset: number, count: number): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const p = offset + i * 2;
    out[i] = halfToFloat(bytes[p]! | (bytes[p + 1]! << 8));
  }
  return out;
}
