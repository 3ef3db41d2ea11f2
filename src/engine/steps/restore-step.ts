import type { EnhanceContext, Step } from './context.js';
import { restoreWithNetwork } from './restore-network.js';
import { upscaleAndFuse } from './upscale.js';

/** The network step: the 1x restoration network, or the x4 upscaler with its fusion. */
export const restoreStep: Step = {
  name: 'restore',
  async run(c: EnhanceContext) {
    const plan = c.need('plan');
    if (plan.kind === 'restore') await restoreWithNetwork(c, plan);
    else await upscaleAndFuse(c, plan);
  },
};
