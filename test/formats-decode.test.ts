import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { decodeImage } from '../src/engine/image/decode.js';
import { sniffFormat } from '../src/engine/image/sniff.js';
import { ClearShotError } from '../src/errors/index.js';
import { psnr, readRaster } from './helpers/image-metrics.js';
import { fixture } from './helpers/paths.js';

/**
 * Decode step: every format and variant the contract lists decodes to the right size
 * and pixels, compared with the source the fixture was made from (by PSNR), never by
 * bytes. Fixtures: scripts/make-format-fixtures.ts (+ -bmp-sgi.sh).
 */
const SOURCE = fixture('converter', 'input.png');
const read = (...p: string[]) => readFile(fixture('formats', ...p));

async function source(kind: 'rgb' | 'gray' | 'rgb16' | 'gray16') {
  const s = sharp(SOURCE);
  const cs = { rgb: 'srgb', gray: 'b-w', rgb16: 'rgb16', gray16: 'grey16' } as const;
  return readRaster(await s.toColourspace(cs[kind]).png().toBuffer());
}

async function decodes(file: string[], expect: { format: string; channels: 1 | 3; depth?: 8 | 16; alpha?: boolean; minDb: number; against?: 'rgb' | 'gray' | 'rgb16' | 'gray16'; note?: RegExp }) {
  const d = await decodeImage(await read(...file));
  assert.equal(d.format, expect.format);
  assert.deepEqual([d.width, d.height], [48, 40]);
  assert.equal(d.color.channels, expect.channels);
  assert.equal(d.color.depth, expect.depth ?? 8);
  assert.equal(d.alpha !== undefined, expect.alpha ?? false, 'alpha presence');
  const ref = await source(expect.against ?? (expect.channels === 1 ? 'gray' : 'rgb'));
  const db = psnr(d.color, ref);
  assert.ok(db >= expect.minDb, `${file.join('/')}: ${db.toFixed(1)} dB < ${expect.minDb}`);
  if (expect.note) assert.ok(d.notes.some((n) => expect.note!.test(n)), `notes: ${d.notes.join('; ')}`);
  return d;
}

describe('decode: JPEG / JFIF', () => {
  it('baseline and progressive', async () => {
    await decodes(['jpeg', 'baseline.jpg'], { format: 'jpeg', channels: 3, minDb: 38 });
    await decodes(['jpeg', 'progressive.jpg'], { format: 'jpeg', channels: 3, minDb: 38 });
  });
  it('grayscale stays one channel', async () => {
    await decodes(['jpeg', 'gray.jpg'], { format: 'jpeg', channels: 1, minDb: 40 });
  });
  it('CMYK is converted to RGB through its profile, Adobe-inverted or not', async () => {
    // Reference: ImageMagick + lcms converting the same CMYK data with the same profile.
    const ref = await readRaster(fixture('formats', 'jpeg', 'cmyk.ref.png'));
    const plain = await decodes(['jpeg', 'cmyk.jpg'], { format: 'jpeg', channels: 3, minDb: 22, note: /CMYK converted/ });
    const adobe = await decodes(['jpeg', 'cmyk-adobe.jpg'], { format: 'jpeg', channels: 3, minDb: 22 });
    assert.ok(psnr(plain.color, ref) >= 44, `cmyk.jpg vs lcms ${psnr(plain.color, ref).toFixed(1)} dB`);
    assert.ok(psnr(adobe.color, ref) >= 40, `cmyk-adobe.jpg vs lcms ${psnr(adobe.color, ref).toFixed(1)} dB`);
  });
  it('Adobe RGB keeps its values and its profile', async () => {
    const d = await decodes(['jpeg', 'adobergb.jpg'], { format: 'jpeg', channels: 3, minDb: 10 });
    assert.equal(d.icc?.length, 580, 'the 580-byte compatibleWithAdobeRGB1998 profile');
    const viewed = await readRaster(await sharp(await read('jpeg', 'adobergb.jpg')).toColourspace('srgb').png().toBuffer());
    assert.ok(psnr(viewed, await source('rgb')) >= 35);
  });
  it('Display P3 keeps its values and its profile', async () => {
    const d = await decodeImage(await read('jpeg', 'p3.jpg'));
    assert.ok(d.icc && d.icc.length > 0, 'profile kept');
    // Viewed through its profile (converted to sRGB by sharp), it matches the source.
    const viewed = await readRaster(await sharp(await read('jpeg', 'p3.jpg')).toColourspace('srgb').png().toBuffer());
    assert.ok(psnr(viewed, await source('rgb')) >= 35);
  });
});

describe('decode: PNG', () => {
  it('RGB, palette, gray, 16-bit', async () => {
    await decodes(['png', 'rgb.png'], { format: 'png', channels: 3, minDb: 99 });
    await decodes(['png', 'palette.png'], { format: 'png', channels: 3, minDb: 28 });
    await decodes(['png', 'gray.png'], { format: 'png', channels: 1, minDb: 99 });
    await decodes(['png', 'gray16.png'], { format: 'png', channels: 1, depth: 16, minDb: 99, against: 'gray16' });
    await decodes(['png', 'rgb16.png'], { format: 'png', channels: 3, depth: 16, minDb: 99, against: 'rgb16' });
  });
  it('alpha is split off, unpremultiplied and exact', async () => {
    const d = await decodes(['png', 'rgba.png'], { format: 'png', channels: 3, alpha: true, minDb: 99 });
    const a = d.alpha!;
    assert.equal(a.data[0], 255, 'left edge opaque');
    assert.equal(a.data[a.width * a.height - 1], 0, 'bottom-right corner transparent');
  });
  it('APNG: first frame, and says so', async () => {
    await decodes(['png', 'animated.png'], { format: 'png', channels: 3, minDb: 99, note: /animated image: first frame of 2 enhanced/ });
  });
});

describe('decode: WebP', () => {
  it('lossy, lossless, alpha, animated', async () => {
    await decodes(['webp', 'lossy.webp'], { format: 'webp', channels: 3, minDb: 33 });
    await decodes(['webp', 'lossless.webp'], { format: 'webp', channels: 3, minDb: 99 });
    // libwebp zeroes the RGB under fully transparent pixels (our fixture has a transparent corner).
    await decodes(['webp', 'alpha.webp'], { format: 'webp', channels: 3, alpha: true, minDb: 40 });
    await decodes(['webp', 'animated.webp'], { format: 'webp', channels: 3, minDb: 99, note: /first frame of 2/ });
  });
});

describe('decode: TIFF (incl. the contract\'s "lzw")', () => {
  it('none, LZW, Deflate, 16-bit, gray, gray 16-bit', async () => {
    await decodes(['tiff', 'none.tif'], { format: 'tiff', channels: 3, minDb: 99 });
    await decodes(['tiff', 'lzw.tif'], { format: 'tiff', channels: 3, minDb: 99 });
    await decodes(['tiff', 'deflate.tif'], { format: 'tiff', channels: 3, minDb: 99 });
    await decodes(['tiff', 'rgb16-lzw.tif'], { format: 'tiff', channels: 3, depth: 16, minDb: 99, against: 'rgb16' });
    await decodes(['tiff', 'gray.tif'], { format: 'tiff', channels: 1, minDb: 99 });
    await decodes(['tiff', 'gray16.tif'], { format: 'tiff', channels: 1, depth: 16, minDb: 99, against: 'gray16' });
  });
});

describe('decode: BMP ("bitmap") and SGI ("rgb") through the engine', () => {
  it('24-bit BMP and RLE SGI', async () => {
    const bmp = await decodeImage(await read('bmp', 'rgb24.bmp'));
    assert.equal(bmp.format, 'bmp');
    const sgi = await decodeImage(await read('sgi', 'rgb-rle.sgi'));
    assert.equal(sgi.format, 'sgi');
    assert.ok(psnr(bmp.color, sgi.color) > 40, 'same source image');
  });
});

describe('decode: GIF', () => {
  it('animated GIF: first frame, and says so', async () => {
    await decodes(['gif', 'animated.gif'], { format: 'gif', channels: 3, minDb: 22, note: /first frame of 2/ });
  });
});

describe('decode: refusals happen before pixels are decoded', () => {
  const fails = async (bytes: Uint8Array, code: string, message: RegExp) => {
    await assert.rejects(decodeImage(bytes), (e: unknown) => e instanceof ClearShotError && e.code === code && message.test(e.message));
  };
  it('a 20000 x 20000 PNG bomb of a few KB is too large', async () => {
    const bomb = await read('png', 'bomb-20000.png');
    assert.ok(bomb.length < 100_000, `bomb is ${bomb.length} bytes`);
    const rssBefore = process.memoryUsage().rss;
    await fails(bomb, 'IMAGE_TOO_LARGE', /20000x20000/);
    assert.ok(process.memoryUsage().rss - rssBefore < 200 * 2 ** 20, 'no large allocation');
  });
  it('bytes, not names, decide the format', async () => {
    assert.equal(sniffFormat(await read('png', 'rgb.png')), 'png');
    assert.equal(sniffFormat(Buffer.from('GIF89a....')), 'gif');
    await fails(Buffer.from('%PDF-1.7 not an image'), 'INVALID_IMAGE', /not an image in a supported format/);
    await fails(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'), 'INVALID_IMAGE', /not an image/);
  });
  it('HEIC, AVIF and other known but unsupported formats are refused by name', async () => {
    const ftyp = (brand: string) => Buffer.concat([Buffer.from([0, 0, 0, 0x1c]), Buffer.from(`ftyp${brand}\0\0\0\0mif1miaf`), Buffer.alloc(64)]);
    await fails(ftyp('heic'), 'INVALID_IMAGE', /HEIC\/HEIF images are not supported; export the photo to JPEG/);
    await fails(ftyp('avif'), 'INVALID_IMAGE', /AVIF images are not supported/);
    await fails(Buffer.concat([Buffer.from('8BPS'), Buffer.alloc(64)]), 'INVALID_IMAGE', /Photoshop \(PSD\) images are not supported/);
    // An ISO media file that is no image (an MP4) still gets the generic refusal.
    await fails(ftyp('isom'), 'INVALID_IMAGE', /not an image in a supported format/);
  });
  it('a NEF/ARW-style raw (preview in IFD0, sensor CFA data in a SubIFD) is refused, not read as its preview', async () => {
    // Little-endian TIFF: IFD0 = 16x12 RGB preview with a SubIFDs tag -> a 64x48 CFA IFD.
    const ifd = (entries: Array<[number, number, number]>) => {
      const b = Buffer.alloc(2 + entries.length * 12 + 4);
      b.writeUInt16LE(entries.length, 0);
      entries.forEach(([tag, type, value], i) => {
        b.writeUInt16LE(tag, 2 + i * 12);
        b.writeUInt16LE(type, 4 + i * 12);
        b.writeUInt32LE(1, 6 + i * 12);
        if (type === 3) b.writeUInt16LE(value, 10 + i * 12);
        else b.writeUInt32LE(value, 10 + i * 12);
      });
      return b;
    };
    const ifd0At = 8;
    const subAt = ifd0At + 2 + 11 * 12 + 4;
    const previewAt = subAt + 2 + 9 * 12 + 4;
    const sensorAt = previewAt + 16 * 12 * 3;
    const ifd0 = ifd([[254, 4, 1], [256, 3, 16], [257, 3, 12], [258, 3, 8], [259, 3, 1], [262, 3, 2], [273, 4, previewAt], [277, 3, 3], [278, 3, 12], [279, 4, 16 * 12 * 3], [330, 4, subAt]]);
    const sub = ifd([[256, 3, 64], [257, 3, 48], [258, 3, 16], [259, 3, 1], [262, 3, 32803], [273, 4, sensorAt], [277, 3, 1], [278, 3, 48], [279, 4, 64 * 48 * 2]]);
    const header = Buffer.from([0x49, 0x49, 0x2a, 0, 8, 0, 0, 0]);
    const nef = Buffer.concat([header, ifd0, sub, Buffer.alloc(16 * 12 * 3, 128), Buffer.alloc(64 * 48 * 2)]);
    assert.equal(sniffFormat(nef), 'camera-raw');
    await fails(nef, 'INVALID_IMAGE', /camera RAW files .* are not supported/);
    // Ordinary TIFFs, multi-page included, are still TIFF.
    assert.equal(sniffFormat(await read('tiff', 'lzw.tif')), 'tiff');
  });
  it('headerless raw pixels cannot be identified', async () => {
    await fails(new Uint8Array(48 * 40 * 3).fill(128), 'INVALID_IMAGE', /not an image in a supported format/);
  });
  it('truncated or corrupt data', async () => {
    for (const file of [['jpeg', 'baseline.jpg'], ['png', 'rgb.png'], ['webp', 'lossless.webp'], ['tiff', 'lzw.tif']]) {
      const bytes = await read(...file);
      await fails(bytes.subarray(0, Math.floor(bytes.length / 2)), 'INVALID_IMAGE', /invalid image file/);
    }
  });
});
