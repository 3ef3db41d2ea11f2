import { resizeRaster, rgbToGray } from '../image/raster.js';
import type { EnhanceContext, Step } from './context.js';

/** Back to gray for a gray input; alpha resized on its own (never fed to a network as colour). */
export const finishStep: Step = {
  name: 'finish',
  async run(c: EnhanceContext) {
    const decoded = c.need('decoded');
    const output = c.need('output');
    const size = c.need('plan').output;
    c.finalColor = decoded.color.channels === 1 ? rgbToGray(output) : output;
    // A smooth classical filter keeps transparent edges clean.
    if (decoded.alpha) c.alpha = await resizeRaster(decoded.alpha, size.width, size.height, 'mitchell');
  },
};
