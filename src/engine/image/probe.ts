import sharp, { type Metadata } from 'sharp';
import { checkDimensions } from '../scale-rules.js';
import { readBmpHeader } from './bmp-decode.js';
import { invalidImage } from './errors.js';
import { readSgiHeader } from './sgi-decode.js';
import { sniffFormat, unsupportedFormatName, type SourceFormat } from './sniff.js';

/**
 * Reads only an image's header: its format (from the bytes) and upright size, and
 * applies the contract's size limits. Cheap enough for the HTTP path, so bad input is
 * refused before a task is queued and before any pixel is decoded.
 */
export interface ImageHeader {
  readonly format: SourceFormat;
  readonly width: number;
  readonly height: number;
}

export async function probeImage(bytes: Uint8Array): Promise<ImageHeader> {
  return (await readHeader(bytes)).header;
}

/**
 * The header and, for the formats libvips reads, its metadata (EXIF, ICC, depth...), so
 * that the decoder reads the header once.
 */
export async function readHeader(bytes: Uint8Array): Promise<{ header: ImageHeader; metadata?: Metadata }> {
  if (bytes.length === 0) throw invalidImage('the file is empty');
  const format = sniffFormat(bytes);
  if (format === undefined) {
    const known = unsupportedFormatName(bytes);
    if (known) throw invalidImage(`${known} images are not supported; export the photo to JPEG, PNG, WebP or TIFF first`);
    throw invalidImage('the data is not an image in a supported format (jpg, png, webp, tiff, bmp, rgb)');
  }
  if (format === 'camera-raw') {
    throw invalidImage('camera RAW files (DNG, CR2, CR3, NEF, ARW, ORF, RW2, RAF) are not supported; export the photo to TIFF, PNG or JPEG first');
  }
  let width: number;
  let height: number;
  let metadata: Metadata | undefined;
  if (format === 'bmp') ({ width, height } = readBmpHeader(bytes));
  else if (format === 'sgi') ({ width, height } = readSgiHeader(bytes));
  else {
    let meta;
    try {
      meta = await sharp(bytes, { failOn: 'error', limitInputPixels: false }).metadata();
    } catch (err) {
      throw invalidImage(`cannot read the ${format} header`, err);
    }
    if (meta.width === undefined || meta.height === undefined) throw invalidImage(`cannot read the ${format} header`);
    width = meta.autoOrient?.width ?? meta.width;
    height = meta.autoOrient?.height ?? meta.height;
    metadata = meta;
  }
  checkDimensions(width, height);
  return { header: { format, width, height }, ...(metadata ? { metadata } : {}) };
}
