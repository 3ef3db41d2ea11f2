import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { LocalEngine } from '../src/engine/local-engine.js';
import type { Raster } from '../src/engine/types.js';
import { gmsd, gradientEnergy, psnr, readRaster, ssim } from '../test/helpers/image-metrics.js';
import { REPO_ROOT, TEST_DATA_DIR } from '../test/helpers/paths.js';
import { CORPUS, CORPUS_DIR, corpusOriginals } from './lib/photos.js';
import { makeVariant, RESTORE_VARIANTS, type Variant } from './lib/real-degrade.js';
import { fmt, median, table } from './lib/stats.js';

/**
 * The 1x restoration network against the path before it (issue 23), side by side in one
 * run, on the 12 photos of the adaptive benchmark (bench/lib/photos.ts; validation photos
 * the network never trained on) at their own size (1920 px long edge):
 * clean = JPEG q95, phone = q75, heavy = blur 1.2 + noise 4 + q40, noisy = colour noise
 * sigma 8 + q90. Both at auto strength: `network` (CLEARSHOT_RESTORE_1X=network) and
 * `upscaler` (the x4 network on a shrunk copy, fused with the input). Scores against the
 * original: PSNR (RGB), SSIM (luma), GMSD (lower is better) and sharpness (gradient
 * energy over the original's); Δ = against the input, mean and worst photo.
 *
 * Also: design assets (text pages, logos, shapes and line art drawn here as SVG, nothing
 * the network trained on) at JPEG q60, 1x; the strength sweep of the network path; a
 * 12 MP phone JPEG through the CLI with each path (fresh processes, alternating); 1:1 crops.
 * RESTORE_PHOTOS / RESTORE_VARIANTS select subsets; RESTORE_SPEED=0 skips the CLI timing.
 */
interface Scores { psnr: number; ssim: number; gmsd: number; sharp: number }

async function rgb(input: Buffer | Uint8Array): Promise<Raster> {
  return readRaster(await sharp(input).removeAlpha().toColourspace('srgb').png().toBuffer());
}
function scores(out: Raster, ref: Raster, energy: number): Scores {
  return { psnr: psnr(out, ref), ssim: ssim(out, ref), gmsd: gmsd(out, ref), sharp: gradientEnergy(out) / energy };
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Deterministic design assets: SVG pages of text, a logo, flat shapes, gradients and line art. */
export function designAssets(): Array<{ name: string; svg: string }> {
  const W = 768;
  const H = 512;
  let seed = 20261203;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  const words = 'invoice total order customer design studio coffee market delivery report annual growth price welcome contact privacy quality summer brand'.split(' ');
  const line = (n: number) => Array.from({ length: n }, () => pick(words)).join(' ');
  const colour = () => `rgb(${Math.floor(rand() * 256)},${Math.floor(rand() * 256)},${Math.floor(rand() * 256)})`;
  const fonts = ['DejaVu Sans', 'DejaVu Serif', 'DejaVu Sans Mono'];
  const out: Array<{ name: string; svg: string }> = [];
  // Two text pages (a scanned letter, a price list).
  for (let p = 0; p < 2; p++) {
    let y = 40;
    const rows: string[] = [];
    while (y < H - 20) {
      const size = pick([14, 16, 18, 22, 28, 36]);
      rows.push(`<text x="30" y="${y}" font-family="${pick(fonts)}" font-size="${size}" fill="${p ? '#1a2b55' : '#222'}">${line(5 + Math.floor(rand() * 6))}</text>`);
      y += Math.round(size * 1.5);
    }
    out.push({ name: `page${p + 1}`, svg: `<rect width="${W}" height="${H}" fill="${p ? '#f4efe2' : '#ffffff'}"/>${rows.join('')}` });
  }
  // Two logos on flat or gradient backgrounds.
  for (let p = 0; p < 2; p++) {
    const c = colour();
    out.push({
      name: `logo${p + 1}`,
      svg: `<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="${colour()}"/><stop offset="1" stop-color="${colour()}"/></linearGradient></defs><rect width="${W}" height="${H}" fill="${p ? 'url(#g)' : '#fafafa'}"/><circle cx="${W / 2}" cy="200" r="110" fill="${c}"/><text x="${W / 2}" y="235" text-anchor="middle" font-family="DejaVu Sans" font-weight="bold" font-size="96" fill="#fff">CS</text><text x="${W / 2}" y="400" text-anchor="middle" font-family="DejaVu Serif" font-size="48" fill="#202020">${pick(words).toUpperCase()} ${pick(words).toUpperCase()}</text>`,
    });
  }
  // Two shape compositions and two line drawings.
  for (let p = 0; p < 2; p++) {
    const shapes = Array.from({ length: 9 }, () => {
      const x = Math.floor(rand() * W);
      const y = Math.floor(rand() * H);
      return rand() < 0.5 ? `<rect x="${x}" y="${y}" width="${40 + Math.floor(rand() * 200)}" height="${40 + Math.floor(rand() * 160)}" rx="${Math.floor(rand() * 30)}" fill="${colour()}"/>` : `<ellipse cx="${x}" cy="${y}" rx="${30 + Math.floor(rand() * 120)}" ry="${30 + Math.floor(rand() * 90)}" fill="${colour()}"/>`;
    });
    out.push({ name: `shapes${p + 1}`, svg: `<rect width="${W}" height="${H}" fill="${colour()}"/>${shapes.join('')}` });
    const paths = Array.from({ length: 14 }, () => `<path d="M${Math.floor(rand() * W)} ${Math.floor(rand() * H)} C ${Math.floor(rand() * W)} ${Math.floor(rand() * H)}, ${Math.floor(rand() * W)} ${Math.floor(rand() * H)}, ${Math.floor(rand() * W)} ${Math.floor(rand() * H)}" stroke="#111" stroke-width="${1 + Math.floor(rand() * 5)}" fill="none"/>`);
    out.push({ name: `lines${p + 1}`, svg: `<rect width="${W}" height="${H}" fill="#fdfdf8"/>${paths.join('')}` });
  }
  return out.map((a) => ({ name: a.name, svg: `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}">${a.svg}</svg>` }));
}

/** Wall time of `clearshot enhance` on one file in a fresh process (model load included). */
function cliSeconds(input: string, out: string, restore1x: string): number {
  const t0 = Date.now();
  execFileSync(process.execPath, [join(REPO_ROOT, 'bin', 'clearshot.js'), 'enhance', input, '-o', out], { env: { ...process.env, DATA_DIR: TEST_DATA_DIR, CLEARSHOT_RESTORE_1X: restore1x }, stdio: 'ignore' });
  return (Date.now() - t0) / 1000;
}

async function sideBySide(file: string, tiles: Raster[], x: number, y: number, size: number): Promise<void> {
  const crops = await Promise.all(
    tiles.map((t) => sharp(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength), { raw: { width: t.width, height: t.height, channels: 3 } }).extract({ left: x, top: y, width: size, height: size }).png().toBuffer()),
  );
  await sharp({ create: { width: size * tiles.length + 8 * (tiles.length - 1), height: size, channels: 3, background: '#ffffff' } })
    .composite(crops.map((input, i) => ({ input, left: i * (size + 8), top: 0 })))
    .png()
    .toFile(file);
}

const CROPS: Array<[string, Variant]> = [
  ['Garden', 'phone75'],
  ['Wood', 'heavy4'],
  ['Storm', 'noisy'],
  ['Aqua', 'clean'],
];

export async function restore(): Promise<string> {
  const names = process.env.RESTORE_PHOTOS?.split(',');
  const variants = (process.env.RESTORE_VARIANTS?.split(',') as Variant[] | undefined) ?? RESTORE_VARIANTS;
  const sweep = (process.env.RESTORE_SWEEP ?? '0.5,0.75,1').split(',').map(Number);
  const photos = await corpusOriginals(names);
  const network = await LocalEngine.open({ dataDir: TEST_DATA_DIR, threads: 0, preload: [], restore1x: 'network', precision: { setting: process.env.RESTORE_PRECISION === 'int8' ? 'int8' : 'fp32' } });
  const upscaler = await LocalEngine.open({ dataDir: TEST_DATA_DIR, threads: 0, preload: ['fast'], restore1x: 'upscaler' });
  // The default (CLEARSHOT_RESTORE_1X=auto): the network on noisy photos, the upscaler path elsewhere.
  const auto = await LocalEngine.open({ dataDir: TEST_DATA_DIR, threads: 0, preload: ['fast'] });
  type Row = { photo: string; input: Scores; upscaler: Scores; network: Scores; auto: Scores; autoPath: string; sweep: Record<string, Scores>; strength: number; ms: { network: number; upscaler: number } };
  const results: Record<string, Row[]> = {};
  const cropDir = join(REPO_ROOT, 'docs', 'images');
  mkdirSync(cropDir, { recursive: true });
  const crops: string[] = [];
  const design: Array<{ name: string; input: Scores; network: Scores; upscaler: Scores }> = [];
  try {
    for (const { photo, file } of photos) {
      const original = await sharp(file).png().toBuffer();
      const O = await rgb(original);
      const energy = gradientEnergy(O);
      for (const variant of variants) {
        const x = await makeVariant(original, variant);
        const I = await rgb(x);
        let t = Date.now();
        const rn = await network.enhance(x, { scale: 1, format: 'png' });
        const msN = Date.now() - t;
        t = Date.now();
        const ru = await upscaler.enhance(x, { scale: 1, format: 'png' });
        const msU = Date.now() - t;
        const N = await rgb(rn.data);
        const U = await rgb(ru.data);
        const ra = await auto.enhance(x, { scale: 1, format: 'png' });
        const A = await rgb(ra.data);
        const row: Row = { photo: photo.name, input: scores(I, O, energy), upscaler: scores(U, O, energy), network: scores(N, O, energy), auto: scores(A, O, energy), autoPath: ra.restoration.network, sweep: {}, strength: rn.restoration.strength, ms: { network: msN, upscaler: msU } };
        for (const s of sweep) row.sweep[String(s)] = scores(await rgb((await network.enhance(x, { scale: 1, strength: s, format: 'png' })).data), O, energy);
        (results[variant] ??= []).push(row);
        if (CROPS.some(([p, v]) => p === photo.name && v === variant)) {
          const name = `restore-${photo.name}-${variant}.png`;
          await sideBySide(join(cropDir, name), [I, U, N, O], Math.floor(O.width / 2 - 128), Math.floor(O.height / 2 - 128), 256);
          crops.push(`- ${photo.name}, ${variant}: ![${photo.name} ${variant}](images/${name})`);
        }
        console.error(`${photo.name} ${variant}: input ${fmt(row.input.psnr, 2)} upscaler ${fmt(row.upscaler.psnr, 2)} network ${fmt(row.network.psnr, 2)} (s=${row.strength}) auto ${fmt(row.auto.psnr, 2)} (${row.autoPath}) ${msN}/${msU} ms`);
      }
    }
    for (const asset of designAssets()) {
      const original = await sharp(Buffer.from(asset.svg)).png().toBuffer();
      const O = await rgb(original);
      const energy = gradientEnergy(O);
      const x = await sharp(original).jpeg({ quality: 60 }).toBuffer();
      const I = await rgb(x);
      const N = await rgb((await network.enhance(x, { scale: 1, format: 'png' })).data);
      const U = await rgb((await upscaler.enhance(x, { scale: 1, format: 'png' })).data);
      design.push({ name: asset.name, input: scores(I, O, energy), network: scores(N, O, energy), upscaler: scores(U, O, energy) });
      if (asset.name === 'page1') {
        await sideBySide(join(cropDir, 'restore-design-page1-q60.png'), [I, U, N, O], 20, 10, 256);
        crops.push('- a text page (drawn here, not trained on), JPEG q60: ![page q60](images/restore-design-page1-q60.png)');
      }
      console.error(`design ${asset.name}: input ${fmt(psnr(I, O), 2)} network ${fmt(psnr(N, O), 2)}`);
    }
  } finally {
    await network.close();
    await upscaler.close();
    await auto.close();
  }

  const rows: Array<Array<string | number>> = [];
  const line = (variant: Variant, label: string, list: Row[], get: (r: Row) => Scores) => {
    const dp = list.map((r) => get(r).psnr - r.input.psnr);
    const ds = list.map((r) => get(r).ssim - r.input.ssim);
    return [variant, label, fmt(mean(list.map((r) => get(r).psnr)), 2), `${fmt(mean(dp), 2)} / ${fmt(Math.min(...dp), 2)}`, fmt(mean(list.map((r) => get(r).ssim)), 4), `${fmt(mean(ds), 4)} / ${fmt(Math.min(...ds), 4)}`, fmt(mean(list.map((r) => get(r).gmsd)), 4), fmt(mean(list.map((r) => get(r).sharp)), 3)];
  };
  const sweepRows: Array<Array<string | number>> = [];
  for (const variant of variants) {
    const list = results[variant] ?? [];
    if (!list.length) continue;
    rows.push(line(variant, 'input', list, (r) => r.input), line(variant, 'upscaler (before)', list, (r) => r.upscaler), line(variant, `network (auto, s ${fmt(Math.min(...list.map((r) => r.strength)), 2)}-${fmt(Math.max(...list.map((r) => r.strength)), 2)})`, list, (r) => r.network), line(variant, `**default (auto): network on ${list.filter((r) => r.autoPath === 'restore-1x').length} of ${list.length}**`, list, (r) => r.auto));
    for (const s of sweep) {
      const dp = list.map((r) => r.sweep[String(s)]!.psnr - r.input.psnr);
      const ds = list.map((r) => r.sweep[String(s)]!.ssim - r.input.ssim);
      sweepRows.push([variant, String(s), `${fmt(mean(dp), 2)} / ${fmt(Math.min(...dp), 2)}`, `${fmt(mean(ds), 4)} / ${fmt(Math.min(...ds), 4)}`]);
    }
  }
  const all = Object.values(results).flat();
  const designRows = design.map((d) => [d.name, fmt(d.input.psnr, 2), `${fmt(d.upscaler.psnr - d.input.psnr, 2)}`, `${fmt(d.network.psnr - d.input.psnr, 2)}`, `${fmt(d.network.ssim - d.input.ssim, 4)}`]);

  let speed = '';
  if (process.env.RESTORE_SPEED !== '0') {
    const big = join(CORPUS_DIR, 'phone-12mp.jpg');
    const src = CORPUS.find((p) => p.name === 'Dragonfly')!;
    if (!existsSync(big)) await sharp(join(CORPUS_DIR, src.pkg, src.path)).resize(4000, 3000, { fit: 'cover' }).jpeg({ quality: 85 }).toFile(big);
    const times: Record<'network' | 'upscaler', number[]> = { network: [], upscaler: [] };
    for (let i = 0; i < 3; i++) {
      for (const path of ['upscaler', 'network'] as const) times[path].push(cliSeconds(big, join(CORPUS_DIR, `out-${path}`), path));
    }
    speed = `12 MP phone JPEG (Dragonfly cropped to 4000x3000, q85) at auto scale (1x) through \`clearshot enhance\` in a fresh process each (model load included), alternating, median of 3: network ${fmt(median(times.network), 1)} s (${times.network.map((t) => fmt(t, 1)).join(', ')}), upscaler ${fmt(median(times.upscaler), 1)} s (${times.upscaler.map((t) => fmt(t, 1)).join(', ')}).`;
  }

  return [
    '## Restoration network (1x)',
    '',
    `${photos.length} photographs of the adaptive benchmark (bench/lib/photos.ts; the network's validation split, never trained on) at their own size (1920 px long edge). Degradations (bench/lib/real-degrade.ts): clean = JPEG q95; phone75 = q75; heavy4 = blur 1.2 + noise 4 + q40; noisy = colour noise sigma 8 + q90. All at auto strength and default precision (at 1x the upscaler runs in FP32): "upscaler (before)" = the x4 fast network on a shrunk copy fused with the input (CLEARSHOT_RESTORE_1X=upscaler); "network" = ClearShot's restoration network at the photo's size on every photo (models/restore-1x.onnx, training/; CLEARSHOT_RESTORE_1X=network); "default (auto)" = the network where the analysis measures noise, the upscaler path elsewhere (CLEARSHOT_RESTORE_1X=auto).`,
    '',
    'Δ columns: mean / worst photo against the input. GMSD: lower is better. Sharpness: gradient energy over the original\'s.',
    '',
    table(['input', 'method', 'PSNR dB', 'Δ PSNR mean / worst', 'SSIM', 'Δ SSIM mean / worst', 'GMSD', 'sharpness'], rows),
    '',
    `Time per photo in this run (1920 px, in-process, warm): network ${fmt(median(all.map((r) => r.ms.network)) / 1000, 2)} s, upscaler ${fmt(median(all.map((r) => r.ms.upscaler)) / 1000, 2)} s (medians).`,
    '',
    'Strength sweep of the network path (Δ against the input, mean / worst):',
    '',
    table(['input', 'strength', 'Δ PSNR', 'Δ SSIM'], sweepRows),
    '',
    'Design assets (drawn here as SVG: text pages, logos, shapes, line art; 768x512), JPEG q60, 1x, auto strength (Δ against the input):',
    '',
    table(['asset', 'input PSNR dB', 'Δ PSNR upscaler', 'Δ PSNR network', 'Δ SSIM network'], designRows),
    '',
    ...(speed ? [speed, ''] : []),
    '1:1 crops (256 px), left to right: input, upscaler (before), network, original:',
    '',
    ...crops,
    '',
    'Reproduce: `npm run bench -- restore` (fetches the photos with apt-get download).',
  ].join('\n');
}
