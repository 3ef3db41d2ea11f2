import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { LocalEngine } from '../src/engine/local-engine.js';
import { calibrationSet, INT8_RECIPE } from '../src/engine/models/int8-model.js';
import { INT8_MIN_PSNR_DB } from '../src/engine/models/precision.js';
import type { ScaleFactor } from '../src/engine/types.js';
import { readRaster } from '../test/helpers/image-metrics.js';
import { fixture, TEST_DATA_DIR } from '../test/helpers/paths.js';
import { degrade } from './lib/degrade.js';
import { fmt, median, table } from './lib/stats.js';
import { QUALITY_IMAGES, score, type Score } from './quality.js';

const run = promisify(execFile);

/**
 * FP32 vs int8 for the fast network (issue 15). Every timing runs in a fresh process,
 * FP32 and int8 alternating, `INT8_BENCH_ROUNDS` rounds (default 2); the table gives
 * the median over rounds. `INT8_BENCH_LARGE=0` skips the 12 MP and 4096 px cases.
 */
const ROUNDS = Number(process.env.INT8_BENCH_ROUNDS ?? 2);
const LARGE = process.env.INT8_BENCH_LARGE !== '0';

async function child(args: string[]): Promise<{ ms: number; runs: number[]; macsPerInputPixel?: number; inferenceMs?: number; scale?: number; outWidth?: number; outHeight?: number; int8?: boolean; maxRssMB?: number }> {
  const { stdout } = await run(process.execPath, [join(import.meta.dirname, 'int8-child.js'), ...args], { maxBuffer: 1 << 20 });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

async function sideBySide(label: string, args: (p: 'fp32' | 'int8') => string[]) {
  const ms: Record<'fp32' | 'int8', number[]> = { fp32: [], int8: [] };
  let last: Awaited<ReturnType<typeof child>> | undefined;
  for (let r = 0; r < ROUNDS; r++) {
    for (const p of ['fp32', 'int8'] as const) {
      last = await child(args(p));
      ms[p].push(last.ms);
      console.error(`  ${label} ${p} round ${r + 1}: ${last.ms.toFixed(0)} ms`);
    }
  }
  const f = median(ms.fp32);
  const q = median(ms.int8);
  return { f, q, ms, last };
}

/** Mean of (a - b) in 8-bit levels and PSNR between two same-size 8-bit images. */
async function diff(a: Uint8Array, b: Uint8Array): Promise<{ psnr: number; shift: number }> {
  const ra = await readRaster(a);
  const rb = await readRaster(b);
  let se = 0;
  let sum = 0;
  for (let i = 0; i < ra.data.length; i++) {
    const d = ra.data[i]! - rb.data[i]!;
    se += d * d;
    sum += d;
  }
  const mse = se / ra.data.length;
  return { psnr: mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse), shift: sum / ra.data.length };
}

export async function int8(): Promise<string> {
  // Model-only throughput.
  const modelRows: Array<Array<string | number>> = [];
  for (const size of [256, 512]) {
    const r = await sideBySide(`model ${size}`, (p) => ['model', p, String(size), size > 256 ? '3' : '5']);
    const macs = r.last!.macsPerInputPixel!;
    const gflops = (ms: number) => fmt((2 * macs * size * size) / ms / 1e6, 0);
    modelRows.push([`${size}x${size}`, fmt(r.f, 0), fmt(r.q, 0), `${fmt(r.f / r.q, 2)}x`, `${gflops(r.f)} / ${gflops(r.q)}`, `${r.ms.fp32.map((x) => fmt(x, 0)).join(', ')} / ${r.ms.int8.map((x) => fmt(x, 0)).join(', ')}`]);
  }

  // End to end.
  const cases: Array<{ label: string; w: number; h: number; scale: string; runs: number }> = [
    { label: '512x512 at 4x', w: 512, h: 512, scale: '4', runs: 2 },
    { label: '1024x1024 at 2x', w: 1024, h: 1024, scale: '2', runs: 2 },
    ...(LARGE
      ? [
          { label: '4032x3024 (12 MP phone JPEG) at auto', w: 4032, h: 3024, scale: 'auto', runs: 1 },
          { label: '4096x4096 at 1x', w: 4096, h: 4096, scale: '1', runs: 1 },
        ]
      : []),
  ];
  const e2eRows: Array<Array<string | number>> = [];
  for (const c of cases) {
    const r = await sideBySide(c.label, (p) => ['e2e', p, String(c.w), String(c.h), c.scale, String(c.runs)]);
    e2eRows.push([c.label, `${r.last!.outWidth}x${r.last!.outHeight}`, fmt(r.f / 1000, 2), fmt(r.q / 1000, 2), `${fmt(r.f / r.q, 2)}x`, `${r.ms.fp32.map((x) => fmt(x / 1000, 1)).join(', ')} / ${r.ms.int8.map((x) => fmt(x / 1000, 1)).join(', ')}`]);
  }

  // Quality on the quality corpus (bench/quality.ts), FP32 and int8 in one process each.
  const engines = {
    fp32: await LocalEngine.open({ dataDir: TEST_DATA_DIR, threads: 0, preload: ['fast'], precision: { setting: 'fp32' } }),
    int8: await LocalEngine.open({ dataDir: TEST_DATA_DIR, threads: 0, preload: ['fast'], precision: { setting: 'int8' } }),
  };
  const qualityRows: Array<Array<string | number>> = [];
  try {
    for (const scale of [4, 2, 1] as ScaleFactor[]) {
      const s: Record<'fp32' | 'int8', Score[]> = { fp32: [], int8: [] };
      const vs: Array<{ psnr: number; shift: number }> = [];
      const vsNet: Array<{ psnr: number; shift: number }> = [];
      for (const name of QUALITY_IMAGES) {
        const clean = await sharp(await readFile(fixture('photos', name))).png().toBuffer();
        const degraded = await degrade(clean, scale);
        const out: Record<string, Uint8Array> = {};
        for (const p of ['fp32', 'int8'] as const) {
          out[p] = (await engines[p].enhance(degraded, { model: 'fast', scale, format: 'png' })).data;
          s[p].push(await score(out[p]!, clean));
          out[`${p}-net`] = (await engines[p].enhance(degraded, { model: 'fast', scale, format: 'png', strength: 1 })).data;
        }
        vs.push(await diff(out.int8!, out.fp32!));
        vsNet.push(await diff(out['int8-net']!, out['fp32-net']!));
      }
      const m = (xs: Score[]) => ({ psnr: xs.reduce((a, x) => a + x.psnr, 0) / xs.length, ssim: xs.reduce((a, x) => a + x.ssim, 0) / xs.length });
      const mf = m(s.fp32);
      const mq = m(s.int8);
      const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;
      qualityRows.push([
        `${scale}x`,
        `${fmt(mf.psnr, 2)} / ${fmt(mf.ssim, 4)}`,
        `${fmt(mq.psnr, 2)} / ${fmt(mq.ssim, 4)}`,
        fmt(mq.psnr - mf.psnr, 3),
        `${fmt(Math.min(...vs.map((v) => v.psnr)), 1)}-${fmt(Math.max(...vs.map((v) => v.psnr)), 1)} (${fmt(mean(vs.map((v) => v.shift)), 3)})`,
        `${fmt(Math.min(...vsNet.map((v) => v.psnr)), 1)}-${fmt(Math.max(...vsNet.map((v) => v.psnr)), 1)} (${fmt(mean(vsNet.map((v) => v.shift)), 3)})`,
      ]);
    }
  } finally {
    await engines.fp32.close();
    await engines.int8.close();
  }

  const calib = calibrationSet().map((c) => `${c.file.split('/').slice(-2).join('/')} x${c.crops}`).join(', ');
  return [
    '## int8 (fast network)',
    '',
    'FP32 against the int8 variant of `fast` (realesr-general-x4v3), built by the converter',
    '(`src/engine/models/quantize.ts`, `int8-model.ts`): QDQ with per-channel int8 weights and',
    `uint8 activations, which ONNX Runtime runs as QLinearConv (u8s8, VNNI). Calibration: ${INT8_RECIPE.cropSize} px crops of ${calib}`,
    `(none in the quality corpus), ranges clipped at the ${INT8_RECIPE.tailQuantile} tail, weight-error bias correction,`,
    'last conv in float. Each timing is a fresh process, FP32 and int8 alternating,',
    `${ROUNDS} round(s); medians over rounds, every round listed (FP32 / int8).`,
    '',
    'Model-only (one tensor from a real photo, no tiling):',
    '',
    table(['input', 'FP32 ms', 'int8 ms', 'speed-up', 'effective GFLOPS FP32 / int8', 'rounds ms (FP32 / int8)'], modelRows),
    '',
    'End to end (decode, analysis, tiling, network, fusion, encode; `LocalEngine`):',
    '',
    table(['input', 'output', 'FP32 s', 'int8 s', 'speed-up', 'rounds s (FP32 / int8)'], e2eRows),
    ...(LARGE ? [] : ['', '(12 MP and 4096 px cases skipped: INT8_BENCH_LARGE=0.)']),
    '',
    'Quality on the quality corpus (same degradations and scores as "Quality"): mean PSNR dB / SSIM',
    'against the clean originals at the default adaptive strength, the int8 - FP32 PSNR difference,',
    'and PSNR of the int8 output against the FP32 output (min-max over the images, mean shift in',
    "grey levels in brackets), at the default strength and for the network's output alone (strength 1):",
    '',
    table(['scale', 'FP32 PSNR / SSIM', 'int8 PSNR / SSIM', 'int8 - FP32 dB', 'int8 vs FP32 dB (shift)', 'network alone: int8 vs FP32 dB (shift)'], qualityRows),
    '',
    `Targets (issue 15): >= 1.8x model-only, >= 1.6x end to end, <= 0.1 dB loss against ground truth, >= ${INT8_MIN_PSNR_DB} dB`,
    'against the FP32 output and |mean shift| < 0.2 grey levels. The start-time check (`precision.ts`) applies the last two',
    'to a fixed 96 px crop; `auto` keeps FP32 while it fails.',
    '',
    `Reproduce: \`npm run bench -- int8\` (INT8_BENCH_ROUNDS=${ROUNDS}${LARGE ? '' : ', INT8_BENCH_LARGE=0'}).`,
  ].join('\n');
}
