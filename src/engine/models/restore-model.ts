import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ClearShotError } from '../../errors/index.js';
import { calibrate, calibrationCrops, rangesFrom } from './calibrate.js';
import { calibrationSet, INT8_RECIPE } from './int8-model.js';
import { cacheConverted, type CachedModel } from './model-store.js';
import { packageRoot } from './package-root.js';
import { convNodes, quantizeModel } from './quantize.js';

/**
 * ClearShot's own 1x restoration network (issue 23): trained in this repository from
 * photographs in Debian packages and graphics drawn by code (training/, docs/TRAINING.md),
 * exported to ONNX and committed as `models/restore-1x.onnx`. It restores a photo at its
 * own resolution (JPEG blocks and ringing, noise, mild blur) and returns the input plus
 * a residual, so `strength` scales that residual.
 *
 * Layout: pixel-unshuffle 2, eight 3x3 convolutions of 48 channels with PReLU at half
 * resolution (the trained multi-branch blocks merged into single convolutions),
 * pixel-shuffle 2, global residual: ~34 k multiply-adds per pixel, 135 k parameters.
 */
export interface RestoreModelSpec {
  readonly file: string;
  /** Input sides must be multiples of this (the pixel-unshuffle factor). */
  readonly multiple: number;
  /** Largest inner tile edge in pixels (a multiple of `multiple`). */
  readonly tileSize: number;
  /** Context pixels around each tile (a multiple of `multiple`); chosen by the seam benchmark. */
  readonly overlap: number;
  readonly description: string;
}

export const RESTORE_MODEL: RestoreModelSpec = {
  file: 'models/restore-1x.onnx',
  multiple: 2,
  // 512 px tiles: a 12 MP photo runs as 24 tiles of ~1 MB tensors; larger tiles gained
  // nothing measurable (docs/BENCHMARKS.md, "Restoration network").
  tileSize: 512,
  overlap: 16,
  description: 'ClearShot restore-1x (trained here: training/, 135 k parameters)',
};

/** Path of the committed ONNX file (fails clearly when the package lacks it). */
export function restoreModelPath(spec: RestoreModelSpec = RESTORE_MODEL): string {
  const path = join(packageRoot(), spec.file);
  if (!existsSync(path)) throw new ClearShotError('MODEL_FAILURE', `the restoration network ${spec.file} is missing from the package (it is committed in the repository)`);
  return path;
}

/**
 * The int8 variant of the restoration network through the same quantizer as `fast`'s
 * (quantize.ts: per-channel int8 weights, uint8 activations calibrated on the same
 * fixed photo crops, the last convolution in float), built once and cached under
 * `<dataDir>/models`, keyed by the FP32 file, the recipe and the calibration photos.
 */
export async function prepareRestoreInt8(dataDir: string, threads = 0, spec: RestoreModelSpec = RESTORE_MODEL): Promise<CachedModel> {
  const fp32 = new Uint8Array(await readFile(restoreModelPath(spec)));
  const set = calibrationSet();
  const photos = await Promise.all(set.map((c) => readFile(c.file)));
  const recipe = JSON.stringify({ ...INT8_RECIPE, crops: set.map((c) => c.crops) });
  return cacheConverted(dataDir, 'restore-1x-int8', [fp32, recipe, ...photos], async () => {
    const crops = await calibrationCrops(set, INT8_RECIPE.cropSize);
    const { samples, means } = await calibrate(fp32, crops, 60000, threads);
    const convs = convNodes(fp32);
    const floatConvs = new Set(INT8_RECIPE.floatLastConv ? [convs[convs.length - 1]!.name] : []);
    const bytes = quantizeModel(fp32, rangesFrom(samples, INT8_RECIPE.tailQuantile), { floatConvs, inputMeans: means, weightClip: true });
    return { bytes, macsPerInputPixel: 0, scale: 1, layerCounts: {} };
  });
}
