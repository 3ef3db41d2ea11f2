import { ClearShotError } from '../../errors/index.js';
import type { Raster } from '../types.js';

/**
 * A pure-TypeScript BMP decoder (sharp reads no BMP).
 *
 * Supported: OS/2 1.x BITMAPCOREHEADER (12 bytes), BITMAPINFOHEADER (40) and its
 * V2/V3/V4/V5 extensions (52, 56, 108, 124); 1, 2, 4 and 8 bit palettes, 16/24/32 bit
 * BI_RGB, BI_BITFIELDS and BI_ALPHABITFIELDS with any contiguous masks; RLE8 and RLE4;
 * bottom-up and top-down rows. Refused with INVALID_IMAGE: embedded JPEG/PNG, CMYK,
 * OS/2 2.x headers, and anything malformed or truncated.
 *
 * Choices where viewers differ:
 * - Mask values are scaled to 8 bits by rounding to nearest, round(v * 255 / max).
 * - 32-bit BI_RGB: the 4th byte is padding and ignored (as Windows does), unless a
 *   V3+ header names an alpha mask. Likewise 16-bit BI_RGB is 5-5-5 plus that mask.
 * - An alpha channel whose samples are all 0 is padding written by careless encoders:
 *   the image is treated as opaque. One whose samples are all opaque is dropped too.
 *   So the output has 4 channels only when some pixel is really translucent.
 * - Palette indices past the palette's end are black; pixels an RLE stream skips
 *   (delta, early end of line or of bitmap) take palette entry 0.
 *
 * Every offset and length is checked against the buffer, and the pixel count against
 * `maxPixels` before any pixel buffer is allocated. Work is linear in the output size
 * plus the file size.
 */

/** Image size in pixels, read from the header alone. */
export interface ImageHeader {
  readonly width: number;
  readonly height: number;
}

const BI_RGB = 0;
const BI_RLE8 = 1;
const BI_RLE4 = 2;
const BI_BITFIELDS = 3;
const BI_JPEG = 4;
const BI_PNG = 5;
const BI_ALPHABITFIELDS = 6;

interface Masks {
  readonly r: number;
  readonly g: number;
  readonly b: number;
  /** 0 when the header names no usable alpha mask. */
  readonly a: number;
}

interface BmpInfo {
  readonly width: number;
  readonly height: number;
  readonly topDown: boolean;
  readonly bpp: number;
  readonly compression: number;
  /** File offset of the pixel data (bfOffBits). */
  readonly pixelOffset: number;
  /** File offset just past the headers and bit-field masks: where a palette starts. */
  readonly paletteOffset: number;
  /** Palette entries the header declares (0 when the depth has no palette). */
  readonly paletteEntries: number;
  /** 3 (RGBTRIPLE, core header) or 4 (RGBQUAD) bytes per palette entry. */
  readonly paletteEntrySize: 3 | 4;
  readonly masks?: Masks | undefined;
}

function invalid(detail: string): ClearShotError {
  return new ClearShotError('INVALID_IMAGE', `invalid image file: ${detail}`);
}

function u16(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8);
}

function u32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

function i32(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24);
}

/** True for a non-empty run of consecutive set bits. */
function contiguous(mask: number): boolean {
  let m = mask >>> 0;
  if (m === 0) return false;
  while ((m & 1) === 0) m >>>= 1;
  return (m & (m + 1)) === 0;
}

function parseBmp(bytes: Uint8Array): BmpInfo {
  if (bytes.length === 0) throw invalid('the file is empty');
  if (bytes.length < 2 || bytes[0] !== 0x42 || bytes[1] !== 0x4d) throw invalid('not a BMP file (no BM signature)');
  if (bytes.length < 18) throw invalid('the BMP header is truncated');
  const headerSize = u32(bytes, 14);
  if (headerSize === 16 || headerSize === 64) throw invalid('OS/2 2.x BMP files are not supported');
  if (![12, 40, 52, 56, 108, 124].includes(headerSize)) throw invalid(`unsupported BMP header size ${headerSize}`);
  if (bytes.length < 14 + headerSize) throw invalid('the BMP header is truncated');

  let width: number;
  let rawHeight: number;
  let bpp: number;
  let compression = BI_RGB;
  let colorsUsed = 0;
  if (headerSize === 12) {
    width = u16(bytes, 18);
    rawHeight = u16(bytes, 20);
    bpp = u16(bytes, 24);
    if (![1, 4, 8, 24].includes(bpp)) throw invalid(`unsupported BMP bit depth ${bpp}`);
  } else {
    width = i32(bytes, 18);
    rawHeight = i32(bytes, 22);
    bpp = u16(bytes, 28);
    compression = u32(bytes, 30);
    colorsUsed = u32(bytes, 46);
  }
  if (width <= 0) throw invalid('the BMP width is not positive');
  if (rawHeight === 0 || rawHeight === -0x80000000) throw invalid('the BMP height is zero or out of range');
  const topDown = rawHeight < 0;
  const height = Math.abs(rawHeight);

  let maskBytes = 0; // bit-field masks stored after the header, before any palette
  let masks: Masks | undefined;
  switch (compression) {
    case BI_RGB:
      if (![1, 2, 4, 8, 16, 24, 32].includes(bpp)) throw invalid(`unsupported BMP bit depth ${bpp}`);
      if (bpp === 16 || bpp === 32) {
        const alpha = headerSize >= 56 ? u32(bytes, 66) : 0;
        masks = bpp === 16 ? withAlpha(0x7c00, 0x03e0, 0x001f, alpha, 16) : withAlpha(0xff0000, 0xff00, 0xff, alpha, 32);
      }
      break;
    case BI_RLE8:
    case BI_RLE4: {
      const want = compression === BI_RLE8 ? 8 : 4;
      if (bpp !== want) throw invalid(`RLE${want} compression needs ${want} bits per pixel, not ${bpp}`);
      break;
    }
    case BI_BITFIELDS:
    case BI_ALPHABITFIELDS: {
      if (bpp !== 16 && bpp !== 24 && bpp !== 32) throw invalid(`bit-field masks need 16, 24 or 32 bits per pixel, not ${bpp}`);
      const count = compression === BI_ALPHABITFIELDS ? 4 : 3;
      // Masks a header has no room for follow it (after a 40-byte header: all of them).
      maskBytes = Math.max(0, 40 + 4 * count - headerSize);
      if (bytes.length < 54 + 4 * count) throw invalid('the BMP bit-field masks are truncated');
      const alpha = count === 4 || headerSize >= 56 ? u32(bytes, 66) : 0;
      const r = u32(bytes, 54);
      const g = u32(bytes, 58);
      const b = u32(bytes, 62);
      const limit = bpp === 32 ? 0xffffffff : 2 ** bpp - 1;
      for (const m of [r, g, b]) {
        if (!contiguous(m) || m > limit) throw invalid('the BMP bit-field masks are invalid');
      }
      masks = withAlpha(r, g, b, alpha, bpp);
      break;
    }
    case BI_JPEG:
    case BI_PNG:
      throw invalid('BMP files with embedded JPEG or PNG data are not supported');
    case 11:
    case 12:
    case 13:
      throw invalid('CMYK BMP files are not supported');
    default:
      throw invalid(`unsupported BMP compression ${compression}`);
  }

  const paletteOffset = 14 + headerSize + maskBytes;
  let paletteEntries = 0;
  if (bpp <= 8) {
    const full = 2 ** bpp;
    paletteEntries = colorsUsed > 0 && colorsUsed < full ? colorsUsed : full;
  }
  return {
    width,
    height,
    topDown,
    bpp,
    compression,
    pixelOffset: u32(bytes, 10),
    paletteOffset,
    paletteEntries,
    paletteEntrySize: headerSize === 12 ? 3 : 4,
    masks,
  };
}

/** Keeps an alpha mask only if it is usable: contiguous, inside the pixel, clear of colour. */
function withAlpha(r: number, g: number, b: number, a: number, bpp: number): Masks {
  const limit = bpp === 32 ? 0xffffffff : 2 ** bpp - 1;
  const usable = contiguous(a) && a <= limit && (a & (r | g | b)) === 0;
  return { r, g, b, a: usable ? a : 0 };
}

/**
 * Reads width and height from a BMP header, validating the header but not the pixel
 * data. Allocates nothing in proportion to the image.
 * @returns size in pixels (height is positive whichever way rows are stored)
 */
export function readBmpHeader(bytes: Uint8Array): ImageHeader {
  const info = parseBmp(bytes);
  return { width: info.width, height: info.height };
}

/**
 * Decodes a BMP file to an 8-bit RGB (3 channels) or RGBA (4 channels) raster, top row
 * first.
 * @param maxPixels largest width * height accepted; larger throws IMAGE_TOO_LARGE
 *   before any pixel buffer is allocated
 * @throws ClearShotError INVALID_IMAGE for malformed, unsupported or truncated files
 */
export function decodeBmp(bytes: Uint8Array, maxPixels: number): Raster {
  const info = parseBmp(bytes);
  const { width, height } = info;
  if (width * height > maxPixels) {
    throw new ClearShotError('IMAGE_TOO_LARGE', `image exceeds the limits: ${width}x${height} pixels is more than ${maxPixels}`);
  }
  if (info.pixelOffset < info.paletteOffset) throw invalid('the BMP pixel data offset points into the header');
  if (info.pixelOffset > bytes.length) {
    const paletteEnd = info.paletteOffset + info.paletteEntries * info.paletteEntrySize;
    if (bytes.length < paletteEnd) throw invalid('the BMP palette is truncated');
    throw invalid('the BMP pixel data offset is past the end of the file');
  }

  if (info.bpp <= 8) {
    const palette = readPalette(bytes, info);
    if (info.compression === BI_RLE8 || info.compression === BI_RLE4) return decodeRle(bytes, info, palette);
    return decodeIndexed(bytes, info, palette);
  }
  const stride = checkRows(bytes, info);
  if (info.masks === undefined) return decodeBgr24(bytes, info, stride);
  return decodeMasked(bytes, info, info.masks, stride);
}

/**
 * Palette as 256 RGB triplets; entries past the stored ones stay black. The palette
 * ends where the pixel data starts at the latest, whatever the header declares.
 */
function readPalette(bytes: Uint8Array, info: BmpInfo): Uint8Array {
  const size = info.paletteEntrySize;
  const room = Math.floor((info.pixelOffset - info.paletteOffset) / size);
  const entries = Math.min(info.paletteEntries, room);
  if (entries < 1) throw invalid('the BMP palette is missing');
  const palette = new Uint8Array(256 * 3);
  for (let i = 0, o = info.paletteOffset; i < entries; i++, o += size) {
    palette[i * 3] = bytes[o + 2]!;
    palette[i * 3 + 1] = bytes[o + 1]!;
    palette[i * 3 + 2] = bytes[o]!;
  }
  return palette;
}

/** Checks that all rows of uncompressed data are present; returns the row stride in bytes. */
function checkRows(bytes: Uint8Array, info: BmpInfo): number {
  const rowBits = info.width * info.bpp;
  const stride = Math.floor((rowBits + 31) / 32) * 4;
  // The last row's padding may be missing: some encoders do not write it.
  const needed = stride * (info.height - 1) + Math.ceil(rowBits / 8);
  if (info.pixelOffset + needed > bytes.length) throw invalid('the BMP pixel data is truncated');
  return stride;
}

function outRow(info: BmpInfo, fileRow: number): number {
  return info.topDown ? fileRow : info.height - 1 - fileRow;
}

function decodeIndexed(bytes: Uint8Array, info: BmpInfo, palette: Uint8Array): Raster {
  const { width, height, bpp } = info;
  const stride = checkRows(bytes, info);
  const out = new Uint8Array(width * height * 3);
  const perByte = 8 / bpp;
  const mask = (1 << bpp) - 1;
  for (let y = 0; y < height; y++) {
    const src = info.pixelOffset + y * stride;
    let o = outRow(info, y) * width * 3;
    for (let x = 0; x < width; x++) {
      const byte = bytes[src + Math.floor(x / perByte)]!;
      const shift = 8 - bpp * ((x % perByte) + 1);
      const p = ((byte >> shift) & mask) * 3;
      out[o++] = palette[p]!;
      out[o++] = palette[p + 1]!;
      out[o++] = palette[p + 2]!;
    }
  }
  return { width, height, channels: 3, depth: 8, data: out };
}

function decodeBgr24(bytes: Uint8Array, info: BmpInfo, stride: number): Raster {
  const { width, height } = info;
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    let s = info.pixelOffset + y * stride;
    let o = outRow(info, y) * width * 3;
    for (let x = 0; x < width; x++, s += 3) {
      out[o++] = bytes[s + 2]!;
      out[o++] = bytes[s + 1]!;
      out[o++] = bytes[s]!;
    }
  }
  return { width, height, channels: 3, depth: 8, data: out };
}

/** Extracts one mask's bits from a pixel and scales them to 0..255 (round to nearest). */
interface Channel {
  readonly mask: number;
  readonly shift: number;
  readonly max: number;
  /** Lookup table from the extracted value, for masks of up to 16 bits. */
  readonly lut?: Uint8Array | undefined;
}

function channelOf(mask: number): Channel {
  let shift = 0;
  while (shift < 32 && ((mask >>> shift) & 1) === 0) shift++;
  const max = mask >>> shift;
  if (max > 0xffff) return { mask, shift, max };
  const lut = new Uint8Array(max + 1);
  for (let v = 0; v <= max; v++) lut[v] = Math.floor((v * 510 + max) / (2 * max));
  return { mask, shift, max, lut };
}

function sample(c: Channel, pixel: number): number {
  const v = (pixel & c.mask) >>> c.shift;
  return c.lut !== undefined ? c.lut[v]! : Math.floor((v * 510 + c.max) / (2 * c.max));
}

function readPixel(bytes: Uint8Array, s: number, size: number): number {
  if (size === 2) return bytes[s]! | (bytes[s + 1]! << 8);
  if (size === 3) return bytes[s]! | (bytes[s + 1]! << 8) | (bytes[s + 2]! << 16);
  return u32(bytes, s);
}

function decodeMasked(bytes: Uint8Array, info: BmpInfo, masks: Masks, stride: number): Raster {
  const { width, height } = info;
  const size = info.bpp / 8;
  const r = channelOf(masks.r);
  const g = channelOf(masks.g);
  const b = channelOf(masks.b);
  const a = masks.a !== 0 ? channelOf(masks.a) : undefined;
  const channels = a !== undefined && isTranslucent(bytes, info, a, stride) ? 4 : 3;
  const out = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    let s = info.pixelOffset + y * stride;
    let o = outRow(info, y) * width * channels;
    for (let x = 0; x < width; x++, s += size) {
      const p = readPixel(bytes, s, size);
      out[o++] = sample(r, p);
      out[o++] = sample(g, p);
      out[o++] = sample(b, p);
      if (channels === 4) out[o++] = sample(a!, p);
    }
  }
  return { width, height, channels, depth: 8, data: out };
}

/** False when every alpha sample is 0 (padding, see the module note) or every one is opaque. */
function isTranslucent(bytes: Uint8Array, info: BmpInfo, a: Channel, stride: number): boolean {
  const size = info.bpp / 8;
  let allZero = true;
  let allOpaque = true;
  for (let y = 0; y < info.height; y++) {
    let s = info.pixelOffset + y * stride;
    for (let x = 0; x < info.width; x++, s += size) {
      const v = (readPixel(bytes, s, size) & a.mask) >>> a.shift;
      if (v !== 0) allZero = false;
      if (v !== a.max) allOpaque = false;
      if (!allZero && !allOpaque) return true;
    }
  }
  return false;
}

/**
 * RLE8 / RLE4. Each instruction reads at least 2 bytes and writes at most 255 pixels,
 * clipped to the image, so the work is bounded by the file size and the output size.
 */
function decodeRle(bytes: Uint8Array, info: BmpInfo, palette: Uint8Array): Raster {
  const { width, height } = info;
  const four = info.compression === BI_RLE4;
  const out = new Uint8Array(width * height * 3);
  // Skipped pixels take palette entry 0: fill by doubling copies (fast even when large).
  out[0] = palette[0]!;
  out[1] = palette[1]!;
  out[2] = palette[2]!;
  for (let filled = 3; filled < out.length; filled *= 2) out.copyWithin(filled, 0, Math.min(filled, out.length - filled));

  const end = bytes.length;
  let p = info.pixelOffset;
  let x = 0;
  let y = 0;
  const put = (index: number): void => {
    if (x < width) {
      const o = (outRow(info, y) * width + x) * 3;
      const q = index * 3;
      out[o] = palette[q]!;
      out[o + 1] = palette[q + 1]!;
      out[o + 2] = palette[q + 2]!;
    }
    x++;
  };
  for (;;) {
    if (y >= height) break; // every row written; a missing end-of-bitmap marker is fine
    if (p + 2 > end) throw invalid('the BMP RLE data is truncated');
    const n = bytes[p]!;
    const c = bytes[p + 1]!;
    p += 2;
    if (n > 0) {
      const count = Math.min(n, Math.max(0, width - x));
      for (let k = 0; k < count; k++) put(four ? (k & 1 ? c & 15 : c >> 4) : c);
      x += n - count;
    } else if (c === 0) {
      x = 0;
      y++;
    } else if (c === 1) {
      break;
    } else if (c === 2) {
      if (p + 2 > end) throw invalid('the BMP RLE data is truncated');
      x += bytes[p]!;
      y += bytes[p + 1]!;
      p += 2;
    } else {
      const size = four ? Math.ceil(c / 2) : c;
      if (p + size > end) throw invalid('the BMP RLE data is truncated');
      const count = Math.min(c, Math.max(0, width - x));
      for (let k = 0; k < count; k++) put(four ? (k & 1 ? bytes[p + (k >> 1)]! & 15 : bytes[p + (k >> 1)]! >> 4) : bytes[p + k]!);
      x += c - count;
      p += size + (size & 1); // absolute runs are padded to 16 bits
    }
  }
  return { width, height, channels: 3, depth: 8, data: out };
}
