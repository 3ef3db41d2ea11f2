import type { EngineConfig } from './engine-config.js';
import { checkInt8Final, checkRestoreInt8Final } from './int8-check.js';
import type { Int8Network } from './models/int8-selector.js';
import { prepareInt8Model } from './models/int8-model.js';
import { MODELS } from './models/model-registry.js';
import { prepareRestoreInt8, restoreModelPath } from './models/restore-model.js';

/**
 * The two networks with an int8 variant (README, "int8"): Real-ESRGAN's `fast` (2x/4x)
 * and ClearShot's 1x restoration network. Both follow CLEARSHOT_PRECISION and a
 * request's `precision`; each has its own start-time check on the final images.
 */
export function fastInt8(config: Pick<EngineConfig, 'dataDir' | 'modelSourceDir' | 'threads'>, fp32Path: () => Promise<string>): Int8Network {
  return {
    label: 'fast network',
    fp32Path,
    int8Model: () => prepareInt8Model(MODELS.fast, config.dataDir, config.modelSourceDir ?? undefined, { threads: config.threads ?? 0 }),
    check: checkInt8Final,
    // At 1x the upscaler's int8 error is not hidden by an enlargement: measured against
    // ground truth it took 0.1-0.7 dB of the gain on phone and damaged photos although its
    // final images were 46-52 dB from FP32's (README, "int8"). `auto` keeps 1x in FP32.
    autoScales: [2, 4],
  };
}

export function restoreInt8(config: Pick<EngineConfig, 'dataDir' | 'threads'>): Int8Network {
  return {
    label: 'restoration network',
    fp32Path: () => Promise.resolve(restoreModelPath()),
    int8Model: () => prepareRestoreInt8(config.dataDir, config.threads ?? 0),
    check: checkRestoreInt8Final,
  };
}
