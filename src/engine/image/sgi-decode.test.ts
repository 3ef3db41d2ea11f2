import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { fixture } from '../../../test/helpers/paths.js';
import { ClearShotError } from '../../errors/index.js';
import type { Raster } from '../types.js';
import { assertRejects, fuzzDecoder } from '../../../test/helpers/decoder-fuzz.js';
import { decodeSgi, readSgiHeader } from './sgi-decode.js';

const MAX_PIXELS = 4096 * 4096;

function load(name: string): Uint8Array {
  return new Uint8Array(readFileSync(fixture('formats', 'sgi', name)));
}

/** ImageMagick's decoding of a fixture (the committed NAME.png), as RGBA of the given depth. */
async function reference(name: string, depth: 8 | 16): Promise<Uint8Array | Uint16Array> {
  const { data } = await sharp(fixture('formats', 'sgi', `${name}.png`))
    .toColourspace(depth === 16 ? 'rgb16' : 'srgb')
    .ensureAlpha()
    .raw({ depth: depth === 16 ? 'ushort' : 'uchar' })
    .toBuffer({ resolveWithObject: true });
  return depth === 16 ? new Uint16Array(Uint8Array.from(data).buffer) : new Uint8Array(data);
}

/** Largest difference between a raster and an RGBA reference (gray compared with R, G and B). */
function maxDiff(r: Raster, rgba: Uint8Array | Uint16Array): number {
  const opaque = r.depth === 16 ? 65535 : 255;
  const gray = r.channels <= 2;
  const hasAlpha = r.channels === 2 || r.channels === 4;
  let max = 0;
  for (let i = 0; i < r.width * r.height; i++) {
    for (let c = 0; c < 4; c++) {
      const k = c === 3 ? r.channels - 1 : gray ? 0 : c;
      const v = c === 3 && !hasAlpha ? opaque : r.data[i * r.channels + k]!;
      max = Math.max(max, Math.abs(v - rgba[i * 4 + c]!));
    }
  }
  return max;
}

const invalid = (bytes: Uint8Array, message: RegExp): void => {
  assertRejects(() => decodeSgi(bytes, MAX_PIXELS), 'INVALID_IMAGE', message);
};

/** Copy of `bytes` with big-endian fields overwritten: [offset, value, size in bytes]. */
function patch(bytes: Uint8Array, ...fields: [number, number, 1 | 2 | 4][]): Uint8Array {
  const out = Uint8Array.from(bytes);
  const view = new DataView(out.buffer);
  for (const [offset, value, size] of fields) {
    if (size === 1) view.setUint8(offset, value);
    else if (size === 2) view.setUint16(offset, value);
    else view.setUint32(offset, value >>> 0);
  }
  return out;
}

/** RLE-encodes one row of samples into counter/sample units: repeats of 2+, literals otherwise. */
function rleRow(row: number[]): number[] {
  const out: number[] = [];
  let x = 0;
  while (x < row.length) {
    let run = 1;
    while (x + run < row.length && run < 127 && row[x + run] === row[x]) run++;
    if (run >= 2) {
      out.push(run, row[x]!);
      x += run;
      continue;
    }
    let lit = 1;
    while (x + lit < row.length && lit < 127 && row[x + lit] !== row[x + lit + 1]) lit++;
    out.push(0x80 | lit, ...row.slice(x, x + lit));
    x += lit;
  }
  out.push(0);
  return out;
}

/**
 * A tiny SGI writer for what ImageMagick 6 cannot write (RLE at 2 bytes per channel,
 * gray+alpha, dimension 1). `raster` is top row first, as the decoder returns it.
 */
function makeSgi(raster: Raster, rle: boolean, dimension: 1 | 2 | 3 = 3): Uint8Array {
  const { width, height, channels } = raster;
  const bpc = raster.depth === 16 ? 2 : 1;
  const rows: number[][] = []; // plane by plane, bottom row first
  for (let c = 0; c < channels; c++) {
    for (let y = height - 1; y >= 0; y--) {
      rows.push(Array.from({ length: width }, (_, x) => raster.data[(y * width + x) * channels + c]!));
    }
  }
  const units = rle ? rows.map(rleRow) : rows;
  const tables = rle ? rows.length * 8 : 0;
  const dataSize = units.reduce((n, u) => n + u.length * bpc, 0);
  const out = new Uint8Array(512 + tables + dataSize);
  const view = new DataView(out.buffer);
  view.setUint16(0, 474);
  out[2] = rle ? 1 : 0;
  out[3] = bpc;
  view.setUint16(4, dimension);
  view.setUint16(6, width);
  view.setUint16(8, height);
  view.setUint16(10, channels);
  view.setUint32(16, bpc === 2 ? 65535 : 255);
  let p = 512 + tables;
  units.forEach((u, i) => {
    if (rle) {
      view.setUint32(512 + i * 4, p);
      view.setUint32(512 + rows.length * 4 + i * 4, u.length * bpc);
    }
    for (const v of u) {
      if (bpc === 2) view.setUint16(p, v);
      else out[p] = v;
      p += bpc;
    }
  });
  return out;
}

function raster(width: number, height: number, channels: Raster['channels'], depth: 8 | 16, value: (x: number, y: number, c: number) => number): Raster {
  const data = depth === 16 ? new Uint16Array(width * height * channels) : new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < channels; c++) data[(y * width + x) * channels + c] = value(x, y, c);
  return { width, height, channels, depth, data };
}

describe('SGI decoder: fixtures against ImageMagick', () => {
  const cases: [string, Raster['channels'], 8 | 16][] = [
    ['gray.sgi', 1, 8],
    ['gray-rle.sgi', 1, 8],
    ['gray16.sgi', 1, 16],
    ['rgb.sgi', 3, 8],
    ['rgb-rle.sgi', 3, 8],
    ['rgb16.sgi', 3, 16],
    ['rgba.sgi', 4, 8],
    ['rgba-rle.sgi', 4, 8],
    ['rgba16.sgi', 4, 16],
  ];
  for (const [name, channels, depth] of cases) {
    it(`${name}: size, channels, depth and pixels (exact)`, async () => {
      const bytes = load(name);
      assert.deepEqual(readSgiHeader(bytes), { width: 45, height: 37 });
      const r = decodeSgi(bytes, MAX_PIXELS);
      assert.equal(r.width, 45);
      assert.equal(r.height, 37);
      assert.equal(r.channels, channels);
      assert.equal(r.depth, depth);
      assert.ok(depth === 16 ? r.data instanceof Uint16Array : r.data instanceof Uint8Array);
      assert.equal(r.data.length, 45 * 37 * channels);
      assert.equal(maxDiff(r, await reference(name, depth)), 0);
    });
  }

  it('verbatim and RLE files decode to the same pixels', () => {
    for (const base of ['gray', 'rgb', 'rgba']) {
      assert.deepEqual(decodeSgi(load(`${base}-rle.sgi`), MAX_PIXELS), decodeSgi(load(`${base}.sgi`), MAX_PIXELS));
    }
  });

  it('the 16-bit fixtures use 16 bits and the alpha ramp spans 0 to max', () => {
    const r = decodeSgi(load('rgba16.sgi'), MAX_PIXELS);
    assert.ok(Array.from(r.data).some((v) => v % 257 !== 0));
    assert.equal(r.data[3], 0);
    assert.equal(r.data[44 * 4 + 3], 65535);
  });
});

describe('SGI decoder: hand-made files', () => {
  it('decodes 16-bit RLE (16-bit run counters)', () => {
    for (const name of ['rgba16.sgi', 'gray16.sgi']) {
      const expected = decodeSgi(load(name), MAX_PIXELS);
      const bytes = makeSgi(expected, true);
      assert.equal(bytes[2], 1);
      assert.deepEqual(decodeSgi(bytes, MAX_PIXELS), expected);
    }
  });

  it('decodes gray+alpha (2 channels), verbatim and RLE, 8 and 16 bit', () => {
    const gray = decodeSgi(load('gray.sgi'), MAX_PIXELS);
    for (const depth of [8, 16] as const) {
      const scale = depth === 16 ? 257 : 1;
      const ga = raster(45, 37, 2, depth, (x, y, c) => (c === 0 ? gray.data[y * 45 + x]! * scale : Math.round((x * 255) / 44) * scale));
      for (const rle of [false, true]) assert.deepEqual(decodeSgi(makeSgi(ga, rle), MAX_PIXELS), ga);
    }
  });

  it('splits long runs and literals at 127 samples', () => {
    for (const depth of [8, 16] as const) {
      const r = raster(300, 3, 3, depth, (x, y, c) => (y === 1 ? (x * 7 + c) % 251 : x < 200 ? 40 + c : 9) * (depth === 16 ? 251 : 1));
      assert.deepEqual(decodeSgi(makeSgi(r, true), MAX_PIXELS), r);
    }
  });

  it('dimension 1 and 2 ignore the size fields they do not use', () => {
    const row = raster(5, 1, 1, 8, (x) => x * 50);
    const one = patch(makeSgi(row, false, 1), [8, 7, 2], [10, 3, 2]);
    assert.deepEqual(readSgiHeader(one), { width: 5, height: 1 });
    assert.deepEqual(decodeSgi(one, MAX_PIXELS), row);
    const gray = decodeSgi(load('gray.sgi'), MAX_PIXELS);
    assert.deepEqual(decodeSgi(patch(load('gray.sgi'), [10, 4, 2]), MAX_PIXELS), gray);
  });

  it('accepts an RLE row that fills the width without its end marker', () => {
    const r = raster(4, 1, 1, 8, () => 7);
    const bytes = makeSgi(r, true); // row: [4, 7, 0] at offset 520, length 3
    assert.deepEqual(decodeSgi(patch(bytes, [516, 2, 4]), MAX_PIXELS), r);
  });
});

describe('SGI decoder: malformed files', () => {
  const rgb = load('rgb.sgi');
  const rle = load('rgb-rle.sgi');
  /** 4x1 gray RLE: tables at 512 (start) and 516 (length), row [4, 7, 0] at 520. */
  const tiny = makeSgi(raster(4, 1, 1, 8, () => 7), true);

  it('refuses empty, foreign and truncated-header input', () => {
    invalid(new Uint8Array(0), /invalid image file: the file is empty/);
    invalid(Uint8Array.from([0x01]), /not an SGI file/);
    invalid(Uint8Array.from([0x01, 0xda]), /the SGI header is truncated/);
    invalid(patch(rgb, [0, 0x01db, 2]), /not an SGI file \(bad magic number\)/);
    invalid(rgb.subarray(0, 300), /the SGI header is truncated/);
    assertRejects(() => readSgiHeader(rgb.subarray(0, 511)), 'INVALID_IMAGE', /header is truncated/);
  });

  it('refuses unsupported storage, depth, dimension, channels and colormap', () => {
    invalid(patch(rgb, [2, 2, 1]), /unsupported SGI storage format 2/);
    invalid(patch(rgb, [3, 0, 1]), /unsupported SGI bytes per channel 0/);
    invalid(patch(rgb, [3, 4, 1]), /unsupported SGI bytes per channel 4/);
    invalid(patch(rgb, [4, 0, 2]), /unsupported SGI dimension 0/);
    invalid(patch(rgb, [4, 4, 2]), /unsupported SGI dimension 4/);
    invalid(patch(rgb, [10, 0, 2]), /unsupported SGI channel count 0/);
    invalid(patch(rgb, [10, 5, 2]), /unsupported SGI channel count 5/);
    invalid(patch(rgb, [104, 3, 4]), /SGI colormap mode 3 is not supported/);
    invalid(patch(rgb, [6, 0, 2]), /the SGI image has no pixels/);
    invalid(patch(rgb, [8, 0, 2]), /the SGI image has no pixels/);
  });

  it('refuses truncated or lying verbatim data', () => {
    invalid(rgb.subarray(0, rgb.length - 1), /the SGI pixel data is truncated/);
    invalid(rgb.subarray(0, 512), /the SGI pixel data is truncated/);
    invalid(patch(rgb, [6, 3000, 2], [8, 3000, 2]), /the SGI pixel data is truncated/);
    const huge = patch(rgb, [6, 65535, 2], [8, 65535, 2]);
    assert.deepEqual(readSgiHeader(huge), { width: 65535, height: 65535 });
    assertRejects(() => decodeSgi(huge, MAX_PIXELS), 'IMAGE_TOO_LARGE', /image exceeds the limits/);
  });

  it('refuses RLE tables that are truncated or point outside the file', () => {
    invalid(rle.subarray(0, 600), /the SGI RLE tables are truncated/);
    invalid(patch(rle, [6, 4000, 2]), /an SGI RLE row is too short for the image width/);
    invalid(patch(rle, [512, 0xfffffff0, 4]), /an SGI RLE row lies outside the file/);
    invalid(patch(rle, [512, 100, 4]), /an SGI RLE row lies outside the file/);
    invalid(patch(rle, [512 + 37 * 3 * 4, 0x7fffffff, 4]), /an SGI RLE row lies outside the file/);
    invalid(rle.subarray(0, rle.length - 10), /an SGI RLE row lies outside the file/);
  });

  it('refuses RLE rows that overflow, stop short or are cut', () => {
    assert.deepEqual([...tiny.subarray(520)], [4, 7, 0]);
    invalid(patch(tiny, [520, 5, 1]), /an SGI RLE run overflows its row/);
    invalid(patch(tiny, [520, 3, 1]), /an SGI RLE row is shorter than the image width/);
    invalid(patch(tiny, [520, 0x84, 1]), /an SGI RLE row is truncated/); // 4 literals, 2 bytes left
    invalid(patch(tiny, [520, 2, 1], [522, 2, 1]), /an SGI RLE row is truncated/); // a repeat with no value
  });
});

describe('SGI decoder: fuzz', () => {
  it('returns a consistent raster or a ClearShotError, quickly, for 2,000 damaged files', () => {
    const names = ['gray.sgi', 'gray-rle.sgi', 'gray16.sgi', 'rgb.sgi', 'rgb-rle.sgi', 'rgba-rle.sgi', 'rgb16.sgi'];
    const seeds = names.map(load);
    seeds.push(makeSgi(decodeSgi(load('rgba16.sgi'), MAX_PIXELS), true));
    const fields = [2, 3, 5, 6, 7, 8, 9, 11, 107]; // storage, bpc, dimension, sizes, channels, colormap
    fuzzDecoder({
      seeds,
      seed: 0x5617,
      iterations: 2000,
      maxMutations: 4,
      special: [0, 1, 2, 3, 4, 0x7f, 0x80, 0xff],
      // Header fields, then the RLE tables / first rows, then anywhere.
      at: (bytes, rand, pick) => {
        const where = rand();
        return where < 0.4 ? fields[pick(fields.length)]! : where < 0.8 ? 512 + pick(Math.min(1000, bytes.length - 512)) : pick(bytes.length);
      },
      decode: (bytes) => decodeSgi(bytes, MAX_PIXELS),
      header: readSgiHeader,
      check: (r) => assert.equal(r.data instanceof Uint16Array, r.depth === 16),
    });
  });
});
