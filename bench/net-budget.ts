/**
 * The 1x network-input budget on camera-sized photos (`npm run bench -- budget`): how much
 * a smaller budget (DEFAULT_MAX_NET_PIXELS, src/engine/scale-plan.ts) costs in quality and
 * saves in time on photos large enough to reach it. The adaptive benchmark's photos are
 * shrunk to 1920 px, under every budget; these are the large originals of
 * lomiri-wallpapers-16.04 (Debian), within the 4096 px limit, as JPEG q95 (clean) and q75
 * (phone), through the 1x upscaler path (the default for photos without noise) in FP32.
 * Scores: PSNR against the original and its change over the degraded input.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import sharp from 'sharp';
import { LocalEngine } from '../src/engine/local-engine.js';
import { DEFAULT_MAX_NET_PIXELS } from '../src/engine/scale-plan.js';
import { psnr, readRaster } from '../test/helpers/image-metrics.js';
import { TEST_DATA_DIR } from '../test/helpers/paths.js';
import { unpack } from './lib/photos.js';
import { fmt, table } from './lib/stats.js';
import type { Raster } from '../src/engine/types.js';

const PKG = 'lomiri-wallpapers-16.04';
const DIR = 'usr/share/backgrounds';
/** File, author and licence (the package's copyright file). */
const PHOTOS = [
  { name: 'Seeding', file: 'seeding_by_Clements_Engelhardt.jpg', author: 'Clemens Engelhardt, 2018', license: 'CC0-1.0' },
  { name: 'Dragonfly', file: 'Dragonfly_by_Bolly.jpg', author: '"Bolly", 2018', license: 'CC-BY-SA-4.0' },
  { name: 'Sunset', file: 'sunset_by_Aitzol_Berasategi.jpg', author: 'Aitzol Berasategi, 2018', license: 'CC-BY-4.0' },
  { name: 'Umang', file: 'umang_by_Abhishek_Mudgal.jpg', author: 'Abhishek Mudgal, 2018', license: 'CC-BY-4.0' },
] as const;
const BUDGETS = [2_500_000, 2_000_000, 1_600_000];
const QUALITIES = [
  ['clean (q95)', 95],
  ['phone (q75)', 75],
] as const;

const rgb = async (input: string | Uint8Array): Promise<Raster> => readRaster(await sharp(input).rotate().removeAlpha().toColourspace('srgb').png({ compressionLevel: 1 }).toBuffer());
/** The original within the service's 4096 px limit (area filter: the larger ones lose a little size, no detail). */
const original = async (file: string): Promise<Raster> => rgb(await sharp(file).rotate().resize(4096, 4096, { fit: 'inside', withoutEnlargement: true, kernel: 'lanczos3' }).png({ compressionLevel: 1 }).toBuffer());

export async function netBudget(): Promise<string> {
  const dir = join(unpack(PKG), DIR);
  const engines = new Map<number, LocalEngine>();
  for (const b of BUDGETS) engines.set(b, await LocalEngine.open({ dataDir: TEST_DATA_DIR, threads: 0, preload: ['fast'], precision: { setting: 'fp32' }, restore1x: 'upscaler', tuning: { maxNetPixels: b } }));
  const rows: Array<Array<string | number>> = [];
  const sums = new Map<string, { gain: number[]; ms: number[] }>();
  try {
    for (const photo of PHOTOS) {
      const ref = await original(join(dir, photo.file));
      const png = await sharp(ref.data, { raw: { width: ref.width, height: ref.height, channels: 3 } }).png({ compressionLevel: 1 }).toBuffer();
      for (const [label, q] of QUALITIES) {
        const input = await sharp(png).jpeg({ quality: q }).toBuffer();
        const before = psnr(await rgb(input), ref);
        const cells: string[] = [];
        for (const b of BUDGETS) {
          const t0 = performance.now();
          const result = await engines.get(b)!.enhance(input, { scale: 1, format: 'png' });
          const ms = performance.now() - t0;
          const gain = psnr(await rgb(result.data), ref) - before;
          const key = `${label}/${b}`;
          const s = sums.get(key) ?? { gain: [], ms: [] };
          s.gain.push(gain);
          s.ms.push(ms);
          sums.set(key, s);
          cells.push(`${gain >= 0 ? '+' : ''}${fmt(gain, 3)} dB, ${fmt(ms / 1000, 1)} s (pre-shrink ${fmt(result.restoration.preDownscale, 2)})`);
          console.error(`${photo.name} ${label} budget ${b}: ${cells.at(-1)}`);
        }
        rows.push([`${photo.name} ${ref.width}x${ref.height}`, label, fmt(before, 2), ...cells]);
      }
    }
  } finally {
    for (const e of engines.values()) await e.close();
  }
  const mean = (x: number[]) => x.reduce((a, v) => a + v, 0) / x.length;
  const summary = QUALITIES.map(([label]) => [
    label,
    ...BUDGETS.map((b) => {
      const s = sums.get(`${label}/${b}`)!;
      return `${fmt(mean(s.gain), 3)} dB (worst ${fmt(Math.min(...s.gain), 3)}), ${fmt(mean(s.ms) / 1000, 1)} s`;
    }),
  ]);
  const head = ['photo', 'input', 'input PSNR dB', ...BUDGETS.map((b) => `budget ${fmt(b / 1e6, 1)} MP${b === DEFAULT_MAX_NET_PIXELS ? ' (the default)' : ''}`)];
  return [
    '## 1x network budget on camera-sized photos',
    '',
    'Photos larger than 1.5^2 x the budget are shrunk further before the x4 network at 1x',
    '(src/engine/scale-plan.ts). What that costs, on the large originals of Debian\'s',
    `${PKG} (within the 4096 px limit: Lanczos, only the two larger ones) as JPEG q95 and q75; 1x upscaler path, FP32,`,
    'output PNG): PSNR gain over the input, time end to end in one warm process.',
    '',
    table(head, rows),
    '',
    'Mean gain (worst photo) and mean time per budget:',
    '',
    table(['input', ...BUDGETS.map((b) => `${fmt(b / 1e6, 1)} MP`)], summary),
    '',
    `Photos: ${PHOTOS.map((p) => `${p.name} (${p.file}, ${p.author}, ${p.license})`).join('; ')}.`,
    '',
    'Reproduce: `npm run bench -- budget`',
  ].join('\n');
}
