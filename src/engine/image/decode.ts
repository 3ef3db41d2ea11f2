import sharp, { type Metadata, type OutputInfo } from 'sharp';
import { MAX_SIDE } from '../scale-rules.js';
import type { Raster } from '../types.js';
import { decodeBmp } from './bmp-decode.js';
import { invalidImage } from './errors.js';
import { readHeader } from './probe.js';
import { pickExif, type ExifTags } from './exif.js';
import { colourspaceOf, splitAlpha, viewAs } from './raster.js';
import { decodeSgi } from './sgi-decode.js';
import type { SourceFormat } from './sniff.js';

/**
 * The engine's decode step: bytes -> upright colour raster (+ separate alpha).
 *
 * Order matters: sniff the format from the bytes, read only the header, check the
 * contract's limits, and only then decode pixels, so that a decompression bomb is
 * refused before it can allocate anything.
 */
export interface DecodedImage {
  readonly format: SourceFormat;
  readonly width: number;
  readonly height: number;
  /** Gray (1 channel) or RGB (3 channels), 8 or 16 bit, in the colour space `icc` describes. */
  readonly color: Raster;
  /** Straight (unpremultiplied) alpha, same size and depth as `color`. */
  readonly alpha?: Raster | undefined;
  /** ICC profile of `color` (undefined: sRGB). Kept so the output can embed it unchanged. */
  readonly icc?: Uint8Array | undefined;
  /** The EXIF worth keeping (see exif.ts); orientation is already applied to the pixels. */
  readonly exif?: ExifTags | undefined;
  /** Things the caller should know ("first frame of 12 enhanced"). */
  readonly notes: string[];
}

const SHARP_FORMATS: ReadonlySet<SourceFormat> = new Set(['jpeg', 'png', 'webp', 'tiff', 'gif']);

export interface DecodeOptions {
  /** Carry GPS position tags over (default false: location is private). */
  readonly keepGps?: boolean | undefined;
}

export async function decodeImage(bytes: Uint8Array, options: DecodeOptions = {}): Promise<DecodedImage> {
  // Format from the bytes and the size limits, from the header alone.
  const { header, metadata } = await readHeader(bytes);
  const { format } = header;
  if (format === 'bmp') return withAlphaSplit(format, decodeBmp(bytes, MAX_SIDE * MAX_SIDE));
  if (format === 'sgi') return withAlphaSplit(format, decodeSgi(bytes, MAX_SIDE * MAX_SIDE));
  if (SHARP_FORMATS.has(format) && metadata) return decodeWithSharp(bytes, format, metadata, options);
  throw invalidImage(`${format} images are not supported`);
}

/** Our own decoders (BMP, SGI) return interleaved alpha; split it off. */
function withAlphaSplit(format: SourceFormat, raster: Raster): DecodedImage {
  const notes: string[] = [];
  if (raster.channels === 2 || raster.channels === 4) {
    const { color, alpha } = splitAlpha(raster);
    return { format, width: raster.width, height: raster.height, color, alpha, notes };
  }
  return { format, width: raster.width, height: raster.height, color: raster, notes };
}

async function decodeWithSharp(bytes: Uint8Array, format: SourceFormat, meta: Metadata, options: DecodeOptions): Promise<DecodedImage> {
  const notes: string[] = [];
  const exif = pickExif(meta.exif, options.keepGps);
  // libvips reads an APNG's default image and reports one page: count frames ourselves.
  const pages = Math.max(meta.pages ?? 1, format === 'png' ? apngFrames(bytes) : 1);
  if (pages > 1) notes.push(format === 'tiff' ? `first page of ${pages} enhanced` : `animated image: first frame of ${pages} enhanced`);

  const sixteen = meta.depth === 'ushort' || meta.depth === 'short';
  const cmyk = meta.space === 'cmyk';
  // JPEG: libjpeg reports corrupt entropy data ("premature end of data segment", "bad
  // Huffman code", "extraneous bytes") as warnings and fills the rest with grey; such a
  // file is refused (state -7, not charged), not enhanced (README, "Security and privacy").
  const failOn = format === 'jpeg' ? 'warning' : 'error';
  const open = () => sharp(bytes, { failOn, limitInputPixels: MAX_SIDE * MAX_SIDE, autoOrient: true, pages: 1, page: 0 });
  let pipeline = open();
  let icc: Uint8Array | undefined;
  const colorChannels = (meta.channels ?? 3) - (meta.hasAlpha ? 1 : 0);
  if (cmyk) {
    // CMYK cannot feed an RGB network: convert through the embedded (or a default)
    // profile. NOTE: sharp's default route for CMYK input landed 15 dB away from lcms
    // (ImageMagick) on the same file; processing in CMYK and converting at the end
    // matches it within 47-48 dB, embedded profile or not (test/formats-decode.test.ts).
    pipeline = pipeline.pipelineColourspace('cmyk').toColourspace(colourspaceOf(3, sixteen ? 16 : 8));
    notes.push('CMYK converted to sRGB');
  } else {
    // Keep pixel values in the source space (no clipping of wide-gamut colours) and
    // re-embed the same profile in the output.
    pipeline = pipeline.keepIccProfile().toColourspace(colourspaceOf(colorChannels, sixteen ? 16 : 8));
    icc = meta.icc ? new Uint8Array(meta.icc) : undefined;
  }
  let data: Buffer;
  let info: OutputInfo;
  try {
    ({ data, info } = await pipeline.raw({ depth: sixteen ? 'ushort' : 'uchar' }).toBuffer({ resolveWithObject: true }));
  } catch (err) {
    throw invalidImage(`the ${format} data is corrupt or truncated`, err);
  }
  const depth = sixteen ? 16 : 8;
  const channels = info.channels as Raster['channels'];
  if (channels < 1 || channels > 4) throw invalidImage(`unsupported channel count ${info.channels}`);
  const raster: Raster = { width: info.width, height: info.height, channels, depth, data: viewAs(data, depth) };
  if (channels === 2 || channels === 4) {
    const { color, alpha } = splitAlpha(raster);
    // libvips gives every GIF an alpha channel; drop it when nothing is transparent.
    if (format === 'gif' && isOpaque(alpha)) return { format, width: info.width, height: info.height, color, icc, exif, notes };
    return { format, width: info.width, height: info.height, color, alpha, icc, exif, notes };
  }
  if (meta.hasAlpha && !cmyk) {
    // libvips's 8-bit grey conversion ('b-w') drops the alpha band (grey16 and sRGB keep
    // it): a grey PNG/WebP/TIFF with transparency would come back opaque. Read it alone.
    let alphaData: Buffer;
    try {
      alphaData = await open().extractChannel('alpha').raw({ depth: sixteen ? 'ushort' : 'uchar' }).toBuffer();
    } catch (err) {
      throw invalidImage(`the ${format} data is corrupt or truncated`, err);
    }
    const alpha: Raster = { width: info.width, height: info.height, channels: 1, depth, data: viewAs(alphaData, depth) };
    if (alpha.data.length === info.width * info.height && !(format === 'gif' && isOpaque(alpha))) return { format, width: info.width, height: info.height, color: raster, alpha, icc, exif, notes };
  }
  return { format, width: info.width, height: info.height, color: raster, icc, exif, notes };
}

function isOpaque(alpha: Raster): boolean {
  const max = alpha.depth === 16 ? 65535 : 255;
  return alpha.data.every((v) => v === max);
}

/** Frame count from an APNG's acTL chunk (1 for a plain PNG). Walks chunk headers only. */
export function apngFrames(bytes: Uint8Array): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 8; at + 12 <= bytes.length; ) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(bytes[at + 4]!, bytes[at + 5]!, bytes[at + 6]!, bytes[at + 7]!);
    if (type === 'acTL' && length >= 8 && at + 16 <= bytes.length) return Math.max(1, view.getUint32(at + 8));
    if (type === 'IDAT' || type === 'IEND') return 1;
    at += 12 + length;
  }
  return 1;
}
