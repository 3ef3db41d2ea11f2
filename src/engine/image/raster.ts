import sharp, { type Sharp } from 'sharp';
import type { Raster } from '../types.js';
import { rasterToTiff } from './tiff-carrier.js';

/** Small, allocation-explicit operations on interleaved rasters. */

/**
 * Threads libvips (through sharp) may use for one operation: decode, resize, encode.
 * NOTE: sharp defaults to 1 on glibc Linux without jemalloc (Debian's Node), to limit
 * memory fragmentation; that left the second core idle during every resize and encode
 * (a 512 -> 2048 Lanczos took 150 ms instead of 80). The engine sets it to its own
 * thread count at start (process-wide: libvips has one pool).
 */
export function setImageThreads(threads: number): void {
  sharp.concurrency(Math.max(1, Math.round(threads)));
}

export function allocRaster(width: number, height: number, channels: Raster['channels'], depth: Raster['depth']): Raster {
  const n = width * height * channels;
  return { width, height, channels, depth, data: depth === 16 ? new Uint16Array(n) : new Uint8Array(n) };
}

/** A copy of the `width` x `height` rectangle of `src` at (`x`, `y`) (inside `src`). */
export function cropRaster(src: Raster, x: number, y: number, width: number, height: number): Raster {
  const out = allocRaster(width, height, src.channels, src.depth);
  const ch = src.channels;
  for (let row = 0; row < height; row++) {
    const start = ((y + row) * src.width + x) * ch;
    out.data.set(src.data.subarray(start, start + width * ch), row * width * ch);
  }
  return out;
}

/** Splits the last channel of a GA/RGBA raster off as a 1-channel alpha raster. */
export function splitAlpha(src: Raster): { color: Raster; alpha: Raster } {
  const colorChannels = (src.channels - 1) as 1 | 3;
  const color = allocRaster(src.width, src.height, colorChannels, src.depth);
  const alpha = allocRaster(src.width, src.height, 1, src.depth);
  const s = src.data;
  const c = color.data;
  const a = alpha.data;
  const n = src.width * src.height;
  for (let i = 0, si = 0, ci = 0; i < n; i++) {
    for (let k = 0; k < colorChannels; k++) c[ci++] = s[si++]!;
    a[i] = s[si++]!;
  }
  return { color, alpha };
}

/** Appends an alpha raster of the same size and depth as the last channel. */
export function mergeAlpha(color: Raster, alpha: Raster): Raster {
  const channels = (color.channels + 1) as 2 | 4;
  const out = allocRaster(color.width, color.height, channels, color.depth);
  const c = color.data;
  const a = alpha.data;
  const o = out.data;
  const n = color.width * color.height;
  for (let i = 0, ci = 0, oi = 0; i < n; i++) {
    for (let k = 0; k < color.channels; k++) o[oi++] = c[ci++]!;
    o[oi++] = a[i]!;
  }
  return out;
}

export function grayToRgb(src: Raster): Raster {
  const out = allocRaster(src.width, src.height, 3, src.depth);
  const s = src.data;
  const o = out.data;
  for (let i = 0, oi = 0; i < s.length; i++) {
    const v = s[i]!;
    o[oi++] = v;
    o[oi++] = v;
    o[oi++] = v;
  }
  return out;
}

/**
 * RGB back to gray after enhancement. The input was gray, so the network saw R=G=B;
 * its output channels differ only by small colour noise, and their mean is the gray.
 */
export function rgbToGray(src: Raster): Raster {
  const out = allocRaster(src.width, src.height, 1, src.depth);
  const s = src.data;
  const o = out.data;
  for (let i = 0, si = 0; i < o.length; i++, si += 3) o[i] = Math.round((s[si]! + s[si + 1]! + s[si + 2]!) / 3);
  return out;
}

/**
 * The sharp colourspace that keeps a raster's channels and depth. NOTE: sharp converts
 * everything to 8-bit sRGB on output unless told otherwise, silently dropping 16-bit
 * precision and expanding gray to RGB (seen with sharp 0.35), so every pipeline that
 * outputs a raster names its colourspace explicitly.
 */
export function colourspaceOf(channels: number, depth: 8 | 16): 'b-w' | 'grey16' | 'srgb' | 'rgb16' {
  const gray = channels <= 2;
  if (depth === 16) return gray ? 'grey16' : 'rgb16';
  return gray ? 'b-w' : 'srgb';
}

/**
 * Wraps a raster as sharp input: an 8-bit raster without a profile as raw pixels, read
 * where they are; 16-bit and profiled ones through the TIFF carrier, because sharp's raw
 * input cannot say "16-bit RGB" (a Uint16Array is read as 8-bit-range sRGB) nor carry
 * an ICC profile. (The carrier is a copy: for every 8-bit raster it cost ~35 ms per 4 MP
 * on the 2-core VM, most of it page faults.)
 */
export function sharpFromRaster(src: Raster, icc?: Uint8Array): Sharp {
  const colourspace = colourspaceOf(src.channels, src.depth);
  if (src.depth === 8 && !icc) {
    const { width, height, channels } = src;
    return sharp(src.data, { raw: { width, height, channels }, limitInputPixels: false }).toColourspace(colourspace);
  }
  return sharp(rasterToTiff(src, icc), { limitInputPixels: false }).toColourspace(colourspace);
}

export type ResizeKernel = 'lanczos3' | 'mitchell' | 'cubic';

/** Resizes with a classical filter (used for pre/post scaling and for alpha). */
export async function resizeRaster(src: Raster, width: number, height: number, kernel: ResizeKernel = 'lanczos3'): Promise<Raster> {
  if (src.width === width && src.height === height) return src;
  const { data, info } = await sharpFromRaster(src)
    .resize(width, height, { kernel, fit: 'fill' })
    .raw({ depth: src.depth === 16 ? 'ushort' : 'uchar' })
    .toBuffer({ resolveWithObject: true });
  if (info.width !== width || info.height !== height || info.channels !== src.channels) {
    throw new Error(`resize produced ${info.width}x${info.height}x${info.channels}, expected ${width}x${height}x${src.channels}`);
  }
  return { width, height, channels: src.channels, depth: src.depth, data: viewAs(data, src.depth) };
}

/** Views a Buffer from sharp as the typed array of the given depth (copying only if misaligned). */
export function viewAs(buf: Buffer, depth: 8 | 16): Uint8Array | Uint16Array {
  if (depth === 8) return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf.byteOffset % 2 === 0) return new Uint16Array(buf.buffer, buf.byteOffset, buf.byteLength / 2);
  return new Uint16Array(Uint8Array.from(buf).buffer);
}
