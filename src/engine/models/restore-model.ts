import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ClearShotError } from '../../errors/index.js';
import { packageRoot } from './package-root.js';

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
