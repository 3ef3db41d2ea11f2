import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { LocalEngine } from '../src/engine/local-engine.js';
import { openSession } from '../src/engine/models/onnx-session.js';
import { RESTORE_MODEL, restoreModelPath } from '../src/engine/models/restore-model.js';
import { runRestoration } from '../src/engine/steps/restore-network.js';
import { planTiles } from '../src/engine/tiling.js';
import type { ModelName, Raster } from '../src/engine/types.js';
import { psnr, readRaster } from '../test/helpers/image-metrics.js';
import { fixture, TEST_DATA_DIR } from '../test/helpers/paths.js';
import { child } from './end-to-end.js';
import { fmt, table } from './lib/stats.js';

/** PSNR restricted to output pixels within `band` px of an internal tile seam. */
function seamPsnr(a: Raster, b: Raster, seamsX: number[], seamsY: number[], band: number): number {
  let se = 0;
  let n = 0;
  for (let y = 0; y < a.height; y++) {
    const nearY = seamsY.some((s) => Math.abs(y - s) < band);
    for (let x = 0; x < a.width; x++) {
      if (!nearY && !seamsX.some((s) => Math.abs(x - s) < band)) continue;
      for (let c = 0; c < a.channels; c++) {
        const i = (y * a.width + x) * a.channels + c;
        const d = (a.data[i]! - b.data[i]!) / 255;
        se += d * d;
        n++;
      }
    }
  }
  return 10 * Math.log10(n / se);
}

async function seams(model: ModelName, size: number, tile: number, overlaps: number[]): Promise<Array<Array<string | number>>> {
  const images = ['astronaut.jpg', 'coffee.jpg'];
  const inputs = await Promise.all(images.map(async (f) => sharp(await readFile(fixture('photos', f))).resize(size, size, { fit: 'cover' }).png().toBuffer()));
  const whole = await LocalEngine.open({ dataDir: TEST_DATA_DIR, threads: 0, preload: [model], tuning: { tileSize: 8192 } });
  const refs = [];
  for (const input of inputs) refs.push(await readRaster((await whole.enhance(input, { model, scale: 4 })).data));
  await whole.close();
  const plan = planTiles(size, size, tile, 0);
  const seamsX = [...new Set(plan.map((t) => t.inner.x * 4).filter((x) => x > 0))];
  const seamsY = [...new Set(plan.map((t) => t.inner.y * 4).filter((y) => y > 0))];
  const rows: Array<Array<string | number>> = [];
  for (const overlap of overlaps) {
    const engine = await LocalEngine.open({ dataDir: TEST_DATA_DIR, threads: 0, preload: [model], tuning: { tileSize: tile, overlap } });
    const whole: string[] = [];
    const band: string[] = [];
    for (let i = 0; i < inputs.length; i++) {
      const out = await readRaster((await engine.enhance(inputs[i]!, { model, scale: 4 })).data);
      whole.push(fmt(psnr(out, refs[i]!), 1));
      band.push(fmt(seamPsnr(out, refs[i]!, seamsX, seamsY, 64), 1));
    }
    await engine.close();
    rows.push([model, `${size}x${size}, ${plan.length} tiles of ${tile}`, overlap, whole.join(' / '), band.join(' / ')]);
  }
  return rows;
}

/** The 1x restoration network's seams: tiles of `tile` px with each context, against one untiled run. */
async function restoreSeams(size: number, tile: number, overlaps: number[]): Promise<Array<Array<string | number>>> {
  const session = await openSession(restoreModelPath(), { threads: 0 });
  const rows: Array<Array<string | number>> = [];
  try {
    const inputs: Raster[] = [];
    for (const f of ['astronaut.jpg', 'coffee.jpg']) inputs.push(await readRaster(await sharp(await readFile(fixture('photos', f))).resize(size, size, { fit: 'cover' }).jpeg({ quality: 60 }).png().toBuffer()));
    const refs = await Promise.all(inputs.map((r) => runRestoration(session, r, RESTORE_MODEL, { tileSize: 8192 })));
    const plan = planTiles(size, size, tile, 0, RESTORE_MODEL.multiple);
    const seamsX = [...new Set(plan.map((t) => t.inner.x).filter((x) => x > 0))];
    const seamsY = [...new Set(plan.map((t) => t.inner.y).filter((y) => y > 0))];
    for (const overlap of overlaps) {
      const whole: string[] = [];
      const band: string[] = [];
      for (let i = 0; i < inputs.length; i++) {
        const out = await runRestoration(session, inputs[i]!, RESTORE_MODEL, { tileSize: tile, overlap });
        whole.push(fmt(psnr(out, refs[i]!), 1));
        band.push(fmt(seamPsnr(out, refs[i]!, seamsX, seamsY, 16), 1));
      }
      rows.push(['restore-1x (JPEG q60)', `${size}x${size}, ${plan.length} tiles of ${tile}`, overlap, whole.join(' / '), band.join(' / ')]);
    }
  } finally {
    await session.release();
  }
  return rows;
}

/** Seam visibility per context size, and tile size vs time and memory. */
export async function tiling(): Promise<string> {
  const seamRows = [...(await restoreSeams(1024, 256, [0, 4, 8, 16])), ...(await seams('fast', 1024, 512, [0, 8, 16])), ...(await seams('quality', 384, 192, [16, 24, 32]))];
  const sizeRows: Array<Array<string | number>> = [];
  for (const tile of [256, 384, 544, 1024]) {
    const r = await child('fast', 1024, 2, `tile=${tile}`, 'scale=4');
    sizeRows.push(['fast', '1024x1024 at 4x', tile, fmt(r.medianMs / 1000, 2), fmt(r.maxRssMB, 0)]);
  }
  // 512 px splits as 3x3 tiles of 171 px with 192 px tiles, 2x2 of 256 px with 256 px tiles.
  for (const tile of [192, 256, 512]) {
    const r = await child('quality', 512, 1, `tile=${tile}`, 'scale=4');
    sizeRows.push(['quality', '512x512 at 4x', tile, fmt(r.medianMs / 1000, 2), fmt(r.maxRssMB, 0)]);
  }
  return [
    '## Tiling',
    '',
    'Seams: each image is enhanced once as a single tile and once tiled with the given context',
    '(overlap) on every side; PSNR of tiled vs untiled over the whole output and over the band',
    'within 16 input px (64 output px) of a seam, for the astronaut / coffee photos (the 1x restoration',
    'network: JPEG q60 copies at 1x, tiles of 256 px to have seams, band 16 px).',
    'Requirement: >= 45 dB (>= 50 dB for the restoration network). Chosen: 16 px for `fast`, 24 px for `quality` (RRDB sees much further), and for the restoration network the smallest context that holds 50 dB at the seams (RESTORE_MODEL in src/engine/models/restore-model.ts).',
    '',
    table(['model', 'image', 'context px', 'PSNR whole dB', 'PSNR at seams dB'], seamRows),
    '',
    'Tile size (largest inner edge) vs end-to-end time and peak RSS, fresh process each:',
    '',
    table(['model', 'image', 'tile px', 'median s', 'peak RSS MB'], sizeRows),
    '',
    'Reproduce: `npm run bench -- tiling`',
  ].join('\n');
}
