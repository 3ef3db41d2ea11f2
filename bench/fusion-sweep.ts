/**
 * Strength/fusion sweep behind the constants of src/engine/adapt/policy.ts and fusion.ts:
 * runs the network once per corpus crop and degradation (cached under DATA_DIR/bench-cache),
 * then scores fusion settings against the original. Not a suite of `npm run bench`:
 * `npm run build && S=0.25,0.5 TEX=0,3 TONE=0,12 DEFECT_MODE=rmsD DEFECT_K=0.5 CROP=512 PHOTOS=Aqua,Storm node dist/bench/fusion-sweep.js`.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { LocalEngine } from '../src/engine/local-engine.js';
import { analyzeImage } from '../src/engine/adapt/analysis.js';
import { consistencyGate, fuse, fusionFor, DEFAULT_CONSISTENCY, DEFAULT_FUSION, type FusionOptions } from '../src/engine/adapt/fusion.js';
import { autoStrength } from '../src/engine/adapt/policy.js';
import type { ModelName, Raster } from '../src/engine/types.js';
import { gmsd, gradientEnergy, psnr, readRaster, ssim } from '../test/helpers/image-metrics.js';
import { TEST_DATA_DIR } from '../test/helpers/paths.js';
import { corpusOriginals } from './lib/photos.js';
import { makeVariant, variantScale, VARIANTS, type Variant } from './lib/real-degrade.js';

const CROP = Number(process.env.CROP ?? 768);
const cache = join(TEST_DATA_DIR, 'bench-cache');
mkdirSync(cache, { recursive: true });
const names = process.env.PHOTOS?.split(',');
const variants = (process.env.VARIANTS?.split(',') as Variant[] | undefined) ?? VARIANTS;
const PRE1 = Number(process.env.PRE1 ?? 1.5);
const MODEL = (process.env.MODEL ?? 'fast') as ModelName;
const PER = process.env.PER === '1';
const engine = await LocalEngine.open({ dataDir: TEST_DATA_DIR, threads: 0, preload: [MODEL], tuning: { preDownscale: { 4: 1, 2: 1, 1: PRE1 } } });

async function raster(png: Buffer): Promise<Raster> {
  return readRaster(await sharp(png).removeAlpha().toColourspace('srgb').png().toBuffer());
}

interface Case { photo: string; variant: Variant; O: Raster; B: Raster; N: Raster; I: Raster; a: ReturnType<typeof analyzeImage>; rmse: number }
const cases: Case[] = [];
for (const { photo, file } of await corpusOriginals(names)) {
  const meta = await sharp(file).metadata();
  const left = Math.floor((meta.width! - CROP) / 2 / 8) * 8;
  const top = Math.floor((meta.height! - CROP) / 2 / 8) * 8;
  // CROP=0: the whole photo, cropped to sides that divide by 4 (as bench/adaptive.ts does).
  const original = CROP > 0 ? await sharp(file).extract({ left, top, width: CROP, height: CROP }).png().toBuffer() : await sharp(file).extract({ left: 0, top: 0, width: meta.width! - (meta.width! % 4), height: meta.height! - (meta.height! % 4) }).png().toBuffer();
  const O = await raster(original);
  for (const variant of variants) {
    const x = await makeVariant(original, variant);
    const scale = variantScale(variant);
    const key = join(cache, `${photo.name}-${CROP}-${variant}-${MODEL}${PRE1 === 1.5 || scale > 1 ? '' : `-pre${PRE1}`}.png`);
    let n: Buffer;
    if (existsSync(key)) n = readFileSync(key);
    else {
      const t = Date.now();
      // strength 1: the network's output as is (auto strength would fuse it already).
      n = Buffer.from((await engine.enhance(x, { scale, model: MODEL, strength: 1, format: 'png' })).data);
      writeFileSync(key, n);
      console.error(`${photo.name} ${variant}: net ${Date.now() - t} ms`);
    }
    const N = await raster(await sharp(n).resize(O.width, O.height, { fit: 'fill' }).png().toBuffer());
    const I = await raster(await sharp(x).png().toBuffer());
    const B = scale === 1 ? I : await raster(await sharp(x).resize(O.width, O.height, { kernel: 'lanczos3', fit: 'fill' }).png().toBuffer());
    const a = analyzeImage(I, new Uint8Array(x), 'jpeg');
    let se = 0;
    for (let i = 0; i < B.data.length; i++) se += (B.data[i]! - O.data[i]!) ** 2;
    cases.push({ photo: photo.name, variant, O, B, N, I, a, rmse: Math.sqrt(se / B.data.length) });
  }
}
await engine.close();

const f = (x: number, d = 2) => x.toFixed(d);
console.log('# analysis');
for (const c of cases) console.log(`${c.photo} ${c.variant} q=${c.a.jpegQuality} noise=${f(c.a.noise)} sharp=${f(c.a.sharpness, 3)} block=${f(c.a.blocking, 3)} rmseB=${f(c.rmse)}`);

const grid: Array<{ label: string; o: (c: Case) => FusionOptions; gate?: number }> = [];
const rmsD = (c: Case) => { let se = 0; for (let i = 0; i < c.B.data.length; i++) se += (c.N.data[i]! - c.B.data[i]!) ** 2; return Math.sqrt(se / c.B.data.length); };
const defectOf = (c: Case) => process.env.DEFECT_MODE === 'auto' ? undefined : Number(process.env.DEFECT_K ?? 1) * (process.env.DEFECT_MODE === 'rmsD' ? rmsD(c) : process.env.DEFECT_MODE === 'fixed' ? 1 : process.env.DEFECT_MODE === 'cap' ? Math.min(rmsD(c), Number(process.env.CAP ?? 6)) : c.rmse);
// S=auto: the engine's own choice (policy.ts's strength, fusion.ts's settings for the scale, defect from D).
// GATE: consistency-gate tau values at 2x/4x (0 = no gate); unset = the engine's.
const gates = (process.env.GATE ?? String(DEFAULT_CONSISTENCY.tau)).split(',').map(Number);
// (The tone floor that TFLOOR once swept was not adopted and is gone from fusion.ts.)
if (process.env.S === 'auto') for (const gate of gates) grid.push({ label: `auto (engine) gate=${gate}`, gate, o: (c) => fusionFor(variantScale(c.variant), autoStrength(c.a, variantScale(c.variant))) });
else for (const gate of gates) for (const s of (process.env.S ?? '0,0.25,0.5,0.75,1').split(',').map(Number)) {
  for (const tone of (process.env.TONE ?? '0,12').split(',').map(Number)) {
    for (const texture of (process.env.TEX ?? '0,3').split(',').map(Number)) {
      for (const tau of (process.env.TAU ?? '2').split(',').map(Number)) {
        grid.push({ label: `s=${s} tone=${tone} tex=${texture} tau=${tau} gate=${gate}`, gate, o: (c) => ({ ...DEFAULT_FUSION, strength: s, toneRadius: tone * variantScale(c.variant) / (variantScale(c.variant) > 1 ? 2 : 1), texture, tau, defect: defectOf(c) }) });
      }
    }
  }
}
for (const variant of variants) {
  const vs = cases.filter((c) => c.variant === variant);
  const ref = vs.map((c) => ({ p: psnr(c.B, c.O), s: ssim(c.B, c.O), g: gmsd(c.B, c.O), e: gradientEnergy(c.B) / gradientEnergy(c.O) }));
  const m = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log(`\n# ${variant}: base PSNR ${f(m(ref.map((r) => r.p)))} SSIM ${f(m(ref.map((r) => r.s)), 4)} GMSD ${f(m(ref.map((r) => r.g)), 4)} sharp ${f(m(ref.map((r) => r.e)), 3)}`);
  for (const g of grid) {
    const rs = vs.map((c, k) => {
      const scale = variantScale(c.variant);
      const net = scale > 1 && g.gate ? consistencyGate(c.B, c.N, c.I, scale, { ...DEFAULT_CONSISTENCY, tau: g.gate }) : c.N;
      const F = fuse(c.B, net, g.o(c));
      const p = psnr(F, c.O);
      const s = ssim(F, c.O);
      return { p, s, g: gmsd(F, c.O), e: gradientEnergy(F) / gradientEnergy(c.O), dp: p - ref[k]!.p, ds: s - ref[k]!.s };
    });
    if (PER) console.log(vs.map((c, k) => `  ${c.photo} s=${autoStrength(c.a, variantScale(c.variant))} dPSNR ${f(rs[k]!.dp)} dSSIM ${f(rs[k]!.ds, 4)} sharp ${f(rs[k]!.e / ref[k]!.e, 3)}xB`).join('\n'));
    console.log(`${g.label.padEnd(40)} PSNR ${f(m(rs.map((r) => r.p)))} (d ${f(m(rs.map((r) => r.dp)))}, worst ${f(Math.min(...rs.map((r) => r.dp)))}) SSIM ${f(m(rs.map((r) => r.s)), 4)} (worst d ${f(Math.min(...rs.map((r) => r.ds)), 4)}) GMSD ${f(m(rs.map((r) => r.g)), 4)} sharp ${f(m(rs.map((r) => r.e)), 3)}`);
  }
}
