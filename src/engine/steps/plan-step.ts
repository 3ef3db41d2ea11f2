import { chooseRestoration, preDownscale1x, restoreStrategyFor } from '../adapt/policy.js';
import { DEFAULT_RESTORE_1X } from '../types.js';
import { MODELS } from '../models/model-registry.js';
import { RESTORE_MODEL } from '../models/restore-model.js';
import { DEFAULT_PRE_DOWNSCALE, planScale } from '../scale-plan.js';
import type { EnhanceContext, Step } from './context.js';

/**
 * How much of the network to use (`strength`, chosen from the analysis unless the
 * request says) and how: at 1x the restoration network at the photo's own size (on
 * damaged photos with CLEARSHOT_RESTORE_1X=auto, on all with `network`); at 2x and 4x
 * (and at 1x otherwise) the x4 network, its output resized to the target and fused with
 * the classical image.
 */
export const planStep: Step = {
  name: 'plan',
  run(c: EnhanceContext) {
    const decoded = c.need('decoded');
    const analysis = c.need('analysis');
    const scale = c.need('scale');
    const output = { width: decoded.width * scale, height: decoded.height * scale };
    const restore = scale === 1 && c.deps.restorer !== undefined && restoreStrategyFor(analysis, c.deps.restore1x ?? DEFAULT_RESTORE_1X) === 'network';
    c.restoration = chooseRestoration(analysis, scale, c.fixFaceOnly ? 0 : c.options.strength, restore ? 'network' : 'upscaler');
    if (restore) {
      c.plan = { kind: 'restore', model: RESTORE_MODEL, output };
      return;
    }
    const model = MODELS[c.options.model ?? 'fast'];
    const tuning = c.deps.tuning;
    const preDownscale = tuning?.preDownscale ?? { ...DEFAULT_PRE_DOWNSCALE, 1: preDownscale1x(analysis) };
    c.plan = { kind: 'upscale', model, output, scale: planScale(decoded.width, decoded.height, scale, model.netScale, { preDownscale, maxNetPixels: tuning?.maxNetPixels }) };
  },
};
