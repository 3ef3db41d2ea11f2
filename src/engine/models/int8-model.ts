import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ClearShotError } from '../../errors/index.js';
import { calibrate, calibrationCrops, rangesFrom } from './calibrate.js';
import type { ModelSpec } from './model-registry.js';
import { cacheConverted, defaultSourceDir, FACE_FIDELITY_PACKAGE, type CachedModel } from './model-store.js';
import { convertNcnnToOnnx, type ConvertedModel } from './ncnn-to-onnx.js';
import { packageRoot } from './package-root.js';
import { convNodes, quantizeModel } from './quantize.js';

/**
 * The int8 variant of a converted network (issue 15; docs/BENCHMARKS.md, "int8").
 *
 * Recipe, each step chosen by measurement (bench/int8-lab.ts):
 * - PReLU lowered as max(z, a*z) with sign flips folded into the neighbouring convs
 *   (exact in FP32): two elementwise passes, layout-agnostic, so ONNX Runtime keeps the
 *   trunk in the NHWC layout of its int8 convolutions (the BatchNormalization lowering
 *   of the FP32 model made it transpose around every conv: 13% of a run).
 * - Per-channel symmetric int8 weights (clipping searched for the least squared
 *   error), uint8 per-tensor activations, int32 biases: QDQ that ORT fuses to QLinearConv.
 * - Activation ranges from the FP32 graph on fixed crops of {@link calibrationSet}
 *   (never the photos the benchmarks score), clipped at the 5e-5 tail
 *   quantile on each side (better than min/max and than a least-squares choice).
 * - Weight-error bias correction with the calibrated per-channel input means (removes
 *   most of the brightness shift).
 * - The last conv in float: its output is added to the picture directly.
 */
export const INT8_RECIPE = {
  version: 1,
  lowering: 'max-prelu',
  cropSize: 128,
  tailQuantile: 5e-5,
  floatLastConv: true,
  weightClip: 'mse',
  biasCorrection: 'weight-error',
} as const;

/**
 * Calibration photos, none of them in the quality corpus the int8 benchmark scores
 * (astronaut, coffee, chelsea, camera): the repository's test/fixtures/photos/aitzgorri.jpg
 * (CC-BY-4.0), and photos that pinned dependencies ship: the flower of
 * `@upscalerjs/esrgan-medium` (assets/fixture.png, MIT) and the six demo photos of
 * `@vladmandic/face-api` (demo/sample1-6.jpg: people indoors and out, MIT package).
 * Fixed grid crops of each; a photo that is missing is skipped (and changes the hash).
 */
export function calibrationSet(): Array<{ file: string; crops: number }> {
  const set = [{ file: join(photosDir(), 'aitzgorri.jpg'), crops: 4 }];
  const flower = packageFile(FACE_FIDELITY_PACKAGE, 'assets/fixture.png');
  if (flower) set.push({ file: flower, crops: 1 });
  for (let i = 1; i <= 6; i++) {
    const demo = packageFile('@vladmandic/face-api', `demo/sample${i}.jpg`);
    if (demo) set.push({ file: demo, crops: 2 });
  }
  return set;
}

/** `test/fixtures/photos` of the package root. */
export function photosDir(): string {
  return join(packageRoot(), 'test', 'fixtures', 'photos');
}

/** A file inside an installed package (walking up from its entry point), or undefined. */
function packageFile(pkg: string, path: string): string | undefined {
  try {
    let dir = dirname(createRequire(import.meta.url).resolve(pkg));
    for (;;) {
      if (existsSync(join(dir, path))) return join(dir, path);
      if (existsSync(join(dir, 'package.json')) || dirname(dir) === dir) return undefined;
      dir = dirname(dir);
    }
  } catch {
    return undefined;
  }
}

export function calibrationFiles(): string[] {
  return calibrationSet().map((c) => c.file);
}

export interface Int8BuildOptions {
  /** Images and crops per image (default {@link calibrationSet}). */
  readonly set?: ReadonlyArray<{ readonly file: string; readonly crops: number }>;
  readonly cropSize?: number;
  readonly threads?: number;
}

/** Converts, calibrates and quantizes; the result's input and output match the FP32 model's. */
export async function buildInt8(param: string, bin: Uint8Array, source: string, options: Int8BuildOptions = {}): Promise<ConvertedModel> {
  const lowered = convertNcnnToOnnx(param, bin, source, { maxPRelu: true });
  const crops = await calibrationCrops(options.set ?? calibrationSet(), options.cropSize ?? INT8_RECIPE.cropSize);
  const { samples, means } = await calibrate(lowered.bytes, crops, 60000, options.threads ?? 0);
  const ranges = rangesFrom(samples, INT8_RECIPE.tailQuantile);
  const convs = convNodes(lowered.bytes);
  const floatConvs = new Set(INT8_RECIPE.floatLastConv ? [convs[convs.length - 1]!.name] : []);
  const bytes = quantizeModel(lowered.bytes, ranges, { floatConvs, inputMeans: means, weightClip: true });
  return { ...lowered, bytes };
}

/**
 * Returns `<dataDir>/models/<source>-int8-<hash>.onnx`, building it first unless it is
 * cached; the key covers the weights, the converter version, the recipe and the bytes
 * of the calibration photos.
 */
export async function prepareInt8Model(spec: ModelSpec, dataDir: string, sourceDir = defaultSourceDir(), options: Int8BuildOptions = {}): Promise<CachedModel> {
  const param = await readFile(join(sourceDir, `${spec.source}.param`), 'utf8');
  const bin = await readFile(join(sourceDir, `${spec.source}.bin`));
  const set = options.set ?? calibrationSet();
  const photos = await Promise.all(set.map((c) => readFile(c.file)));
  const recipe = JSON.stringify({ ...INT8_RECIPE, cropSize: options.cropSize ?? INT8_RECIPE.cropSize, crops: set.map((c) => c.crops) });
  return cacheConverted(dataDir, `${spec.source}-int8`, [param, bin, recipe, ...photos], () => buildInt8(param, bin, spec.source, { ...options, set }));
}
