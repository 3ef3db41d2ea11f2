import type { ScaleFactor } from '../types.js';
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

export function autoStrength(a: ImageAnalysis, scale: ScaleFactor): number {
  const d = degradation(a);
  const s = scale === 1 ? 0.15 + 0.6 * d : scale === 2 ? 0.7 + 0.3 * d : 0.6 + 0.3 * d;
  return Math.round(clamp01(s) * 100) / 100;
}

export function chooseRestoration(a: ImageAnalysis, scale: ScaleFactor, requested: number | undefined): Restoration {
  const d = Math.round(degradation(a) * 100) / 100;
  if (requested !== undefined) return { strength: clamp01(requested), auto: false, degradation: d };
  return { strength: autoStrength(a, scale), auto: true, degradation: d };
}

/**
 * Pre-downscale at 1x. With the fusion keeping the input's own detail, a badly damaged
 * input loses nothing to a 2x pre-shrink (the same +2 dB, 1.8x less compute); a mild
 * one keeps the 1.5 of the scale-strategy benchmark (0.15 dB better than 2).
 */
export function preDownscale1x(a: ImageAnalysis): number {
  return degradation(a) >= 0.6 ? 2 : 1.5;
}
