import sharp from 'sharp';

/** Deterministic Gaussian noise (Box-Muller on a fixed LCG). */
export function addNoise(pixels: Buffer, sigma: number, seed = 1): Buffer {
  let s = seed;
  const rnd = () => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s / 0x7fffffff;
  };
  const out = Buffer.from(pixels);
  for (let i = 0; i < out.length; i++) {
    const z = Math.sqrt(-2 * Math.log(Math.max(1e-9, rnd()))) * Math.cos(2 * Math.PI * rnd());
    out[i] = Math.max(0, Math.min(255, Math.round(out[i]! + z * sigma)));
  }
  return out;
}

/**
 * The degradations of the quality benchmark:
 * - scale 4 or 2: bicubic downscale by the scale, then JPEG quality 60;
 * - scale 1: Gaussian blur (sigma 1.5), Gaussian noise (sigma 5 levels), JPEG quality 60,
 *   all at full size.
 */
export async function degrade(clean: Buffer, scale: 1 | 2 | 4): Promise<Buffer> {
  const meta = await sharp(clean).metadata();
  const w = meta.width!;
  const h = meta.height!;
  if (scale > 1) {
    return sharp(clean).resize(Math.round(w / scale), Math.round(h / scale), { kernel: 'cubic', fit: 'fill' }).jpeg({ quality: 60 }).toBuffer();
  }
  const { data, info } = await sharp(clean).blur(1.5).raw().toBuffer({ resolveWithObject: true });
  return sharp(addNoise(data, 5), { raw: { width: info.width, height: info.height, channels: info.channels } })
    .jpeg({ quality: 60 })
    .toBuffer();
}

/** Lanczos baseline: the degraded image resized back to the clean size. */
export async function lanczos(degraded: Buffer, width: number, height: number): Promise<Buffer> {
  return sharp(degraded).resize(width, height, { kernel: 'lanczos3', fit: 'fill' }).png().toBuffer();
}
