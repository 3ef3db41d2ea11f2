import sharp from 'sharp';
import { addNoise } from './degrade.js';

/**
 * Realistic degradations of the adaptive-enhancement benchmark (issue 12), made from a
 * clean original (PNG):
 * - clean: JPEG q95; phone: JPEG q75 and q85 (how phones and web pages keep photos);
 * - heavy: Gaussian blur (sigma 1.2), Gaussian noise (sigma 6 levels), JPEG q40;
 * - low-res: area (box) downscale by 2 or 4, then JPEG q85.
 */
export type Variant = 'clean' | 'phone85' | 'phone75' | 'phone60' | 'heavy' | 'heavy4' | 'noisy' | 'lowres2' | 'lowres4';
export const VARIANTS: readonly Variant[] = ['clean', 'phone85', 'phone75', 'heavy', 'lowres2', 'lowres4'];
/**
 * The restoration benchmark's (issue 23, bench/restore.ts): heavy4 = blur 1.2 + noise 4 +
 * q40; noisy = colour noise sigma 8 (every channel its own) + q90, a dim indoor shot.
 */
export const RESTORE_VARIANTS: readonly Variant[] = ['clean', 'phone75', 'heavy4', 'noisy'];
/** Not in the benchmark's table: JPEG q60 alone, a check of the policy between phone and heavy (bench/fusion-sweep.ts, VARIANTS=phone60). */
export const EXTRA_VARIANTS: readonly Variant[] = ['phone60'];

export function variantScale(v: Variant): 1 | 2 | 4 {
  return v === 'lowres2' ? 2 : v === 'lowres4' ? 4 : 1;
}

/** Exact area downscale by an integer factor (the image is cropped to a multiple of it). */
export async function areaDownscale(png: Buffer, factor: number): Promise<{ data: Buffer; width: number; height: number; channels: number }> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const w = Math.floor(info.width / factor);
  const h = Math.floor(info.height / factor);
  const ch = info.channels;
  const out = Buffer.alloc(w * h * ch);
  const area = factor * factor;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < ch; c++) {
        let s = 0;
        for (let dy = 0; dy < factor; dy++) for (let dx = 0; dx < factor; dx++) s += data[((y * factor + dy) * info.width + x * factor + dx) * ch + c]!;
        out[(y * w + x) * ch + c] = Math.round(s / area);
      }
    }
  }
  return { data: out, width: w, height: h, channels: ch };
}

/** The degraded input (JPEG bytes) for a variant. Low-res variants need an original whose sides divide by 4. */
export async function makeVariant(original: Buffer, v: Variant): Promise<Buffer> {
  switch (v) {
    case 'clean':
      return sharp(original).jpeg({ quality: 95 }).toBuffer();
    case 'phone85':
      return sharp(original).jpeg({ quality: 85 }).toBuffer();
    case 'phone75':
      return sharp(original).jpeg({ quality: 75 }).toBuffer();
    case 'phone60':
      return sharp(original).jpeg({ quality: 60 }).toBuffer();
    case 'heavy': {
      const { data, info } = await sharp(original).removeAlpha().blur(1.2).raw().toBuffer({ resolveWithObject: true });
      return sharp(addNoise(data, 6, 7), { raw: { width: info.width, height: info.height, channels: info.channels } }).jpeg({ quality: 40 }).toBuffer();
    }
    case 'heavy4': {
      const { data, info } = await sharp(original).removeAlpha().blur(1.2).raw().toBuffer({ resolveWithObject: true });
      return sharp(addNoise(data, 4, 11), { raw: { width: info.width, height: info.height, channels: info.channels } }).jpeg({ quality: 40 }).toBuffer();
    }
    case 'noisy': {
      const { data, info } = await sharp(original).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      return sharp(addNoise(data, 8, 13), { raw: { width: info.width, height: info.height, channels: info.channels } }).jpeg({ quality: 90 }).toBuffer();
    }
    case 'lowres2':
    case 'lowres4': {
      const small = await areaDownscale(original, v === 'lowres2' ? 2 : 4);
      return sharp(small.data, { raw: { width: small.width, height: small.height, channels: small.channels as 3 } }).jpeg({ quality: 85 }).toBuffer();
    }
  }
}
