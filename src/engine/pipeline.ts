import { throwIfAborted } from './tile-runner.js';
import { analyseStep } from './steps/analyse-step.js';
import { EnhanceContext, type PipelineDeps, type Step } from './steps/context.js';
import { decodeStep } from './steps/decode-step.js';
import { encodeStep } from './steps/encode-step.js';
import { facesStep } from './steps/faces-step.js';
import { finishStep } from './steps/finish-step.js';
import { planStep } from './steps/plan-step.js';
import { restoreStep } from './steps/restore-step.js';
import type { EnhanceOptions, EnhanceResult } from './types.js';

export type { PipelineDeps } from './steps/context.js';

/**
 * The enhancement pipeline: a list of named steps over one context (steps/), each in
 * its own file, the abort signal checked between them (and between tiles inside the
 * network step). Pure apart from the sessions in `deps`: no HTTP, no storage, no globals.
 *
 *   decode   bytes -> upright raster, alpha, ICC, EXIF; target scale and its limits
 *   analysis JPEG quality, noise, sharpness, blocking of the input
 *   plan     strength (auto from the analysis) and how: 1x restoration network or x4 upscaler
 *   restore  the network in tiles; 1x: input + strength x residual; 2x/4x: fusion with Lanczos
 *   faces    type=face: faces restored and blended (or fused) into the result
 *   finish   gray back to gray, alpha resized on its own
 *   encode   the output format, ICC and EXIF kept
 */
export const STEPS: readonly Step[] = [decodeStep, analyseStep, planStep, restoreStep, facesStep, finishStep, encodeStep];

export async function enhance(bytes: Uint8Array, options: EnhanceOptions, deps: PipelineDeps): Promise<EnhanceResult> {
  const c = new EnhanceContext(bytes, options, deps);
  for (const step of STEPS) {
    throwIfAborted(options.signal);
    await step.run(c);
    c.lap(step.name);
  }
  return result(c);
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

function result(c: EnhanceContext): EnhanceResult {
  const decoded = c.need('decoded');
  const plan = c.need('plan');
  const encoded = c.need('encoded');
  const analysis = c.need('analysis');
  const restoration = c.need('restoration');
  const usedNetwork = c.timings.inference !== undefined;
  return {
    data: encoded.data,
    format: encoded.format,
    contentType: encoded.contentType,
    width: plan.output.width,
    height: plan.output.height,
    inputWidth: decoded.width,
    inputHeight: decoded.height,
    inputFormat: decoded.format,
    scale: c.need('scale'),
    model: c.options.model ?? 'fast',
    notes: [...c.notes, ...encoded.notes],
    ...(c.faces ? { faces: c.faces } : {}),
    analysis: {
      jpegQuality: analysis.jpegQuality,
      jpegQualitySource: analysis.jpegQualitySource,
      noise: round(analysis.noise, 2),
      sharpness: round(analysis.sharpness, 3),
      blocking: round(analysis.blocking, 3),
    },
    restoration: {
      ...restoration,
      preDownscale: usedNetwork && plan.kind === 'upscale' ? round(plan.scale.preDownscale, 3) : 1,
      network: plan.kind === 'restore' ? 'restore-1x' : plan.model.name,
    },
    timings: c.timings,
  };
}
