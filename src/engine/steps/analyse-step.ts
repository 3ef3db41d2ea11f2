import { analyzeImage } from '../adapt/analysis.js';
import { DECODE_END, type EnhanceContext, type Step } from './context.js';

/** No-reference measurements of the input: JPEG quality, noise, sharpness, blocking. */
export const analyseStep: Step = {
  name: 'analysis',
  run(c: EnhanceContext) {
    const decoded = c.need('decoded');
    c.analysis = analyzeImage(decoded.color, c.bytes, decoded.format);
    c.report(DECODE_END);
  },
};
