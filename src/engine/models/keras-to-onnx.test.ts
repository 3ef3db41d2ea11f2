import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { ClearShotError } from '../../errors/index.js';
import { convertKerasToOnnx, type KerasModelJson } from './keras-to-onnx.js';
import { openSession } from './onnx-session.js';

/**
 * The TensorFlow.js layers -> ONNX converter against an independent reference:
 * TensorFlow.js itself (its pure-JS CPU backend) running the same weights.
 */
const require = createRequire(import.meta.url);

async function loadPackage(name: string): Promise<{ json: KerasModelJson; text: string; shards: Uint8Array }> {
  let dir = dirname(require.resolve(name));
  while (!(await readFile(join(dir, 'package.json')).then(() => true, () => false))) dir = dirname(dir);
  const modelDir = join(dir, 'models', 'x4');
  const text = await readFile(join(modelDir, 'model.json'), 'utf8');
  const json = JSON.parse(text) as KerasModelJson;
  const shards = Buffer.concat(await Promise.all(json.weightsManifest.flatMap((g) => g.paths).map((p) => readFile(join(modelDir, p)))));
  return { json, text, shards: new Uint8Array(shards) };
}

function conversionError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof ClearShotError && e.code === 'MODEL_CONVERSION' && pattern.test(e.message));
}

describe('TensorFlow.js layers -> ONNX converter', () => {
  for (const pkg of ['@upscalerjs/esrgan-slim', '@upscalerjs/esrgan-medium']) {
    it(`${pkg} x4 matches TensorFlow.js on the same input`, async () => {
      const { json, shards } = await loadPackage(pkg);
      const converted = convertKerasToOnnx(json, shards, pkg);
      assert.equal(converted.scale, 4);

      const h = 20;
      const w = 28;
      // A smooth pattern with edges, in [0, 1].
      const planar = new Float32Array(3 * h * w);
      for (let c = 0; c < 3; c++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) planar[c * h * w + y * w + x] = (Math.sin(x * 0.5 + c) * Math.cos(y * 0.3) + 1) / 2 * (x > 14 ? 0.8 : 1);

      const session = await openSession(converted.bytes, { threads: 2 });
      const ours = await session.run(planar, 3, h, w);
      await session.release();
      assert.deepEqual([ours.channels, ours.height, ours.width], [3, h * 4, w * 4]);

      const tf = require('@tensorflow/tfjs') as typeof import('@tensorflow/tfjs');
      await tf.setBackend('cpu');
      const model = await tf.loadLayersModel(
        tf.io.fromMemory({ modelTopology: json.modelTopology as never, weightSpecs: json.weightsManifest.flatMap((g) => g.weights) as never, weightData: shards.slice().buffer }),
      );
      // The network takes NHWC pixels in [0, 255].
      const nhwc = new Float32Array(h * w * 3);
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) nhwc[(y * w + x) * 3 + c] = planar[c * h * w + y * w + x]! * 255;
      const ref = (model.predict(tf.tensor4d(nhwc, [1, h, w, 3])) as import('@tensorflow/tfjs').Tensor).dataSync();
      let maxDiff = 0;
      for (let y = 0; y < h * 4; y++)
        for (let x = 0; x < w * 4; x++)
          for (let c = 0; c < 3; c++) {
            const a = ours.data[c * h * 4 * w * 4 + y * w * 4 + x]! * 255;
            const b = ref[(y * w * 4 + x) * 3 + c]!;
            maxDiff = Math.max(maxDiff, Math.abs(a - b));
          }
      // float32 in both; differences are summation order only.
      assert.ok(maxDiff < 0.05, `max difference ${maxDiff} (of 255)`);
    });
  }

  it('names an unsupported layer', async () => {
    const { text, shards } = await loadPackage('@upscalerjs/esrgan-slim');
    const json = JSON.parse(text.replace('"class_name": "UpSampling2D"', '"class_name": "Conv2DTranspose"')) as KerasModelJson;
    conversionError(() => convertKerasToOnnx(json, shards, 'x'), /Conv2DTranspose UPsample: layer type is not supported/);
  });

  it('refuses weight data that does not match the manifest', async () => {
    const { json, shards } = await loadPackage('@upscalerjs/esrgan-slim');
    conversionError(() => convertKerasToOnnx(json, shards.subarray(0, shards.length - 4), 'x'), /runs past the end/);
    const longer = new Uint8Array(shards.length + 8);
    longer.set(shards);
    conversionError(() => convertKerasToOnnx(json, longer, 'x'), /8 bytes of weight data are not described/);
  });

  it('refuses a weight that no layer uses', async () => {
    const { text, shards } = await loadPackage('@upscalerjs/esrgan-slim');
    const json = JSON.parse(text) as { weightsManifest: Array<{ weights: Array<{ name: string; shape: number[]; dtype: string }> }> };
    json.weightsManifest[0]!.weights.push({ name: 'stray/kernel', shape: [1], dtype: 'float32' });
    const longer = new Uint8Array(shards.length + 4);
    longer.set(shards);
    conversionError(() => convertKerasToOnnx(json as unknown as KerasModelJson, longer, 'x'), /weights not used by any layer: stray\/kernel/);
  });
});
