/**
 * JPEG quality from the quantization tables (DQT segments) of a JPEG file.
 *
 * Encoders that follow the IJG reference (libjpeg, libjpeg-turbo, mozjpeg, sharp,
 * ImageMagick, most cameras' and phones' "quality" settings) scale the two tables of
 * the JPEG standard (ITU-T T.81, Annex K) by a factor derived from a quality of 1-100.
 * We find the quality whose scaled tables are closest to the file's. Files with
 * custom tables get the nearest IJG quality, which still orders them correctly.
 */

/** ITU-T T.81 Annex K.1, luminance, in natural (row-major) order. */
const STD_LUMA = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
  49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];
/** ITU-T T.81 Annex K.2, chrominance. */
const STD_CHROMA = [
  17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
  99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
];

/** Zig-zag position -> natural position (DQT stores tables in zig-zag order). */
const ZIGZAG = [
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38,
  31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

/** libjpeg's jpeg_quality_scaling + jpeg_add_quant_table (baseline: clamped to 1..255). */
export function ijgTable(std: readonly number[], quality: number): number[] {
  const q = Math.min(100, Math.max(1, Math.round(quality)));
  const scale = q < 50 ? Math.floor(5000 / q) : 200 - 2 * q;
  return std.map((v) => Math.min(255, Math.max(1, Math.floor((v * scale + 50) / 100))));
}

/** Quantization tables of a JPEG by table id (0-3), natural order; empty when not a JPEG. */
export function readQuantTables(bytes: Uint8Array): Map<number, number[]> {
  const tables = new Map<number, number[]>();
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return tables;
  let at = 2;
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) break;
    const marker = bytes[at + 1]!;
    if (marker === 0xff) {
      at++; // fill byte
      continue;
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      at += 2;
      continue;
    }
    const length = (bytes[at + 2]! << 8) | bytes[at + 3]!;
    if (length < 2 || at + 2 + length > bytes.length) break;
    if (marker === 0xdb) {
      let p = at + 4;
      const end = at + 2 + length;
      while (p < end) {
        const pq = bytes[p]! >> 4;
        const id = bytes[p]! & 15;
        p++;
        const size = pq ? 128 : 64;
        if (p + size > end) break;
        const table = new Array<number>(64);
        for (let k = 0; k < 64; k++) table[ZIGZAG[k]!] = pq ? (bytes[p + 2 * k]! << 8) | bytes[p + 2 * k + 1]! : bytes[p + k]!;
        tables.set(id, table);
        p += size;
      }
    }
    if (marker === 0xda) break; // start of scan: all tables of the first frame are read
    at += 2 + length;
  }
  return tables;
}

/**
 * The IJG quality (1-100) closest to the file's tables, or undefined when the bytes
 * carry no quantization table. Distance: summed absolute difference over the luma
 * table and, when present, the first chroma table.
 */
export function jpegQualityFromTables(bytes: Uint8Array): number | undefined {
  const tables = readQuantTables(bytes);
  const luma = tables.get(0);
  if (!luma) return undefined;
  const chroma = tables.get(1);
  let best = 0;
  let bestDistance = Infinity;
  for (let q = 1; q <= 100; q++) {
    const l = ijgTable(STD_LUMA, q);
    let d = 0;
    for (let i = 0; i < 64; i++) d += Math.abs(l[i]! - luma[i]!);
    if (chroma) {
      const c = ijgTable(STD_CHROMA, q);
      for (let i = 0; i < 64; i++) d += Math.abs(c[i]! - chroma[i]!);
    }
    if (d < bestDistance) {
      bestDistance = d;
      best = q;
    }
  }
  return best;
}
