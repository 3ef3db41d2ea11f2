import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { LocalEngine } from '../src/engine/local-engine.js';
import type { ModelName, ScaleFactor } from '../src/engine/types.js';
import { psnr, readRaster, ssim } from '../test/helpers/image-metrics.js';
import { fixture, TEST_DATA_DIR } from '../test/helpers/paths.js';
import { degrade, lanczos } from './lib/degrade.js';
import { fmt, table } from './lib/stats.js';

/** Clean originals (CC0 / public domain, see test/fixtures/README.md). */
export const QUALITY_IMAGES = ['astronaut.jpg', 'coffee.jpg', 'chelsea.jpg', 'camera.jpg'];

export interface Score {
  psnr: number;
  ssim: number;
}

/** PSNR and SSIM of an output against the clean original, after matching its size and channels. */
export async function score(out: Buffer | Uint8Array, clean: Buffer): Promise<Score> {
  const ref = await readRaster(clean);
  const m = await sharp(out).metadata();
  const sized = m.width === ref.width && m.height === ref.height ? out : await sharp(out).resize(ref.width, ref.height, { fit: 'fill' }).toBuffer();
  const got = await readRaster(await sharp(sized).toColourspace(ref.channels === 1 ? 'b-w' : 'srgb').png().toBuffer());
  return { psnr: psnr(got, ref), ssim: ssim(got, ref) };
}

const mean = (xs: Score[]) => ({ psnr: xs.reduce((a, x) => a + x.psnr, 0) / xs.length, ssim: xs.reduce((a, x) => a + x.ssim, 0) / xs.length });

/** PSNR (RGB) and SSIM (luma) against the clean image, per scale and model, next to Lanczos. */
export async function quality(): Promise<string> {
  const engines: Record<ModelName, LocalEngine> = {
    fast: await LocalEngine.open({ dataDir: TEST_DATA_DIR, threads: 0, preload: ['fast'] }),
    quality: await LocalEngine.open({ dataDir: TEST_DATA_DIR, threads: 0, preload: ['quality'] }),
  };
  const rows: Array<Array<string | number>> = [];
  try {
    for (const scale of [4, 2, 1] as ScaleFactor[]) {
      const scores: Record<string, Score[]> = { lanczos: [], fast: [], quality: [] };
      for (const name of QUALITY_IMAGES) {
        const clean = await sharp(await readFile(fixture('photos', name))).png().toBuffer();
        const meta = await sharp(clean).metadata();
        const degraded = await degrade(clean, scale);
        scores.lanczos!.push(await score(await lanczos(degraded, meta.width!, meta.height!), clean));
        for (const model of ['fast', 'quality'] as ModelName[]) {
          const r = await engines[model].enhance(degraded, { model, scale, format: 'png' });
          scores[model]!.push(await score(r.data, clean));
        }
      }
      for (const [method, list] of Object.entries(scores)) {
        const m = mean(list);
        const label = method === 'lanczos' ? (scale === 1 ? 'input as is' : 'Lanczos') : method;
        rows.push([`${scale}x`, label, fmt(m.psnr, 2), fmt(m.ssim, 4), list.map((s) => `${fmt(s.psnr, 1)}/${fmt(s.ssim, 3)}`).join(', ')]);
      }
    }
  } finally {
    await engines.fast.close();
    await engines.quality.close();
  }
  return [
    '## Quality',
    '',
    `Clean originals: ${QUALITY_IMAGES.join(', ')} (test/fixtures/photos; camera is gray). Degraded inputs:`,
    'for 4x and 2x, bicubic downscale by the scale then JPEG quality 60; for 1x, Gaussian blur',
    '(sigma 1.5) + Gaussian noise (sigma 5) + JPEG quality 60 at full size. Each output is compared',
    'with the clean original: PSNR over RGB, SSIM on luma (11x11 Gaussian window). Mean over the',
    'images; per-image PSNR/SSIM in the last column, in the order above.',
    '',
    table(['scale', 'method', 'PSNR dB', 'SSIM', 'per image'], rows),
    '',
    'Reading it: the model rows use the default, adaptive strength ("Adaptive enhancement"): the',
    "network's output fused with the classical image. Real-ESRGAN alone is trained adversarially",
    'for perceived sharpness, not PSNR. See "Scale strategy" for how 2x and 1x are produced.',
    '',
    'Reproduce: `npm run bench -- quality`',
  ].join('\n');
}
