import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { LocalEngine } from '../src/engine/local-engine.js';
import { DEFAULT_PRE_DOWNSCALE } from '../src/engine/scale-plan.js';
import type { ScaleFactor } from '../src/engine/types.js';
import { readRaster } from '../test/helpers/image-metrics.js';
import { fixture, TEST_DATA_DIR } from '../test/helpers/paths.js';
import { degrade, lanczos } from './lib/degrade.js';
import { QUALITY_IMAGES, score } from './quality.js';
import { fmt, median, table } from './lib/stats.js';

/**
 * How to reach 2x and 1x with a 4x network: shrink the input by `d` first, run the
 * network, resize the result to the target. Quality against the clean originals and
 * network time, `fast` model, same degradations as the quality benchmark.
 */
export async function scaleStrategy(): Promise<string> {
  const rows: Array<Array<string | number>> = [];
  const options: Array<[ScaleFactor, number[]]> = [
    [2, [1, 2]],
    [1, [1, 1.25, 1.5, 2, 2.5, 3, 4]],
  ];
  for (const [scale, ds] of options) {
    const base: Array<{ psnr: number; ssim: number }> = [];
    const per: Record<number, Array<{ psnr: number; ssim: number; ms: number }>> = {};
    for (const name of QUALITY_IMAGES) {
      const clean = await sharp(await readFile(fixture('photos', name))).png().toBuffer();
      const ref = await readRaster(clean);
      const degraded = await degrade(clean, scale);
      base.push(await score(await lanczos(degraded, ref.width, ref.height), clean));
      for (const d of ds) {
        const engine = await LocalEngine.open({ dataDir: TEST_DATA_DIR, threads: 0, preload: ['fast'], tuning: { preDownscale: { 4: 1, 2: d, 1: d }, maxNetPixels: 1e9 } });
        try {
          const r = await engine.enhance(degraded, { scale, format: 'png' });
          (per[d] ??= []).push({ ...(await score(r.data, clean)), ms: r.timings.inference ?? 0 });
        } finally {
          await engine.close();
        }
      }
    }
    const avg = (xs: Array<{ psnr: number; ssim: number }>, k: 'psnr' | 'ssim') => xs.reduce((a, x) => a + x[k], 0) / xs.length;
    rows.push([`${scale}x`, scale === 1 ? 'input as is' : 'Lanczos', fmt(avg(base, 'psnr'), 2), fmt(avg(base, 'ssim'), 4), '-', '']);
    for (const d of ds) {
      const list = per[d]!;
      const chosen = DEFAULT_PRE_DOWNSCALE[scale] === d ? '**default**' : '';
      rows.push([`${scale}x`, `shrink by ${d}, network, resize`, fmt(avg(list, 'psnr'), 2), fmt(avg(list, 'ssim'), 4), fmt(median(list.map((x) => x.ms)), 0), chosen]);
    }
  }
  return [
    '## Scale strategy',
    '',
    'Both networks are 4x. For 2x and 1x the input is first shrunk by a factor d (Lanczos), run',
    'through the network, and the result resized to the exact target. Same images and',
    'degradations as "Quality" (inputs of 300-600 px), `fast` model; median network time per image.',
    '',
    table(['scale', 'strategy', 'PSNR dB', 'SSIM', 'network ms', ''], rows),
    '',
    'Choice: 2x runs the network on the full input (d = 1): pre-shrinking is 4x cheaper but loses',
    'about 2 dB and 0.05 SSIM. 1x uses d = 1.5, the knee of the curve: better than the degraded',
    'input on both PSNR and SSIM at well under half the cost of d = 1; d = 2 gains almost no',
    'PSNR, d = 4 is worse than the input itself. A compute budget (`CLEARSHOT_MAX_NET_MEGAPIXELS`,',
    'default 2.5) then raises d for the largest inputs only: a 4096x4096 image at 1x runs at',
    'd = 2.6, which still improves SSIM over the input but not PSNR (between the d = 2.5 and',
    'd = 3 rows). Raise the budget on faster hardware.',
    '',
    'Reproduce: `npm run bench -- strategy`',
  ].join('\n');
}
