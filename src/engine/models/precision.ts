import { join } from 'node:path';
import { cropOf } from './calibrate.js';
import { cpuFeatures } from './cpu-features.js';
import { photosDir } from './int8-model.js';
import { openSession } from './onnx-session.js';
import { INT8_MIN_PSNR_DB, PRECISION_SETTINGS, type Precision, type PrecisionSetting } from '../types.js';

/**
 * Which numeric precision runs the fast network: `CLEARSHOT_PRECISION` (README,
 * "Configuration") and the per-request `precision` field.
 *
 * `auto` picks int8 only where the CPU has VNNI and the int8 model passes its check at
 * load: its output on a fixed input (a 96 px crop of test/fixtures/photos/coffee.jpg,
 * a photo the calibration never sees) must reach {@link INT8_MIN_PSNR_DB} against the
 * FP32 output, with a mean shift under {@link INT8_MAX_SHIFT} grey levels. Otherwise it
 * keeps FP32 and logs why. Only the `fast` network has an int8 variant.
 */
export { PRECISION_SETTINGS, INT8_MIN_PSNR_DB, type Precision, type PrecisionSetting };

/** The check's bar on the mean shift, in 8-bit grey levels (with INT8_MIN_PSNR_DB against the FP32 output). */
export const INT8_MAX_SHIFT = 0.2;

export interface OutputComparison {
  /** PSNR in dB of the 8-bit outputs (clipped to [0, 1], rounded). */
  readonly psnr: number;
  /** Mean of (candidate - reference) in 8-bit grey levels. */
  readonly shift: number;
  /** Set when the measurement was kept from an earlier start: the file it was read from (int8-check-cache.ts). */
  readonly cachedIn?: string;
}

/** Compares two planar float outputs as 8-bit pictures. */
export function compareOutputs(candidate: Float32Array, reference: Float32Array): OutputComparison {
  if (candidate.length !== reference.length) throw new Error(`output sizes differ: ${candidate.length} vs ${reference.length}`);
  let se = 0;
  let sum = 0;
  for (let i = 0; i < candidate.length; i++) {
    const d = Math.round(Math.min(1, Math.max(0, candidate[i]!)) * 255) - Math.round(Math.min(1, Math.max(0, reference[i]!)) * 255);
    se += d * d;
    sum += d;
  }
  const mse = se / candidate.length;
  return { psnr: mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse), shift: sum / candidate.length };
}

/** Runs both models on the fixed check input and compares the outputs. */
export async function checkInt8(fp32: string | Uint8Array, int8: string | Uint8Array, threads = 0): Promise<OutputComparison> {
  const crop = await cropOf(join(photosDir(), 'coffee.jpg'), 200, 100, 96);
  const outputs: Float32Array[] = [];
  for (const model of [fp32, int8]) {
    const session = await openSession(model, { threads });
    try {
      outputs.push((await session.run(crop.data, 3, crop.height, crop.width)).data);
    } finally {
      await session.release();
    }
  }
  return compareOutputs(outputs[1]!, outputs[0]!);
}

export interface PrecisionDecision {
  readonly precision: Precision;
  /** One line for the log: what was chosen and why. */
  readonly reason: string;
  readonly check?: OutputComparison;
}

export interface DecideOptions {
  readonly setting: PrecisionSetting;
  /** How the log line names the network (default `fast network`). */
  readonly label?: string;
  /** Pretend the CPU has no VNNI (CLEARSHOT_INT8_ASSUME_NO_VNNI), to exercise the fallback. */
  readonly assumeNoVnni?: boolean;
  /** Override the detected CPU features (tests). */
  readonly vnni?: boolean;
  readonly minPsnr?: number;
  /** Prepares the int8 model and compares it with FP32 (only called when needed). */
  readonly check: () => Promise<OutputComparison>;
}

export async function decidePrecision(o: DecideOptions): Promise<PrecisionDecision> {
  const label = o.label ?? 'fast network';
  if (o.setting === 'fp32') return { precision: 'fp32', reason: `${label} precision fp32 (CLEARSHOT_PRECISION=fp32)` };
  if (o.setting === 'int8') return { precision: 'int8', reason: `${label} precision int8 (CLEARSHOT_PRECISION=int8, forced: no VNNI or quality check)` };
  const cpu = cpuFeatures();
  const vnni = !o.assumeNoVnni && (o.vnni ?? cpu.vnni);
  if (!vnni) {
    const why = o.assumeNoVnni ? 'CLEARSHOT_INT8_ASSUME_NO_VNNI is set' : `the CPU has no AVX512-VNNI/AVX-VNNI${cpu.flags.length ? ` (flags: ${cpu.flags.join(' ')})` : ''}`;
    return { precision: 'fp32', reason: `${label} precision fp32 (auto: ${why})` };
  }
  const min = o.minPsnr ?? INT8_MIN_PSNR_DB;
  let check: OutputComparison;
  try {
    check = await o.check();
  } catch (err) {
    return { precision: 'fp32', reason: `${label} precision fp32 (auto: the int8 model could not be prepared: ${(err as Error).message})` };
  }
  const measured = `${check.psnr.toFixed(2)} dB vs FP32, mean shift ${check.shift.toFixed(3)} grey levels${check.cachedIn ? `, measured at an earlier start: ${check.cachedIn}` : ''}`;
  if (check.psnr < min || Math.abs(check.shift) >= INT8_MAX_SHIFT) {
    return { precision: 'fp32', check, reason: `${label} precision fp32 (auto: the int8 check failed: ${measured}; needs >= ${min} dB and |shift| < ${INT8_MAX_SHIFT})` };
  }
  return { precision: 'int8', check, reason: `${label} precision int8 (auto: VNNI present, check passed: ${measured})` };
}
