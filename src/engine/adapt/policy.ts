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

/** Damage in [0, 1]: the worst of compression, noise and blur. */
export function degradation(a: ImageAnalysis): number {
  const q = a.jpegQuality === undefined ? 0 : clamp01((95 - a.jpegQuality) / 55);
  const noise = clamp01((a.noise - 1) / 5);
  const blur = clamp01((0.42 - a.sharpness) / 0.15);
  return Math.max(q, noise, blur);
}

/**
 * Auto strength at 1x with the restoration network: its residual is trained to be ~0 on
 * a clean photo, so the weight only needs to hold back what little it changes on a
 * near-clean one (docs/BENCHMARKS.md, "Restoration network": strength sweeps per
 * degradation on the 12 benchmark photos).
 */
export const RESTORE_1X_CURVE = { clean: 0.5, damaged: 1, knee: 0.35 } as const;

export function autoStrength(a: ImageAnalysis, scale: ScaleFactor, oneX: Restore1xStrategy = 'upscaler'): number {
  const d = degradation(a);
  let s: number;
  if (scale === 1 && oneX === 'network') {
    const { clean, damaged, knee } = RESTORE_1X_CURVE;
    s = clean + (damaged - clean) * Math.min(1, d / knee);
  } else s = scale === 1 ? 0.15 + 0.6 * d : scale === 2 ? 0.7 + 0.3 * d : 0.6 + 0.3 * d;
  return Math.round(clamp01(s) * 100) / 100;
}

export function chooseRestoration(a: ImageAnalysis, scale: ScaleFactor, requested: number | undefined, oneX: Restore1xStrategy = 'upscaler'): Restoration {
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
