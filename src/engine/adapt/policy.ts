import type { Restore1xStrategy, ScaleFactor } from '../types.js';
import type { ImageAnalysis } from './analysis.js';

/**
 * How strongly the network's output is used, chosen from the input's analysis
 * (issue 12). Every constant here was picked on the real-photo benchmark
 * (docs/BENCHMARKS.md, "Adaptive enhancement": strength sweeps per degradation), not
 * guessed:
 *
 * - 1x: the input is the best estimate of itself, so a clean photo gets a light touch
 *   (0.15 at q95: +0.1 dB, SSIM never below the input's) and the weight grows with
 *   the damage: ~0.37 for JPEG q75 (+0.3 dB), 0.75 for blur + noise + q40 (+2 dB;
 *   the network alone gains less, 0.8 dB, because it also repaints real texture).
 * - 2x and 4x: the classical image (Lanczos) is blurred, so the network is worth more:
 *   0.75 at 2x and 0.65 at 4x on q85 inputs, after the consistency gate (fusion.ts), beat
 *   Lanczos by 1.3 and 0.7 dB on the mean with more sharpness and SSIM at least Lanczos's
 *   on every corpus photo, where the network alone lost 1.3 and 2.1 dB. (4x was 0.55
 *   before the gate: without it 0.65 put two photos below Lanczos on SSIM.)
 */
export interface Restoration {
  /** Weight of the network, 0-1 (see fusion.ts). */
  readonly strength: number;
  /** True when `strength` was chosen here rather than by the request. */
  readonly auto: boolean;
  /** The input's damage, 0 (clean) to 1 (JPEG q40 or worse, or strong noise/blur). */
  readonly degradation: number;
}

const clamp01 = (x: number) => Math.min(1, Math.max(0, x));

/** The input's damage by kind, each in [0, 1] (1 = JPEG q40 or worse, noise sigma 6, strong blur). */
export function damage(a: ImageAnalysis): { jpeg: number; noise: number; blur: number } {
  return {
    jpeg: a.jpegQuality === undefined ? 0 : clamp01((95 - a.jpegQuality) / 55),
    noise: clamp01((a.noise - 1) / 5),
    blur: clamp01((0.42 - a.sharpness) / 0.15),
  };
}

/** Damage in [0, 1]: the worst of compression, noise and blur. */
export function degradation(a: ImageAnalysis): number {
  const d = damage(a);
  return Math.max(d.jpeg, d.noise, d.blur);
}

/**
 * Auto strength at 1x with the restoration network, from its strength sweep on the 12
 * benchmark photos at their own size (docs/BENCHMARKS.md, "Restoration network (1x)";
 * Δ PSNR mean / worst photo):
 * - clean (JPEG q95, damage 0): 0.25 (+0.03 / -0.05 dB; 0.5 already lost 0.30 on a
 *   macro photo's soft edges, 1 lost 3.65);
 * - phone (q75, JPEG damage 0.36): 0.75 (+0.21 / +0.06; at 1 one photo lost 1.23 dB);
 * - heavy (blur + noise 4 + q40, damage 1): 1 (+0.79 / +0.17);
 * - noisy (colour noise sigma 8 + q90: the measured luma noise 1.6-3.7 levels, noise
 *   damage 0.13-0.53, JPEG damage 0.09): 1 (+6.3 / +2.7; 0.75 gave +4.9). A clean photo's
 *   own grain measured at most 1.5 levels (0.1), where 0.7 still gained (+0.35 dB).
 * Each kind of damage has its own ramp and the largest strength wins.
 */
export const RESTORE_1X_CURVE = { clean: 0.25, phone: 0.75, phoneDamage: 0.36, damaged: 1, noiseFrom: 0.05, noiseFull: 0.13 } as const;

function restoreStrength(a: ImageAnalysis): number {
  const { clean, phone, phoneDamage, damaged, noiseFrom, noiseFull } = RESTORE_1X_CURVE;
  const d = damage(a);
  const ramp = (x: number) => (x <= phoneDamage ? clean + ((phone - clean) * x) / phoneDamage : phone + ((damaged - phone) * (x - phoneDamage)) / (1 - phoneDamage));
  const fromNoise = clean + (damaged - clean) * clamp01((d.noise - noiseFrom) / (noiseFull - noiseFrom));
  return Math.max(ramp(d.jpeg), ramp(d.blur), fromNoise);
}

/**
 * CLEARSHOT_RESTORE_1X=auto: which 1x path a photo takes. The restoration network where
 * the analysis measures noise (luma noise sigma 1.5 levels or more, noise damage >= 0.1),
 * the upscaler path elsewhere. Measured on the 12 benchmark photos (docs/BENCHMARKS.md,
 * "Restoration network (1x)"): on noisy photos (measured 1.6-3.7 levels) the network
 * gained +6.3 dB on the mean and at least +2.7 on every photo, the upscaler path +2.4 and
 * +1.2; on clean, phone and blurred-and-compressed photos (0-1.5 levels) the network was
 * level with the upscaler path at best and up to 0.6 dB behind its FP32 result.
 */
export const RESTORE_NETWORK_MIN_NOISE = 0.1;

export function restoreStrategyFor(a: ImageAnalysis, setting: Restore1xStrategy): 'network' | 'upscaler' {
  if (setting !== 'auto') return setting;
  return damage(a).noise >= RESTORE_NETWORK_MIN_NOISE ? 'network' : 'upscaler';
}

export function autoStrength(a: ImageAnalysis, scale: ScaleFactor, oneX: 'network' | 'upscaler' = 'upscaler'): number {
  const d = degradation(a);
  const s = scale === 1 && oneX === 'network' ? restoreStrength(a) : scale === 1 ? 0.15 + 0.6 * d : scale === 2 ? 0.7 + 0.3 * d : 0.6 + 0.3 * d;
  return Math.round(clamp01(s) * 100) / 100;
}

export function chooseRestoration(a: ImageAnalysis, scale: ScaleFactor, requested: number | undefined, oneX: 'network' | 'upscaler' = 'upscaler'): Restoration {
  const d = Math.round(degradation(a) * 100) / 100;
  if (requested !== undefined) return { strength: clamp01(requested), auto: false, degradation: d };
  return { strength: autoStrength(a, scale, oneX), auto: true, degradation: d };
}

/**
 * Pre-downscale at 1x. With the fusion keeping the input's own detail, a badly damaged
 * input loses nothing to a 2x pre-shrink (the same +2 dB, 1.8x less compute); a mild
 * one keeps the 1.5 of the scale-strategy benchmark (0.15 dB better than 2).
 */
export function preDownscale1x(a: ImageAnalysis): number {
  return degradation(a) >= 0.6 ? 2 : 1.5;
}

/**
 * Network strength inside the face masks of `type=face`. Faces are smooth, and there
 * the network's repair of blur and JPEG damage is worth more than on moss or grain; the
 * 1x curve above, tuned on landscapes, holds it back too much on a damaged face. At 1x
 * the face region gets 0.15 + damage (at least the photo's strength): measured on 23
 * faces with ground truth (docs/BENCHMARKS.md, "Face enhancement"), blur + JPEG q60
 * (damage 0.64, photo strength 0.53) gained 0.5 dB inside the face box at 0.73-0.75
 * over the photo's strength, a q75 face (0.36) was level with the clean path or better
 * on every face at 0.47, and a clean face (q95) keeps 0.15; at 0.75 for all it lost 2.8 dB. At 2x and 4x the photo's strength already starts at 0.6-0.7 and is kept.
 */
export function faceRegionStrength(r: Restoration, scale: ScaleFactor): number {
  if (scale !== 1) return r.strength;
  return Math.round(clamp01(Math.max(r.strength, 0.15 + r.degradation)) * 100) / 100;
}
