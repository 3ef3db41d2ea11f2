import { join } from 'node:path';
import sharp from 'sharp';
import { photosDir } from './models/int8-model.js';
import { openSession, type ModelSession } from './models/onnx-session.js';
import type { OutputComparison } from './models/precision.js';
import { enhance, type PipelineDeps } from './pipeline.js';
import type { ScaleFactor } from './types.js';

/**
 * The int8 start-time check on what the user receives (issue 21): the same fixed inputs
 * through the whole pipeline at the default (auto) strength, once with the FP32 fast
 * network and once with its int8 variant, and the two final 8-bit images compared
 * (PSNR and mean shift, against the thresholds of models/precision.ts). The network's raw
 * output differs more than the result does: the fusion with the classical image takes
 * only part of the network's change, and the int8 error with it.
 *
 * Inputs: crops of test/fixtures/photos/coffee.jpg (a photo the calibration never sees):
 * for the fast network two saved as JPEG q85 the way phones keep photos, at 4x (96 px)
 * and 2x (160 x 120 px); for the restoration network two at 1x, a q85 and a q50 one.
 */
type Case = { left: number; top: number; width: number; height: number; scale: ScaleFactor; quality: number };
/** The fast network's cases: 4x and 2x (where it runs). */
const FAST_CASES: readonly Case[] = [
  { left: 200, top: 100, width: 96, height: 96, scale: 4, quality: 85 },
  { left: 40, top: 60, width: 160, height: 120, scale: 2, quality: 85 },
];
/** The restoration network's: 1x, a phone-quality and a damaged JPEG. */
const RESTORE_CASES: readonly Case[] = [
  { left: 40, top: 60, width: 256, height: 192, scale: 1, quality: 85 },
  { left: 200, top: 100, width: 192, height: 192, scale: 1, quality: 50 },
];

async function checkInputs(cases: readonly Case[]): Promise<Array<{ bytes: Buffer; scale: ScaleFactor }>> {
  const file = join(photosDir(), 'coffee.jpg');
  return Promise.all(
    cases.map(async (c) => ({
      bytes: await sharp(file).extract({ left: c.left, top: c.top, width: c.width, height: c.height }).jpeg({ quality: c.quality }).toBuffer(),
      scale: c.scale,
    })),
  );
}

async function finalOutputs(deps: PipelineDeps, inputs: Array<{ bytes: Buffer; scale: ScaleFactor }>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (const input of inputs) {
    const r = await enhance(input.bytes, { scale: input.scale, format: 'png' }, deps);
    out.push(new Uint8Array(await sharp(r.data).removeAlpha().raw().toBuffer()));
  }
  return out;
}

/** PSNR and mean shift of one set of 8-bit images against another, over all their samples. */
export function compareImages(candidate: readonly Uint8Array[], reference: readonly Uint8Array[]): OutputComparison {
  let se = 0;
  let sum = 0;
  let n = 0;
  for (const [k, ref] of reference.entries()) {
    const cand = candidate[k]!;
    if (cand.length !== ref.length) throw new Error(`output sizes differ: ${cand.length} vs ${ref.length}`);
    for (let i = 0; i < ref.length; i++) {
      const d = cand[i]! - ref[i]!;
      se += d * d;
      sum += d;
    }
    n += ref.length;
  }
  const mse = se / n;
  return { psnr: mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse), shift: sum / n };
}

/** Final outputs with the int8 model against those with the FP32 model (paths of the two ONNX files). */
async function compareFinal(fp32: string, int8: string, threads: number, cases: readonly Case[], deps: (session: ModelSession) => PipelineDeps): Promise<OutputComparison> {
  const inputs = await checkInputs(cases);
  const outputs: Uint8Array[][] = [];
  for (const model of [fp32, int8]) {
    const session = await openSession(model, { threads });
    try {
      outputs.push(await finalOutputs(deps(session), inputs));
    } finally {
      await session.release();
    }
  }
  return compareImages(outputs[1]!, outputs[0]!);
}

/** The fast network's check: its cases at 4x and 2x, with the fusion. */
export function checkInt8Final(fp32: string, int8: string, threads = 0): Promise<OutputComparison> {
  return compareFinal(fp32, int8, threads, FAST_CASES, (session) => ({ session: async () => session }));
}

/** The restoration network's check: its cases at 1x (auto strength). */
export function checkRestoreInt8Final(fp32: string, int8: string, threads = 0): Promise<OutputComparison> {
  return compareFinal(fp32, int8, threads, RESTORE_CASES, (session) => ({
    session: () => Promise.reject(new Error('the restoration check runs at 1x only')),
    restorer: async () => session,
    restore1x: 'network',
  }));
}
