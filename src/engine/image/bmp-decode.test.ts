import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { fixture } from '../../../test/helpers/paths.js';
import { ClearShotError } from '../../errors/index.js';
import type { Raster } from '../types.js';
import { assertRejects, fuzzDecoder } from '../../../test/helpers/decoder-fuzz.js';
import { decodeBmp, readBmpHeader } from './bmp-decode.js';

const MAX_PIXELS = 4096 * 4096;

function load(name: string): Uint8Array {
  return new Uint8Array(readFileSync(fixture('formats', 'bmp', name)));
}

/** ImageMagick's decoding of a fixture (the committed NAME.png), as 8-bit RGBA. */
async function reference(name: string): Promise<Uint8Array> {
  const { data } = await sharp(fixture('formats', 'bmp', `${name}.png`)).toColourspace('srgb').ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return new Uint8Array(data);
}

/** Largest difference, in levels, between a raster and an RGBA reference (alpha 255 if the raster has none). */
function maxDiff(r: Raster, rgba: Uint8Array): number {
  let max = 0;
  for (let i = 0; i < r.width * r.height; i++) {
    for (let c = 0; c < 4; c++) {
      const v = c < 3 ? r.data[i * r.channels + c]! : r.channels === 4 ? r.data[i * 4 + 3]! : 255;
      max = Math.max(max, Math.abs(v - rgba[i * 4 + c]!));
    }
  }
  return max;
}

const invalid = (bytes: Uint8Array, message: RegExp, maxPixels = MAX_PIXELS): void => {
  assertRejects(() => decodeBmp(bytes, maxPixels), 'INVALID_IMAGE', message);
};

/** Copy of `bytes` with little-endian fields overwritten: [offset, value, size in bytes]. */
function patch(bytes: Uint8Array, ...fields: [number, number, 1 | 2 | 4][]): Uint8Array {
  const out = Uint8Array.from(bytes);
  const view = new DataView(out.buffer);
  for (const [offset, value, size] of fields) {
    if (size === 1) view.setUint8(offset, value);
    else if (size === 2) view.setUint16(offset, value, true);
    else view.setUint32(offset, value >>> 0, true);
  }
  return out;
}

interface BmpSpec {
  width: number;
  /** Negative: top-down. */
  height: number;
  bpp: number;
  compression?: number;
  /** 40 (BITMAPINFOHEADER), 108 (V4) or 124 (V5). */
  headerSize?: number;
  /** R, G, B[, A]: written after a 40-byte header, inside a V4/V5 one. */
  masks?: number[];
  /** RGB entries. */
  palette?: [number, number, number][];
  /** Pixel data exactly as stored (rows with padding, or an RLE stream). */
  pixels: Uint8Array;
}

/** A tiny BMP writer for cases ImageMagick cannot produce. */
function makeBmp(spec: BmpSpec): Uint8Array {
  const headerSize = spec.headerSize ?? 40;
  const maskBytes = headerSize === 40 && spec.masks ? spec.masks.length * 4 : 0;
  const palette = spec.palette ?? [];
  const pixelOffset = 14 + headerSize + maskBytes + palette.length * 4;
  const out = new Uint8Array(pixelOffset + spec.pixels.length);
  const view = new DataView(out.buffer);
  out[0] = 0x42;
  out[1] = 0x4d;
  view.setUint32(2, out.length, true);
  view.setUint32(10, pixelOffset, true);
  view.setUint32(14, headerSize, true);
  view.setInt32(18, spec.width, true);
  view.setInt32(22, spec.height, true);
  view.setUint16(26, 1, true);
  view.setUint16(28, spec.bpp, true);
  view.setUint32(30, spec.compression ?? 0, true);
  view.setUint32(34, spec.pixels.length, true);
  view.setUint32(46, palette.length, true);
  (spec.masks ?? []).forEach((m, i) => view.setUint32(54 + i * 4, m >>> 0, true));
  palette.forEach(([r, g, b], i) => out.set([b, g, r, 0], 14 + headerSize + maskBytes + i * 4));
  out.set(spec.pixels, pixelOffset);
  return out;
}

/** Rows of little-endian pixel values, padded to 4 bytes, in file order. */
function packRows(rows: number[][], bytesPerPixel: number): Uint8Array {
  const stride = Math.ceil((rows[0]!.length * bytesPerPixel) / 4) * 4;
  const out = new Uint8Array(stride * rows.length);
  rows.forEach((row, y) => row.forEach((v, x) => {
    for (let k = 0; k < bytesPerPixel; k++) out[y * stride + x * bytesPerPixel + k] = (v >>> (8 * k)) & 0xff;
  }));
  return out;
}

/** RLE4-encodes rows of 4-bit indices (file order): runs of 3+ equal, absolute mode otherwise. */
function encodeRle4(rows: number[][]): Uint8Array {
  const out: number[] = [];
  for (const row of rows) {
    let x = 0;
    while (x < row.length) {
      let run = 1;
      while (x + run < row.length && run < 255 && row[x + run] === row[x]) run++;
      if (run >= 3) {
        out.push(run, (row[x]! << 4) | row[x]!);
        x += run;
        continue;
      }
      let lit = 0; // literal span up to the next run of 3
      while (x + lit < row.length && lit < 255 && !(row[x + lit] === row[x + lit + 1] && row[x + lit] === row[x + lit + 2])) lit++;
      if (lit < 3) {
        // Absolute mode needs 3+ pixels: use a 1- or 2-pixel encoded run (two alternating nibbles).
        const n = Math.min(lit, 2) || 1;
        out.push(n, (row[x]! << 4) | (n === 2 ? row[x + 1]! : 0));
        x += n;
        continue;
      }
      const bytes: number[] = [];
      for (let k = 0; k < lit; k += 2) bytes.push((row[x + k]! << 4) | (k + 1 < lit ? row[x + k + 1]! : 0));
      if (bytes.length & 1) bytes.push(0);
      out.push(0, lit, ...bytes);
      x += lit;
    }
    out.push(0, 0);
  }
  out.push(0, 1);
  return Uint8Array.from(out);
}

/** The 4-bit indices of pal4.bmp, in file order (bottom row first). */
function pal4Indices(bytes: Uint8Array, width: number, height: number): number[][] {
  const offset = new DataView(bytes.buffer, bytes.byteOffset).getUint32(10, true);
  const stride = Math.ceil((width * 4) / 32) * 4;
  return Array.from({ length: height }, (_, y) =>
    Array.from({ length: width }, (_, x) => {
      const b = bytes[offset + y * stride + (x >> 1)]!;
      return x & 1 ? b & 15 : b >> 4;
    }),
  );
}

describe('BMP decoder: fixtures against ImageMagick', () => {
  // [file, channels, tolerance in levels]. Palettes and 8-bit samples are exact; masks of
  // 5 and 6 bits may differ by one level (we round to nearest, ImageMagick replicates bits).
  const cases: [string, 3 | 4, number][] = [
    ['pal1.bmp', 3, 0],
    ['pal4.bmp', 3, 0],
    ['pal8.bmp', 3, 0],
    ['gray8.bmp', 3, 0],
    ['rle8.bmp', 3, 0],
    ['bitfields565.bmp', 3, 1],
    ['bitfields555.bmp', 3, 1],
    ['rgb24.bmp', 3, 0],
    ['rgb24-topdown.bmp', 3, 0],
    ['rgb24-v5.bmp', 3, 0],
    ['rgba32-v5.bmp', 4, 0],
    ['rgba32-v4.bmp', 4, 0],
    ['core24.bmp', 3, 0],
    ['core8.bmp', 3, 0],
    ['core1.bmp', 3, 0],
  ];
  for (const [name, channels, tolerance] of cases) {
    it(`${name}: size, channels and pixels`, async () => {
      const bytes = load(name);
      assert.deepEqual(readBmpHeader(bytes), { width: 45, height: 37 });
      const r = decodeBmp(bytes, MAX_PIXELS);
      assert.equal(r.width, 45);
      assert.equal(r.height, 37);
      assert.equal(r.channels, channels);
      assert.equal(r.depth, 8);
      assert.ok(r.data instanceof Uint8Array);
      assert.equal(r.data.length, 45 * 37 * channels);
      assert.ok(maxDiff(r, await reference(name)) <= tolerance);
    });
  }

  it('the alpha fixture really has a ramp from 0 to 255', () => {
    const r = decodeBmp(load('rgba32-v5.bmp'), MAX_PIXELS);
    assert.equal(r.data[3], 0); // top-left pixel
    assert.equal(r.data[44 * 4 + 3], 255); // top-right pixel
  });

  it('decodes top-down and bottom-up, V4 and V5 to the same pixels', () => {
    assert.deepEqual(decodeBmp(load('rgb24-topdown.bmp'), MAX_PIXELS), decodeBmp(load('rgb24.bmp'), MAX_PIXELS));
    assert.deepEqual(decodeBmp(load('rgba32-v4.bmp'), MAX_PIXELS), decodeBmp(load('rgba32-v5.bmp'), MAX_PIXELS));
  });
});

describe('BMP decoder: hand-made files', () => {
  it('32-bit BI_RGB ignores the 4th byte', () => {
    const rgb = decodeBmp(load('rgb24.bmp'), MAX_PIXELS);
    const rows: number[][] = [];
    for (let y = rgb.height - 1; y >= 0; y--) {
      const row: number[] = [];
      for (let x = 0; x < rgb.width; x++) {
        const i = (y * rgb.width + x) * 3;
        row.push(((x * 37 + y) & 0xff) * 0x1000000 + rgb.data[i]! * 0x10000 + rgb.data[i + 1]! * 0x100 + rgb.data[i + 2]!);
      }
      rows.push(row);
    }
    const decoded = decodeBmp(makeBmp({ width: rgb.width, height: rgb.height, bpp: 32, pixels: packRows(rows, 4) }), MAX_PIXELS);
    assert.deepEqual(decoded, rgb);
  });

  it('16-bit BI_RGB is 5-5-5', () => {
    const v5 = load('bitfields555.bmp');
    const pixels = v5.subarray(138);
    const decoded = decodeBmp(makeBmp({ width: 45, height: 37, bpp: 16, pixels }), MAX_PIXELS);
    assert.deepEqual(decoded, decodeBmp(v5, MAX_PIXELS));
  });

  it('scales 5- and 6-bit masks to the nearest 8-bit level', () => {
    const px = (r: number, g: number, b: number): number => (r << 11) | (g << 5) | b;
    const bytes = makeBmp({
      width: 3, height: 1, bpp: 16, compression: 3, masks: [0xf800, 0x07e0, 0x001f],
      pixels: packRows([[px(31, 63, 31), px(0, 0, 0), px(16, 32, 1)]], 2),
    });
    const r = decodeBmp(bytes, MAX_PIXELS);
    assert.deepEqual([...r.data], [255, 255, 255, 0, 0, 0, 132, 130, 8]);
  });

  it('reads BI_ALPHABITFIELDS with 10-bit colour and 2-bit alpha masks', () => {
    const px = (a: number, r: number, g: number, b: number): number => a * 2 ** 30 + r * 2 ** 20 + g * 2 ** 10 + b;
    const bytes = makeBmp({
      width: 2, height: 1, bpp: 32, compression: 6, masks: [0x3ff00000, 0x000ffc00, 0x000003ff, 0xc0000000],
      pixels: packRows([[px(3, 1023, 0, 512), px(1, 0, 1023, 0)]], 4),
    });
    const r = decodeBmp(bytes, MAX_PIXELS);
    assert.equal(r.channels, 4);
    assert.deepEqual([...r.data], [255, 0, 128, 255, 0, 255, 0, 85]);
  });

  it('drops an alpha channel that is all 0 (padding) or all opaque', () => {
    for (const alpha of [0, 255]) {
      const bytes = makeBmp({
        width: 2, height: 2, bpp: 32, compression: 3, headerSize: 124, masks: [0xff0000, 0xff00, 0xff, 0xff000000],
        pixels: packRows([[alpha * 0x1000000 + 0x102030, alpha * 0x1000000 + 0x405060], [alpha * 0x1000000, alpha * 0x1000000 + 0xffffff]], 4),
      });
      const r = decodeBmp(bytes, MAX_PIXELS);
      assert.equal(r.channels, 3);
      assert.deepEqual([...r.data], [0, 0, 0, 255, 255, 255, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60]);
    }
  });

  it('paints palette indices past the palette black', () => {
    const bytes = makeBmp({ width: 3, height: 1, bpp: 8, palette: [[10, 20, 30], [40, 50, 60]], pixels: packRows([[1, 5, 0]], 1) });
    assert.deepEqual([...decodeBmp(bytes, MAX_PIXELS).data], [40, 50, 60, 0, 0, 0, 10, 20, 30]);
  });

  it('decodes RLE4 (encoded and absolute runs, odd width) like the uncompressed file', () => {
    const pal4 = load('pal4.bmp');
    const indices = pal4Indices(pal4, 45, 37);
    const palette = decodeBmpPalette(pal4, 16);
    const bytes = makeBmp({ width: 45, height: 37, bpp: 4, compression: 2, palette, pixels: encodeRle4(indices) });
    assert.deepEqual(decodeBmp(bytes, MAX_PIXELS), decodeBmp(pal4, MAX_PIXELS));
  });

  it('RLE8: deltas, early end of line and end of bitmap leave palette entry 0', () => {
    const palette: [number, number, number][] = [[255, 0, 0], [0, 255, 0], [0, 0, 255]];
    // 4x3, bottom row first: two 1s, then delta (+1, +1) to x=3 y=1, one 2, end of line,
    // absolute run of 3 (padded), end of bitmap.
    const pixels = Uint8Array.from([2, 1, 0, 2, 1, 1, 1, 2, 0, 0, 0, 3, 2, 1, 2, 0, 0, 1]);
    const r = decodeBmp(makeBmp({ width: 4, height: 3, bpp: 8, compression: 1, palette, pixels }), MAX_PIXELS);
    const R = [255, 0, 0];
    const G = [0, 255, 0];
    const B = [0, 0, 255];
    assert.deepEqual([...r.data], [...B, ...G, ...B, ...R, /* */ ...R, ...R, ...R, ...B, /* */ ...G, ...G, ...R, ...R]);
  });

  it('accepts a file whose last row lacks its padding', () => {
    const bytes = load('rgb24.bmp');
    assert.deepEqual(decodeBmp(bytes.subarray(0, bytes.length - 1), MAX_PIXELS), decodeBmp(bytes, MAX_PIXELS));
  });
});

/** RGB entries of a BITMAPINFOHEADER file's palette. */
function decodeBmpPalette(bytes: Uint8Array, entries: number): [number, number, number][] {
  return Array.from({ length: entries }, (_, i) => {
    const o = 54 + i * 4;
    return [bytes[o + 2]!, bytes[o + 1]!, bytes[o]!];
  });
}

describe('BMP decoder: malformed files', () => {
  const rgb24 = load('rgb24.bmp');
  const pal8 = load('pal8.bmp');
  const rle8 = load('rle8.bmp');

  it('refuses empty, foreign and truncated-header input', () => {
    invalid(new Uint8Array(0), /invalid image file: the file is empty/);
    invalid(Uint8Array.from([0x42, 0x4d]), /the BMP header is truncated/);
    invalid(Uint8Array.from([0x89, 0x50, 0x4e, 0x47]), /not a BMP file/);
    invalid(rgb24.subarray(0, 30), /the BMP header is truncated/);
    invalid(load('rgba32-v5.bmp').subarray(0, 100), /the BMP header is truncated/);
    assertRejects(() => readBmpHeader(rgb24.subarray(0, 17)), 'INVALID_IMAGE', /header is truncated/);
  });

  it('refuses a truncated palette and truncated pixel data', () => {
    invalid(pal8.subarray(0, 54 + 100), /the BMP palette is truncated/);
    invalid(pal8.subarray(0, pal8.length - 50), /the BMP pixel data is truncated/);
    invalid(rgb24.subarray(0, rgb24.length - 2), /the BMP pixel data is truncated/);
    invalid(rgb24.subarray(0, 54), /the BMP pixel data is truncated/);
    invalid(rle8.subarray(0, rle8.length - 300), /the BMP RLE data is truncated/);
  });

  it('refuses headers that lie about the size', () => {
    const huge = patch(rgb24, [18, 30000, 4], [22, 30000, 4]).subarray(0, 200);
    assert.deepEqual(readBmpHeader(huge), { width: 30000, height: 30000 });
    assertRejects(() => decodeBmp(huge, MAX_PIXELS), 'IMAGE_TOO_LARGE', /image exceeds the limits/);
    invalid(huge, /pixel data is truncated/, 30000 * 30000); // within the limit: still no allocation
    invalid(patch(rgb24, [18, 3000, 4], [22, 3000, 4]), /pixel data is truncated/);
    assertRejects(() => decodeBmp(patch(rle8, [18, 100000, 4], [22, 100000, 4]), MAX_PIXELS), 'IMAGE_TOO_LARGE', /exceeds/);
    invalid(patch(rgb24, [10, 0xfffffff0, 4]), /pixel data offset is past the end/);
    invalid(patch(rgb24, [10, 20, 4]), /pixel data offset points into the header/);
    invalid(patch(pal8, [10, 54, 4]), /palette is missing/);
    invalid(patch(rgb24, [18, -45, 4]), /width is not positive/);
    invalid(patch(rgb24, [18, 0, 4]), /width is not positive/);
    invalid(patch(rgb24, [22, 0, 4]), /height is zero/);
    invalid(patch(rgb24, [22, 0x80000000, 4]), /height is zero or out of range/);
  });

  it('refuses unsupported depths, compressions and headers', () => {
    invalid(patch(rgb24, [28, 7, 2]), /unsupported BMP bit depth 7/);
    invalid(patch(rgb24, [28, 64, 2]), /unsupported BMP bit depth 64/);
    invalid(patch(load('core24.bmp'), [24, 16, 2]), /unsupported BMP bit depth 16/);
    invalid(patch(rgb24, [30, 4, 4]), /embedded JPEG or PNG data are not supported/);
    invalid(patch(rgb24, [30, 5, 4]), /embedded JPEG or PNG data are not supported/);
    invalid(patch(rgb24, [30, 11, 4]), /CMYK BMP files are not supported/);
    invalid(patch(rgb24, [30, 9, 4]), /unsupported BMP compression 9/);
    invalid(patch(rgb24, [30, 1, 4]), /RLE8 compression needs 8 bits per pixel, not 24/);
    invalid(patch(pal8, [30, 2, 4]), /RLE4 compression needs 4 bits per pixel, not 8/);
    invalid(patch(pal8, [30, 3, 4]), /bit-field masks need 16, 24 or 32 bits per pixel, not 8/);
    invalid(patch(rgb24, [14, 64, 4]), /OS\/2 2.x BMP files are not supported/);
    invalid(patch(rgb24, [14, 99, 4]), /unsupported BMP header size 99/);
  });

  it('refuses invalid bit-field masks', () => {
    const bf = load('bitfields565.bmp');
    invalid(patch(bf, [54, 0xf0f0, 4]), /bit-field masks are invalid/);
    invalid(patch(bf, [54, 0, 4]), /bit-field masks are invalid/);
    invalid(patch(bf, [54, 0xf0000, 4]), /bit-field masks are invalid/); // outside 16 bits
    invalid(makeBmp({ width: 1, height: 1, bpp: 16, compression: 3, pixels: new Uint8Array(4) }).subarray(0, 60), /masks are truncated/);
  });
});

describe('BMP decoder: fuzz', () => {
  it('returns a consistent raster or a ClearShotError, quickly, for 2,000 damaged files', () => {
    const names = ['pal1.bmp', 'pal4.bmp', 'pal8.bmp', 'rle8.bmp', 'bitfields565.bmp', 'rgb24.bmp', 'rgb24-topdown.bmp', 'rgba32-v5.bmp', 'core8.bmp', 'core24.bmp'];
    const seeds = names.map(load);
    const pal4 = load('pal4.bmp');
    seeds.push(makeBmp({ width: 45, height: 37, bpp: 4, compression: 2, palette: decodeBmpPalette(pal4, 16), pixels: encodeRle4(pal4Indices(pal4, 45, 37)) }));
    fuzzDecoder({
      seeds,
      seed: 0x5eed,
      iterations: 2000,
      maxMutations: 6,
      special: [0, 1, 0x7f, 0x80, 0xff],
      // Mostly in the headers (first 70 bytes), sometimes anywhere.
      at: (bytes, rand, pick) => (rand() < 0.7 ? pick(Math.min(70, bytes.length)) : pick(bytes.length)),
      decode: (bytes) => decodeBmp(bytes, MAX_PIXELS),
      header: readBmpHeader,
      check: (r) => assert.ok(r.channels === 3 || r.channels === 4),
    });
  });
});
