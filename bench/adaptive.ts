import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { LocalEngine } from '../src/engine/local-engine.js';
import { DEFAULT_PRE_DOWNSCALE } from '../src/engine/scale-plan.js';
import type { ModelName, Raster } from '../src/engine/types.js';
import { gmsd, gradientEnergy, luma, psnr, readRaster, ssim } from '../test/helpers/image-metrics.js';
import { REPO_ROOT, TEST_DATA_DIR } from '../test/helpers/paths.js';
import { CORPUS, CORPUS_DIR, corpusOriginals } from './lib/photos.js';
import { makeVariant, variantScale, VARIANTS, type Variant } from './lib/real-degrade.js';
import { fmt, median, table } from './lib/stats.js';

/**
 * Adaptive enhancement on real photographs (issue 12). For every corpus photo
 * (bench/lib/photos.ts) and degradation (bench/lib/real-degrade.ts), side by side in
 * one run: the reference a user already has (the input at 1x, Lanczos at 2x/4x), the
 * engine as it was before adaptive enhancement ("network only": strength 1 with the old
 * fixed 1.5 pre-shrink at 1x) and the engine now (auto strength with fidelity fusion).
 * Scores against the original: PSNR (RGB), SSIM (luma), GMSD (lower is better; does not
 * reward blur) and sharpness (gradient energy over the original's). Writes 1:1 crops.
 */
interface Scores { psnr: number; ssim: number; gmsd: number; sharp: number; luma: number }

async function rgb(input: Buffer | Uint8Array): Promise<Raster> {
  return readRaster(await sharp(input).removeAlpha().toColourspace('srgb').png().toBuffer());
}
function meanLuma(r: Raster): number {
  const l = luma(r);
  let s = 0;
  for (const v of l) s += v;
  return s / l.length;
}
function scores(out: Raster, ref: Raster, refEnergy: number): Scores {
  return { psnr: psnr(out, ref), ssim: ssim(out, ref), gmsd: gmsd(out, ref), sharp: gradientEnergy(out) / refEnergy, luma: meanLuma(out) };
}

const CROP_SPECS: Array<[string, Variant]> = [
  ['Garden', 'phone75'],
  ['Storm', 'phone85'],
  ['Wood', 'heavy'],
  ['Bridge', 'lowres4'],
];

async function sideBySide(file: string, tiles: Raster[], x: number, y: number, size: number): Promise<void> {
  const crops = await Promise.all(
    tiles.map((t) => sharp(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength), { raw: { width: t.width, height: t.height, channels: 3 } }).extract({ left: x, top: y, width: size, height: size }).png().toBuffer()),
  );
  await sharp({ create: { width: size * tiles.length + 8 * (tiles.length - 1), height: size, channels: 3, background: '#ffffff' } })
    .composite(crops.map((input, i) => ({ input, left: i * (size + 8), top: 0 })))
    .png()
    .toFile(file);
}

/** Wall time of `clearshot enhance` on one file in a fresh process (model load included). */
function cliSeconds(root: string, input: string, out: string): number {
  const t0 = Date.now();
  execFileSync(process.execPath, [join(root, 'bin', 'clearshot.js'), 'enhance', input, '-o', out], { env: { ...process.env, DATA_DIR: TEST_DATA_DIR }, stdio: 'ignore' });
  return (Date.now() - t0) / 1000;
}

export async function adaptive(): Promise<string> {
  const names = process.env.ADAPTIVE_PHOTOS?.split(',');
  // ADAPTIVE_VARIANTS: a subset of the degradations (e.g. lowres2,lowres4), for re-measuring one path.
  const variants = (process.env.ADAPTIVE_VARIANTS?.split(',') as Variant[] | undefined) ?? VARIANTS;
  const photos = await corpusOriginals(names);
  const fast = await LocalEngine.open({ dataDir: TEST_DATA_DIR, threads: 0, preload: ['fast'] });
  const before = await LocalEngine.open({ dataDir: TEST_DATA_DIR, threads: 0, preload: ['fast'], tuning: { preDownscale: DEFAULT_PRE_DOWNSCALE } });
  const qualityPhotos = Number(process.env.ADAPTIVE_QUALITY_PHOTOS ?? 3);
  const results: Record<string, Array<{ photo: string; ref: Scores; before: Scores; now: Scores; qBefore?: Scores; qNow?: Scores; strength: number; q: number | undefined }>> = {};
  const cropDir = join(REPO_ROOT, 'docs', 'images');
  mkdirSync(cropDir, { recursive: true });
  const crops: string[] = [];
  try {
    for (const [k, { photo, file }] of photos.entries()) {
      const meta = await sharp(file).metadata();
      const w = meta.width! - (meta.width! % 4);
      const h = meta.height! - (meta.height! % 4);
      const original = await sharp(file).extract({ left: 0, top: 0, width: w, height: h }).png().toBuffer();
      const O = await rgb(original);
      const energy = gradientEnergy(O);
      for (const variant of variants) {
        const x = await makeVariant(original, variant);
        const scale = variantScale(variant);
        const I = await rgb(x);
        const B = scale === 1 ? I : await rgb(await sharp(x).resize(w, h, { kernel: 'lanczos3', fit: 'fill' }).png().toBuffer());
        const then = await rgb((await before.enhance(x, { scale, strength: 1, format: 'png' })).data);
        const r = await fast.enhance(x, { scale, format: 'png' });
        const now = await rgb(r.data);
        const row: (typeof results)[string][number] = { photo: photo.name, ref: scores(B, O, energy), before: scores(then, O, energy), now: scores(now, O, energy), strength: r.restoration.strength, q: r.analysis.jpegQuality };
        if (k < qualityPhotos && variant === 'lowres4') {
          const model: ModelName = 'quality';
          row.qBefore = scores(await rgb((await before.enhance(x, { scale, model, strength: 1, format: 'png' })).data), O, energy);
          row.qNow = scores(await rgb((await fast.enhance(x, { scale, model, format: 'png' })).data), O, energy);
        }
        (results[variant] ??= []).push(row);
        const spec = CROP_SPECS.find(([p, v]) => p === photo.name && v === variant);
        if (spec) {
          const name = `adaptive-${photo.name}-${variant}.png`;
          // The central 256 px square.
          await sideBySide(join(cropDir, name), [B, then, now, O], Math.floor(w / 2 - 128), Math.floor(h / 2 - 128), 256);
          crops.push(`- ${photo.name}, ${variant}: ![${photo.name} ${variant}](images/${name})`);
        }
        console.error(`${photo.name} ${variant}: ref ${fmt(row.ref.psnr, 2)} before ${fmt(row.before.psnr, 2)} now ${fmt(row.now.psnr, 2)} (s=${row.strength})`);
      }
    }
  } finally {
    await fast.close();
    await before.close();
  }

  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const rows: Array<Array<string | number>> = [];
  const qrows: Array<Array<string | number>> = [];
  for (const variant of variants) {
    const list = results[variant] ?? [];
    if (!list.length) continue;
    const refLabel = variantScale(variant) === 1 ? 'input' : 'Lanczos';
    const line = (label: string, get: (r: (typeof list)[number]) => Scores) => {
      const dp = list.map((r) => get(r).psnr - r.ref.psnr);
      const ds = list.map((r) => get(r).ssim - r.ref.ssim);
      return [
        `${variant} (${variantScale(variant)}x)`,
        label,
        fmt(mean(list.map((r) => get(r).psnr)), 2),
        `${fmt(mean(dp), 2)} / ${fmt(Math.min(...dp), 2)}`,
        fmt(mean(list.map((r) => get(r).ssim)), 4),
        `${fmt(mean(ds), 4)} / ${fmt(Math.min(...ds), 4)}`,
        fmt(mean(list.map((r) => get(r).gmsd)), 4),
        fmt(mean(list.map((r) => get(r).sharp)), 3),
        fmt(mean(list.map((r) => get(r).luma - meanLuma0(r))), 2),
      ];
    };
    const meanLuma0 = (r: (typeof list)[number]) => r.ref.luma - 0; // shift is reported against the reference's mean luma
    rows.push(line(refLabel, (r) => r.ref), line('network only (before)', (r) => r.before), line(`adaptive (now, s ${fmt(Math.min(...list.map((r) => r.strength)), 2)}-${fmt(Math.max(...list.map((r) => r.strength)), 2)})`, (r) => r.now));
    const withQ = list.filter((r) => r.qNow);
    if (withQ.length) {
      for (const [label, get] of [['quality, network only', (r: (typeof list)[number]) => r.qBefore!], ['quality, adaptive', (r: (typeof list)[number]) => r.qNow!]] as const) {
        const dp = withQ.map((r) => get(r).psnr - r.ref.psnr);
        const ds = withQ.map((r) => get(r).ssim - r.ref.ssim);
        qrows.push([`${variant}`, label, `${fmt(mean(dp), 2)} / ${fmt(Math.min(...dp), 2)}`, `${fmt(mean(ds), 4)} / ${fmt(Math.min(...ds), 4)}`, fmt(mean(withQ.map((r) => get(r).gmsd)), 4), fmt(mean(withQ.map((r) => get(r).sharp)), 3)]);
      }
    }
  }

  // Speed: a 12 MP phone JPEG at auto scale, this tree against the commit before adaptive enhancement (fresh processes, alternating).
  let speed = '';
  const headRoot = process.env.ADAPTIVE_BEFORE_ROOT;
  if (headRoot && existsSync(join(headRoot, 'dist'))) {
    const big = join(CORPUS_DIR, 'phone-12mp.jpg');
    const src = CORPUS.find((p) => p.name === 'Dragonfly')!;
    await sharp(join(CORPUS_DIR, src.pkg, src.path)).resize(4032, 3024, { fit: 'cover' }).jpeg({ quality: 85 }).toFile(big);
    const times: Record<string, number[]> = { before: [], now: [] };
    for (let i = 0; i < 2; i++) {
      times.before!.push(cliSeconds(headRoot, big, join(CORPUS_DIR, 'out-before')));
      times.now!.push(cliSeconds(REPO_ROOT, big, join(CORPUS_DIR, 'out-now')));
    }
    speed = `12 MP phone JPEG (Dragonfly cropped to 4032x3024, q85) at auto scale (1x), \`clearshot enhance\` in a fresh process, model load included, median of 2 alternating runs: before ${fmt(median(times.before!), 1)} s (${times.before!.map((t) => fmt(t, 1)).join(', ')}), now ${fmt(median(times.now!), 1)} s (${times.now!.map((t) => fmt(t, 1)).join(', ')}).`;
  }

  return [
    '## Adaptive enhancement (real photos)',
    '',
    `Corpus: ${photos.length} photographs from Debian packages (bench/lib/photos.ts lists each file, author and licence: mate-backgrounds, GPL-2+; lomiri-wallpapers-16.04, CC-BY-4.0 / CC-BY-SA-4.0), shrunk to a 1920 px long edge as originals. Degradations (bench/lib/real-degrade.ts): clean = JPEG q95; phone = q85 and q75; heavy = blur 1.2 + noise 6 + q40; low-res = area /2 or /4 + q85. 1x on the first four, 2x/4x on the low-res ones, \`fast\` model. "network only (before)" is the engine as it was: the network's output as is, 1x pre-shrink 1.5.`,
    '',
    `This run: photos ${photos.map((p) => p.photo.name).join(', ')}; degradations ${variants.join(', ')}; \`quality\` model on ${photos.slice(0, qualityPhotos).map((p) => p.photo.name).join(', ')}.`,
    '',
    'Δ columns: mean / worst image against the reference (the input at 1x, Lanczos at 2x/4x). GMSD: lower is better. Sharpness: gradient energy over the original\'s. Tone: mean luma minus the reference\'s, in grey levels.',
    '',
    table(['input', 'method', 'PSNR dB', 'Δ PSNR mean / worst', 'SSIM', 'Δ SSIM mean / worst', 'GMSD', 'sharpness', 'tone shift'], rows),
    '',
    ...(qrows.length ? [`\`quality\` model on the low-res inputs of the first ${qualityPhotos} photos (Δ against Lanczos):`, '', table(['input', 'method', 'Δ PSNR mean / worst', 'Δ SSIM mean / worst', 'GMSD', 'sharpness'], qrows), ''] : []),
    ...(speed ? [speed, ''] : []),
    '1:1 crops (256 px, centre), left to right: reference (input or Lanczos), network only (before), adaptive (now), original:',
    '',
    ...crops,
    '',
    'Reproduce: `npm run bench -- adaptive` (fetches the photos with apt-get download; set ADAPTIVE_BEFORE_ROOT to a built checkout of an earlier commit for the speed line).',
  ].join('\n');
}
