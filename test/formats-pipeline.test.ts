import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import sharp, { type Sharp } from 'sharp';
import { pickExif } from '../src/engine/image/exif.js';
import { LocalEngine } from '../src/engine/local-engine.js';
import type { EnhanceOptions, EnhanceResult } from '../src/engine/types.js';
import { readRaster } from './helpers/image-metrics.js';
import { fixture, TEST_DATA_DIR } from './helpers/paths.js';

/** The whole pipeline keeps what the image is: format family, alpha, depth, gray, colour, orientation, EXIF. */
let engine: LocalEngine;
before(async () => {
  engine = await LocalEngine.open({ dataDir: TEST_DATA_DIR, threads: 2, preload: ['fast'] });
});
after(() => engine.close());

const read = (...p: string[]) => readFile(fixture('formats', ...p));
const run = async (bytes: Uint8Array, options: EnhanceOptions = {}) => engine.enhance(bytes, { scale: 2, ...options });
const meta = (r: EnhanceResult) => sharp(r.data).metadata();

describe('output format follows the input family', () => {
  const cases: Array<[string[], string]> = [
    [['jpeg', 'baseline.jpg'], 'jpeg'],
    [['png', 'rgb.png'], 'png'],
    [['webp', 'lossy.webp'], 'webp'],
    [['tiff', 'lzw.tif'], 'tiff'],
    [['bmp', 'rgb24.bmp'], 'png'],
    [['sgi', 'rgb.sgi'], 'png'],
    [['gif', 'animated.gif'], 'png'],
  ];
  for (const [file, format] of cases) {
    it(`${file.join('/')} -> ${format}`, async () => {
      const r = await run(await read(...file));
      assert.equal(r.format, format);
      const m = await meta(r);
      assert.equal(m.format === 'heif' ? 'heif' : m.format, format);
      assert.equal(m.width, r.width);
    });
  }

  it('an explicit format wins', async () => {
    const r = await run(await read('png', 'rgb.png'), { format: 'webp' });
    assert.equal((await meta(r)).format, 'webp');
  });
});

describe('alpha', () => {
  it('a transparent PNG stays transparent where it was', async () => {
    const r = await run(await read('png', 'rgba.png'));
    const m = await meta(r);
    assert.equal(m.format, 'png');
    assert.equal(m.channels, 4);
    const { data, info } = await sharp(r.data).raw().toBuffer({ resolveWithObject: true });
    const alphaAt = (x: number, y: number) => data[(y * info.width + x) * 4 + 3]!;
    // The input's bottom-right 12x12 corner is fully transparent: at 2x, well inside it.
    for (let y = info.height - 18; y < info.height; y++) for (let x = info.width - 18; x < info.width; x++) assert.equal(alphaAt(x, y), 0);
    // The left edge was opaque.
    assert.ok(alphaAt(2, 2) >= 250);
  });

  it('a gray PNG with transparency stays gray and transparent (8 and 16 bit)', async () => {
    for (const space of ['b-w', 'grey16'] as const) {
      // Gray + alpha, made here: the left half opaque, the right half fully transparent.
      const sixteen = space === 'grey16';
      const gray = await sharp(await read('png', 'gray.png')).toColourspace(space).raw({ depth: sixteen ? 'ushort' : 'uchar' }).toBuffer({ resolveWithObject: true });
      const { width, height } = gray.info;
      const g = sixteen ? new Uint16Array(gray.data.buffer, gray.data.byteOffset, width * height) : new Uint8Array(gray.data);
      const both = sixteen ? new Uint16Array(width * height * 2) : new Uint8Array(width * height * 2);
      for (let i = 0; i < width * height; i++) {
        both[2 * i] = g[i]!;
        both[2 * i + 1] = i % width < width / 2 ? (sixteen ? 65535 : 255) : 0;
      }
      const input = await sharp(both, { raw: { width, height, channels: 2 } }).toColourspace(space).png().toBuffer();
      const m0 = await sharp(input).metadata();
      assert.deepEqual([m0.channels, m0.hasAlpha], [2, true], `${space} fixture`);
      const r = await run(input);
      const m = await meta(r);
      assert.deepEqual([m.format, m.channels, m.hasAlpha, m.depth], ['png', 2, true, space === 'b-w' ? 'uchar' : 'ushort'], space);
      const a = await sharp(r.data).extractChannel('alpha').raw().toBuffer();
      assert.ok(a[2 * r.width + 2]! >= 250, `${space}: the opaque half stays opaque`);
      assert.equal(a[3 * r.width - 3], 0, `${space}: the transparent half stays transparent`);
    }
  });

  it('a transparent WebP stays WebP with alpha', async () => {
    const r = await run(await read('webp', 'alpha.webp'));
    const m = await meta(r);
    assert.deepEqual([m.format, m.hasAlpha], ['webp', true]);
  });

  it('alpha never defaults to JPEG; an explicit JPEG is flattened on white and says so', async () => {
    const r = await run(await read('png', 'rgba.png'), { format: 'jpeg' });
    assert.equal((await meta(r)).channels, 3);
    assert.ok(r.notes.some((n) => /flattened on white/.test(n)));
    const { data, info } = await sharp(r.data).raw().toBuffer({ resolveWithObject: true });
    const i = (info.width * info.height - 1) * 3;
    assert.ok(data[i]! > 240 && data[i + 1]! > 240 && data[i + 2]! > 240, 'transparent corner became white');
  });
});

describe('depth and gray', () => {
  it('16-bit PNG and TIFF keep 16-bit precision', async () => {
    for (const [file, format] of [
      [['png', 'rgb16.png'], 'png'],
      [['tiff', 'rgb16-lzw.tif'], 'tiff'],
      [['sgi', 'rgb16.sgi'], 'png'],
    ] as Array<[string[], string]>) {
      const r = await run(await read(...file));
      const m = await meta(r);
      assert.deepEqual([m.format, m.depth], [format, 'ushort'], file.join('/'));
      const px = await readRaster(r.data);
      // Real 16-bit output, not 8-bit values widened by 257.
      assert.ok(Array.from(px.data.subarray(0, 3000)).some((v) => v % 257 !== 0), `${file.join('/')} looks 8-bit`);
    }
  });

  it('gray stays gray (PNG, 16-bit PNG, JPEG, TIFF)', async () => {
    for (const file of [['png', 'gray.png'], ['png', 'gray16.png'], ['jpeg', 'gray.jpg'], ['tiff', 'gray.tif']]) {
      const m = await meta(await run(await read(...file)));
      assert.equal(m.channels, 1, file.join('/'));
    }
  });
});

describe('colour', () => {
  /** Mean absolute difference of 4x4 block means, after both are viewed through their profiles as sRGB. */
  async function viewedDiff(a: Uint8Array, b: Uint8Array): Promise<number> {
    const view = async (x: Uint8Array) => (await sharp(x).resize(12, 10, { fit: 'fill', kernel: 'cubic' }).toColourspace('srgb').raw().toBuffer()) as Buffer;
    const va = await view(a);
    const vb = await view(b);
    let sum = 0;
    for (let i = 0; i < va.length; i++) sum += Math.abs(va[i]! - vb[i]!);
    return sum / va.length;
  }

  it('a Display P3 image keeps its profile and looks the same through it', async () => {
    const input = await read('png', 'p3.png');
    const r = await run(input);
    const m = await meta(r);
    const inMeta = await sharp(input).metadata();
    assert.ok(m.icc, 'profile embedded in the output');
    assert.equal(m.icc.length, inMeta.icc!.length);
    const diff = await viewedDiff(input, r.data);
    assert.ok(diff < 3, `viewed through the profiles, mean block difference ${diff.toFixed(2)} levels`);
    // Without the profile the same pixels would look different: the check can fail.
    const stripped = await sharp(r.data, { ignoreIcc: true }).raw().toBuffer({ resolveWithObject: true });
    const untagged = await sharp(stripped.data, { raw: stripped.info }).png().toBuffer();
    assert.ok((await viewedDiff(input, untagged)) > diff + 1);
  });

  it('Adobe RGB keeps its profile', async () => {
    const r = await run(await read('jpeg', 'adobergb.jpg'));
    assert.equal((await meta(r)).icc?.length, 580);
  });

  it('CMYK JPEG comes out as sRGB JPEG', async () => {
    const r = await run(await read('jpeg', 'cmyk-adobe.jpg'));
    const m = await meta(r);
    assert.deepEqual([m.format, m.space, m.channels], ['jpeg', 'srgb', 3]);
    assert.ok(r.notes.some((n) => /CMYK converted to sRGB/.test(n)));
  });
});

describe('EXIF orientation 1-8: output is upright and carries no orientation', () => {
  // Quadrants: red top-left, green top-right, blue bottom-left, white bottom-right.
  const W = 40;
  const H = 24;
  let upright: Buffer;
  before(async () => {
    const px = Buffer.alloc(W * H * 3);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const top = y < H / 2;
        const left = x < W / 2;
        const c = top ? (left ? [220, 30, 30] : [30, 200, 30]) : left ? [30, 30, 220] : [240, 240, 240];
        px.set(c, (y * W + x) * 3);
      }
    }
    upright = px;
  });
  // Stored pixels for tag n are the inverse of what displaying tag n does.
  // NOTE: sharp applies flip/flop before a rotation in the same pipeline.
  const store: Record<number, (s: Sharp) => Sharp> = {
    1: (s) => s,
    2: (s) => s.flop(),
    3: (s) => s.rotate(180),
    4: (s) => s.flip(),
    5: (s) => s.rotate(90).flip(), // transpose
    6: (s) => s.rotate(270),
    7: (s) => s.rotate(90).flop(), // transverse
    8: (s) => s.rotate(90),
  };
  for (let n = 1; n <= 8; n++) {
    it(`orientation ${n}`, async () => {
      const stored = await store[n]!(sharp(upright, { raw: { width: W, height: H, channels: 3 } })).png().toBuffer();
      const tagged = await sharp(stored).withMetadata({ orientation: n }).jpeg({ quality: 95 }).toBuffer();
      const r = await engine.enhance(tagged, { scale: 1 });
      assert.deepEqual([r.width, r.height], [W, H]);
      const m = await meta(r);
      assert.ok(m.orientation === undefined || m.orientation === 1, `orientation tag ${m.orientation}`);
      const { data } = await sharp(r.data).raw().toBuffer({ resolveWithObject: true });
      const at = (x: number, y: number) => Array.from(data.subarray((y * W + x) * 3, (y * W + x) * 3 + 3));
      const [tl, tr, bl, br] = [at(8, 5), at(W - 8, 5), at(8, H - 6), at(W - 8, H - 6)];
      assert.ok(tl[0]! > 150 && tl[1]! < 100, `top-left should be red: ${tl}`);
      assert.ok(tr[1]! > 150 && tr[0]! < 100, `top-right should be green: ${tr}`);
      assert.ok(bl[2]! > 150 && bl[0]! < 100, `bottom-left should be blue: ${bl}`);
      assert.ok(br.every((v) => v > 200), `bottom-right should be white: ${br}`);
    });
  }
});

describe('EXIF metadata', () => {
  let photo: Buffer;
  before(async () => {
    photo = await sharp(fixture('converter', 'input.png'))
      .withExif({
        IFD0: { Make: 'Canon', Model: 'EOS R5', DateTime: '2024:05:06 07:08:09', Copyright: 'Jane Doe' },
        IFD2: { DateTimeOriginal: '2024:05:06 07:08:09', ExposureTime: '1/250', FNumber: '28/10', LensModel: 'RF50mm F1.8' },
        IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '48/1 51/1 2400/100', GPSLongitudeRef: 'E', GPSLongitude: '2/1 21/1 0/1' },
      })
      .jpeg({ quality: 95 })
      .toBuffer();
  });

  it('keeps capture date, camera, lens and copyright, and drops GPS', async () => {
    const r = await run(photo);
    const kept = pickExif((await meta(r)).exif, true);
    assert.equal(kept?.IFD0.Make, 'Canon');
    assert.equal(kept?.IFD0.Model, 'EOS R5');
    assert.equal(kept?.IFD0.Copyright, 'Jane Doe');
    assert.equal(kept?.IFD2.DateTimeOriginal, '2024:05:06 07:08:09');
    assert.equal(kept?.IFD2.ExposureTime, '1/250');
    assert.equal(kept?.IFD2.LensModel, 'RF50mm F1.8');
    assert.deepEqual(kept?.IFD3, {}, 'no GPS');
  });

  it('keeps GPS only when asked', async () => {
    const r = await run(photo, { keepGps: true });
    const kept = pickExif((await meta(r)).exif, true);
    assert.equal(kept?.IFD3.GPSLatitudeRef, 'N');
    assert.equal(kept?.IFD3.GPSLatitude, '48/1 51/1 2400/100');
  });

  it('malformed EXIF is ignored, never an error', () => {
    assert.equal(pickExif(Buffer.from('Exif\0\0II*\0\xff\xff\xff\xff', 'latin1')), undefined);
    assert.equal(pickExif(Buffer.from('garbage')), undefined);
    const truncated = Buffer.from('Exif\0\0II*\0\x08\0\0\0\x05\0\x0f\x01\x02\0\xff\xff\0\0\x99\x99\x99\x99', 'latin1');
    assert.equal(pickExif(truncated), undefined);
  });
});
