/**
 * Regenerates test/fixtures/formats/{jpeg,png,webp,tiff,gif,misc}: one small file per
 * format and variant the contract lists, written by sharp (libvips) from the CC0
 * converter crop, plus a few hand-built files sharp cannot write (APNG, a PNG
 * decompression bomb). BMP and SGI fixtures come from make-format-fixtures-bmp-sgi.sh.
 *
 *   npm run build && node dist/scripts/make-format-fixtures.js
 *
 * Every fixture is decoded in the tests and compared by pixels against the source
 * (PSNR / max difference), never by bytes.
 *
 * Also needs ImageMagick (/usr/bin/convert) and Debian's icc-profiles-free (for its
 * sRGB.icc) to build the CMYK reference independently of sharp:
 *   apt-get install imagemagick icc-profiles-free
 */
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync, crc32 } from 'node:zlib';
import sharp, { type Sharp } from 'sharp';
import { fixture } from '../test/helpers/paths.js';

const SRC = fixture('converter', 'input.png'); // 48x40 RGB photo crop, CC0
const OUT = fixture('formats');

async function put(dir: string, name: string, data: Buffer | Uint8Array): Promise<void> {
  await mkdir(join(OUT, dir), { recursive: true });
  await writeFile(join(OUT, dir, name), data);
}

/** The source with a horizontal alpha gradient (left opaque, right transparent) and a fully transparent corner. */
async function withAlpha(): Promise<Sharp> {
  const { data, info } = await sharp(SRC).raw().toBuffer({ resolveWithObject: true });
  const rgba = Buffer.alloc(info.width * info.height * 4);
  for (let y = 0; y < info.height; y++) {
    for (let x = 0; x < info.width; x++) {
      const i = y * info.width + x;
      rgba.set(data.subarray(i * 3, i * 3 + 3), i * 4);
      rgba[i * 4 + 3] = x >= info.width - 12 && y >= info.height - 12 ? 0 : Math.round(255 * (1 - x / (info.width * 1.5)));
    }
  }
  return sharp(rgba, { raw: { width: info.width, height: info.height, channels: 4 } });
}

function pngChunk(type: string, body: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([Buffer.from(type, 'latin1'), body])) >>> 0, 0);
  return Buffer.concat([head, body, crc]);
}

/** A 2-frame APNG: frame 1 is the photo, frame 2 its negative (sharp writes no APNG). */
async function apng(): Promise<Buffer> {
  const { data, info } = await sharp(SRC).raw().toBuffer({ resolveWithObject: true });
  const rows = (px: Buffer) => {
    const out = Buffer.alloc(info.height * (1 + info.width * 3));
    for (let y = 0; y < info.height; y++) px.copy(out, y * (1 + info.width * 3) + 1, y * info.width * 3, (y + 1) * info.width * 3);
    return deflateSync(out);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(info.width, 0);
  ihdr.writeUInt32BE(info.height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const actl = Buffer.alloc(8);
  actl.writeUInt32BE(2, 0);
  const fctl = (seq: number) => {
    const b = Buffer.alloc(26);
    b.writeUInt32BE(seq, 0);
    b.writeUInt32BE(info.width, 4);
    b.writeUInt32BE(info.height, 8);
    b.writeUInt16BE(1, 20);
    b.writeUInt16BE(2, 22);
    return b;
  };
  const negative = Buffer.from(data.map((v) => 255 - v));
  const fdat = Buffer.concat([Buffer.from([0, 0, 0, 2]), rows(negative)]);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('acTL', actl),
    pngChunk('fcTL', fctl(0)),
    pngChunk('IDAT', rows(data)),
    pngChunk('fcTL', fctl(1)),
    pngChunk('fdAT', fdat),
    pngChunk('IEND', new Uint8Array(0)),
  ]);
}

/** A 20000 x 20000 1-bit gray PNG of a few tens of KB: 400 MP if anyone decoded it. */
function pngBomb(): Buffer {
  const side = 20000;
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(side, 0);
  ihdr.writeUInt32BE(side, 4);
  ihdr.set([1, 0, 0, 0, 0], 8);
  const raw = Buffer.alloc(side * (1 + side / 8));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(raw, { level: 9 })),
    pngChunk('IEND', new Uint8Array(0)),
  ]);
}

/** Two frames stacked vertically: the photo and its negative. */
async function twoFrames(): Promise<Sharp> {
  const { data, info } = await sharp(SRC).raw().toBuffer({ resolveWithObject: true });
  const stacked = Buffer.concat([data, Buffer.from(data.map((v) => 255 - v))]);
  return sharp(stacked, { raw: { width: info.width, height: info.height * 2, channels: 3, pageHeight: info.height } });
}

/** JPEG bytes without their APP2 ICC_PROFILE segments. */
function stripIcc(jpeg: Buffer): Buffer {
  const parts = [jpeg.subarray(0, 2)];
  for (let i = 2; i < jpeg.length && jpeg[i] === 0xff; ) {
    const marker = jpeg[i + 1]!;
    if (marker === 0xda) {
      parts.push(jpeg.subarray(i));
      break;
    }
    const seg = jpeg.subarray(i, i + 2 + jpeg.readUInt16BE(i + 2));
    if (!(marker === 0xe2 && seg.subarray(4, 15).toString('latin1') === 'ICC_PROFILE')) parts.push(seg);
    i += seg.length;
  }
  return Buffer.concat(parts);
}

/**
 * CMYK: pixels from a real profile conversion (libvips' built-in CMYK profile), saved
 * without the 1 MB profile (so decoders fall back to their default CMYK profile), an
 * Adobe-style inverted re-encoding by ImageMagick (what Photoshop writes), and the
 * reference: ImageMagick + lcms converting the profile-tagged file to sRGB.
 */
async function cmyk(): Promise<void> {
  const tagged = await sharp(SRC).withIccProfile('cmyk').jpeg({ quality: 95 }).toBuffer();
  const tmp = join(tmpdir(), `clearshot-cmyk-${process.pid}`);
  await mkdir(tmp, { recursive: true });
  try {
    await writeFile(join(tmp, 'tagged.jpg'), tagged);
    await writeFile(join(tmp, 'plain.jpg'), stripIcc(tagged));
    await put('jpeg', 'cmyk.jpg', stripIcc(tagged));
    const convert = '/usr/bin/convert';
    execFileSync(convert, [join(tmp, 'plain.jpg'), '-quality', '95', join(tmp, 'adobe.jpg')]);
    await put('jpeg', 'cmyk-adobe.jpg', await readFile(join(tmp, 'adobe.jpg')));
    execFileSync(convert, [join(tmp, 'tagged.jpg'), '-intent', 'Perceptual', '-profile', '/usr/share/color/icc/sRGB.icc', '-strip', join(tmp, 'ref.png')]);
    await put('jpeg', 'cmyk.ref.png', await sharp(join(tmp, 'ref.png')).png().toBuffer());
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

const gray = () => sharp(SRC).toColourspace('b-w');
const rgb16 = () => sharp(SRC).toColourspace('rgb16');
const gray16 = () => sharp(SRC).toColourspace('grey16');

// JPEG / JFIF
await put('jpeg', 'baseline.jpg', await sharp(SRC).jpeg({ quality: 95 }).toBuffer());
await put('jpeg', 'progressive.jpg', await sharp(SRC).jpeg({ quality: 95, progressive: true }).toBuffer());
await put('jpeg', 'gray.jpg', await gray().jpeg({ quality: 95 }).toBuffer());
await cmyk();
await put('jpeg', 'p3.jpg', await sharp(SRC).withIccProfile('p3').jpeg({ quality: 95 }).toBuffer());
await put('png', 'p3.png', await sharp(SRC).withIccProfile('p3').png().toBuffer());
await put('jpeg', 'adobergb.jpg', await sharp(SRC).withIccProfile(fixture('icc', 'compatibleWithAdobeRGB1998.icc')).jpeg({ quality: 95 }).toBuffer());
// PNG
await put('png', 'rgb.png', await sharp(SRC).png().toBuffer());
await put('png', 'rgba.png', await (await withAlpha()).png().toBuffer());
await put('png', 'palette.png', await sharp(SRC).png({ palette: true, colours: 64, dither: 0 }).toBuffer());
await put('png', 'gray.png', await gray().png().toBuffer());
await put('png', 'gray16.png', await gray16().png().toBuffer());
await put('png', 'rgb16.png', await rgb16().png().toBuffer());
await put('png', 'animated.png', await apng());
await put('png', 'bomb-20000.png', pngBomb());
// WebP
await put('webp', 'lossy.webp', await sharp(SRC).webp({ quality: 90 }).toBuffer());
await put('webp', 'lossless.webp', await sharp(SRC).webp({ lossless: true }).toBuffer());
await put('webp', 'alpha.webp', await (await withAlpha()).webp({ lossless: true }).toBuffer());
await put('webp', 'animated.webp', await (await twoFrames()).webp({ lossless: true }).toBuffer());
// TIFF (LZW is the contract's "lzw")
await put('tiff', 'none.tif', await sharp(SRC).tiff({ compression: 'none' }).toBuffer());
await put('tiff', 'lzw.tif', await sharp(SRC).tiff({ compression: 'lzw', predictor: 'horizontal' }).toBuffer());
await put('tiff', 'deflate.tif', await sharp(SRC).tiff({ compression: 'deflate' }).toBuffer());
await put('tiff', 'rgb16-lzw.tif', await rgb16().tiff({ compression: 'lzw', predictor: 'horizontal' }).toBuffer());
await put('tiff', 'gray.tif', await gray().tiff({ compression: 'lzw' }).toBuffer());
await put('tiff', 'gray16.tif', await gray16().tiff({ compression: 'deflate' }).toBuffer());
// GIF (not in the contract's list, but animated GIFs arrive renamed; first frame only)
await put('gif', 'animated.gif', await (await twoFrames()).gif().toBuffer());
console.log(`fixtures written under ${OUT}`);
