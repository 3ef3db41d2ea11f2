import sharp from 'sharp';
import { fixture } from './paths.js';

/**
 * Test images made on the fly from a committed CC0 photo crop, so that the network
 * sees real texture, not flat colour, at any size.
 */
export async function photo(width: number, height: number, format: 'png' | 'jpeg' | 'webp' = 'png'): Promise<Buffer> {
  const base = sharp(fixture('photos', 'coffee.jpg')).resize(width, height, { fit: 'fill' });
  if (format === 'jpeg') return base.jpeg({ quality: 90 }).toBuffer();
  if (format === 'webp') return base.webp({ quality: 90 }).toBuffer();
  return base.png().toBuffer();
}

/** Pixel size of any encoded image. */
export async function sizeOf(bytes: Uint8Array): Promise<{ width: number; height: number; format: string | undefined }> {
  const m = await sharp(bytes).metadata();
  return { width: m.width ?? -1, height: m.height ?? -1, format: m.format };
}
