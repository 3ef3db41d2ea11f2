import { ClearShotError } from '../../errors/index.js';
import type { Raster } from '../types.js';

/**
 * A pure-TypeScript SGI (Irix RGB, `.rgb`/`.sgi`) decoder (sharp reads no SGI).
 *
 * Format (SGI's "The SGI Image File Format", version 1.00): a 512-byte big-endian
 * header, then one plane per channel, rows bottom-up, either verbatim or RLE with a
 * table of row offsets and a table of row lengths (in bytes), indexed by
 * `row + channel * height`. Supported: 1 or 2 bytes per channel, dimension 1, 2 or 3,
 * 1 to 4 channels (gray, gray+alpha, RGB, RGBA), COLORMAP 0 only. PIXMIN/PIXMAX are
 * ignored: samples are used as stored, full range.
 *
 * RLE is decoded strictly: each row must stay within the bytes its table entry gives
 * and produce exactly `width` samples. Everything is validated before the pixel
 * buffer is allocated, except the RLE runs themselves.
 */

/** Image size in pixels, read from the header alone. */
export interface ImageHeader {
  readonly width: number;
  readonly height: number;
}

const MAGIC = 474;
const HEADER_SIZE = 512;

interface SgiInfo {
  readonly rle: boolean;
  /** Bytes per channel sample: 1 or 2. */
  readonly bpc: 1 | 2;
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 2 | 3 | 4;
}

function invalid(detail: string): ClearShotError {
  return new ClearShotError('INVALID_IMAGE', `invalid image file: ${detail}`);
}

function u16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

function parseSgi(bytes: Uint8Array): SgiInfo {
  if (bytes.length === 0) throw invalid('the file is empty');
  if (bytes.length < 2 || u16(bytes, 0) !== MAGIC) throw invalid('not an SGI file (bad magic number)');
  if (bytes.length < HEADER_SIZE) throw invalid('the SGI header is truncated');
  const storage = bytes[2]!;
  if (storage !== 0 && storage !== 1) throw invalid(`unsupported SGI storage format ${storage}`);
  const bpc = bytes[3]!;
  if (bpc !== 1 && bpc !== 2) throw invalid(`unsupported SGI bytes per channel ${bpc}`);
  const dimension = u16(bytes, 4);
  if (dimension < 1 || dimension > 3) throw invalid(`unsupported SGI dimension ${dimension}`);
  // Dimension 1 is a single row, 2 a single channel: the other size fields do not count.
  const width = u16(bytes, 6);
  const height = dimension === 1 ? 1 : u16(bytes, 8);
  const zsize = dimension === 3 ? u16(bytes, 10) : 1;
  if (width === 0 || height === 0) throw invalid('the SGI image has no pixels');
  if (zsize < 1 || zsize > 4) throw invalid(`unsupported SGI channel count ${zsize}`);
  const colormap = u32(bytes, 104);
  if (colormap !== 0) throw invalid(`SGI colormap mode ${colormap} is not supported`);
  return { rle: storage === 1, bpc, width, height, channels: zsize as SgiInfo['channels'] };
}

/**
 * Reads width and height from an SGI header, validating the header but not the pixel
 * data. Allocates nothing in proportion to the image.
 * @returns size in pixels
 */
export function readSgiHeader(bytes: Uint8Array): ImageHeader {
  const info = parseSgi(bytes);
  return { width: info.width, height: info.height };
}

/**
 * Decodes an SGI file to a raster, top row first: channels 1 (gray), 2 (gray+alpha),
 * 3 (RGB) or 4 (RGBA); depth 8 (Uint8Array) or, at 2 bytes per channel, 16 (Uint16Array).
 * @param maxPixels largest width * height accepted; larger throws IMAGE_TOO_LARGE
 *   before any pixel buffer is allocated
 * @throws ClearShotError INVALID_IMAGE for malformed, unsupported or truncated files
 */
export function decodeSgi(bytes: Uint8Array, maxPixels: number): Raster {
  const info = parseSgi(bytes);
  const { width, height, channels, bpc } = info;
  if (width * height > maxPixels) {
    throw new ClearShotError('IMAGE_TOO_LARGE', `image exceeds the limits: ${width}x${height} pixels is more than ${maxPixels}`);
  }
  const rows = info.rle ? readRleTables(bytes, info) : undefined;
  if (rows === undefined && HEADER_SIZE + width * height * channels * bpc > bytes.length) {
    throw invalid('the SGI pixel data is truncated');
  }
  const n = width * height * channels;
  const data = bpc === 2 ? new Uint16Array(n) : new Uint8Array(n);
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < height; y++) {
      // File rows run bottom-up; the raster runs top-down, channels interleaved.
      const dst = (height - 1 - y) * width * channels + c;
      if (rows === undefined) {
        readVerbatimRow(bytes, HEADER_SIZE + ((c * height + y) * width) * bpc, bpc, width, data, dst, channels);
      } else {
        const t = c * height + y;
        readRleRow(bytes, rows.starts[t]!, rows.lengths[t]!, bpc, width, data, dst, channels);
      }
    }
  }
  return { width, height, channels, depth: bpc === 2 ? 16 : 8, data };
}

function readVerbatimRow(
  bytes: Uint8Array, src: number, bpc: 1 | 2, width: number,
  out: Uint8Array | Uint16Array, dst: number, step: number,
): void {
  if (bpc === 1) {
    for (let x = 0; x < width; x++, dst += step) out[dst] = bytes[src + x]!;
  } else {
    for (let x = 0; x < width; x++, dst += step, src += 2) out[dst] = u16(bytes, src);
  }
}

interface RleTables {
  readonly starts: Uint32Array;
  readonly lengths: Uint32Array;
}

/**
 * Reads and checks the offset and length tables: every row must lie inside the file,
 * after the header, and be long enough for `width` samples (each run of at most 127
 * samples takes a header and at least one value), so that a lying width is refused
 * before allocating.
 */
function readRleTables(bytes: Uint8Array, info: SgiInfo): RleTables {
  const count = info.height * info.channels;
  const tablesEnd = HEADER_SIZE + count * 8;
  if (tablesEnd > bytes.length) throw invalid('the SGI RLE tables are truncated');
  const minRow = Math.ceil(info.width / 127) * 2 * info.bpc;
  const starts = new Uint32Array(count);
  const lengths = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    const start = u32(bytes, HEADER_SIZE + i * 4);
    const length = u32(bytes, HEADER_SIZE + count * 4 + i * 4);
    if (start < HEADER_SIZE || start + length > bytes.length) throw invalid('an SGI RLE row lies outside the file');
    if (length < minRow) throw invalid('an SGI RLE row is too short for the image width');
    starts[i] = start;
    lengths[i] = length;
  }
  return { starts, lengths };
}

/**
 * One RLE row. A counter byte (a 16-bit word at 2 bytes per channel) holds a count in
 * its low 7 bits: 0 ends the row; with the high bit set, that many literal samples
 * follow, otherwise one sample follows, repeated that many times.
 */
function readRleRow(
  bytes: Uint8Array, start: number, length: number, bpc: 1 | 2, width: number,
  out: Uint8Array | Uint16Array, dst: number, step: number,
): void {
  const end = start + length;
  let p = start;
  let x = 0;
  const read = bpc === 1 ? (o: number): number => bytes[o]! : (o: number): number => u16(bytes, o);
  for (;;) {
    if (p + bpc > end) {
      if (x === width) return; // a full row without its end marker is fine
      throw invalid('an SGI RLE row is truncated');
    }
    const head = read(p);
    p += bpc;
    const n = head & 0x7f;
    if (n === 0) break;
    if (x + n > width) throw invalid('an SGI RLE run overflows its row');
    if (head & 0x80) {
      if (p + n * bpc > end) throw invalid('an SGI RLE row is truncated');
      for (let k = 0; k < n; k++, p += bpc, dst += step) out[dst] = read(p);
    } else {
      if (p + bpc > end) throw invalid('an SGI RLE row is truncated');
      const v = read(p);
      p += bpc;
      for (let k = 0; k < n; k++, dst += step) out[dst] = v;
    }
    x += n;
  }
  if (x !== width) throw invalid('an SGI RLE row is shorter than the image width');
}
