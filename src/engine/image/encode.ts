import { ClearShotError } from '../../errors/index.js';
import type { OutputFormat, Raster } from '../types.js';
import { FORMATS } from './formats.js';
import { mergeAlpha, sharpFromRaster } from './raster.js';
import type { ExifTags } from './exif.js';
import type { SourceFormat } from './sniff.js';

/**
 * The engine's encode step.
 *
 * Default format: the input's family (JPEG -> JPEG, PNG -> PNG, WebP -> WebP,
 * TIFF -> TIFF, BMP/SGI/GIF -> PNG); an image with alpha never defaults to JPEG. An
 * explicit format wins; JPEG output of an image with alpha is flattened on white.
 */
export interface EncodeInput {
  readonly color: Raster;
  readonly alpha?: Raster | undefined;
  readonly icc?: Uint8Array | undefined;
  readonly exif?: ExifTags | undefined;
}

export interface EncodedImage {
  readonly data: Uint8Array;
  readonly format: OutputFormat;
  readonly contentType: string;
  readonly notes: string[];
}

/**
 * JPEG quality 92 with 4:4:4 chroma keeps upscaled detail without visible blocking. The
 * standard Huffman tables, not tables optimised per image: optimising them buffers the
 * whole image's coefficients for a second pass, and made the encode 3-4x slower (a 4096 px
 * photo 290-330 -> 80-90 ms, 2048 px 65-92 -> 23-27 ms on the 2-core VM) for files 2-12%
 * smaller; the pixels are the same either way (docs/BENCHMARKS.md, "The steps around the
 * network").
 */
export const JPEG_QUALITY = 92;
export const WEBP_QUALITY = 90;
/** zlib level for PNG output. */
export const PNG_COMPRESSION = 6;

export function defaultFormat(source: SourceFormat, hasAlpha: boolean): OutputFormat {
  if (source === 'jpeg') return hasAlpha && !FORMATS.jpeg.alpha ? 'png' : 'jpeg';
  if (source === 'webp') return 'webp';
  if (source === 'tiff') return 'tiff';
  return 'png';
}

export async function encodeImage(input: EncodeInput, format: OutputFormat): Promise<EncodedImage> {
  const notes: string[] = [];
  const caps = FORMATS[format];
  let raster = input.color;
  if (input.alpha) raster = mergeAlpha(input.color, input.alpha);
  // Through the TIFF carrier the source's ICC profile is embedded without any transform.
  let pipeline = sharpFromRaster(raster, input.icc).keepIccProfile();
  if (input.exif && caps.exif) pipeline = pipeline.withExif(input.exif);
  if (input.exif && !caps.exif) notes.push(`EXIF (capture date, camera) is not written to ${caps.label} output`);
  if (input.alpha && !caps.alpha) {
    pipeline = pipeline.flatten({ background: '#ffffff' });
    notes.push(`alpha flattened on white for ${caps.label} output`);
  }
  if (raster.depth === 16 && !caps.depth16) notes.push(`16-bit reduced to 8-bit for ${caps.label} output`);
  switch (format) {
    case 'jpeg':
      pipeline = pipeline.jpeg({ quality: JPEG_QUALITY, chromaSubsampling: '4:4:4', optimiseCoding: false });
      break;
    case 'png':
      pipeline = pipeline.png({ compressionLevel: PNG_COMPRESSION });
      break;
    case 'webp':
      pipeline = pipeline.webp({ quality: WEBP_QUALITY, alphaQuality: 100, effort: 4 });
      break;
    case 'tiff':
      // NOTE: LZW, not sharp's default JPEG compression, which would force 8 bits.
      pipeline = pipeline.tiff({ compression: 'lzw', predictor: 'horizontal' });
      break;
  }
  try {
    const data = await pipeline.toBuffer();
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), format, contentType: caps.contentType, notes };
  } catch (err) {
    throw new ClearShotError('INTERNAL', `encoding ${format} failed`, { cause: err });
  }
}
