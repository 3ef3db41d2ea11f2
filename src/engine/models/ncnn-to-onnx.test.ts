import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ClearShotError } from '../../errors/index.js';
import { absDiffs, psnr, quantile, readRaster } from '../../../test/helpers/image-metrics.js';
import { fixture } from '../../../test/helpers/paths.js';
import type { Raster } from '../types.js';
import { MODELS } from './model-registry.js';
import { defaultSourceDir } from './model-store.js';
import { convertNcnnToOnnx } from './ncnn-to-onnx.js';
import { openSession } from './onnx-session.js';

/** Converts fresh (never the on-disk cache) and runs the whole fixture untiled, as 16-bit. */
async function runWhole(source: string, input: Raster): Promise<Raster> {
  const dir = defaultSourceDir();
  const model = convertNcnnToOnnx(await readFile(join(dir, `${source}.param`), 'utf8'), await readFile(join(dir, `${source}.bin`)), source);
  const session = await openSession(model.bytes, { threads: 2 });
  try {
    const plane = input.width * input.height;
    const tensor = new Float32Array(3 * plane);
    for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) tensor[c * plane + i] = input.data[i * 3 + c]! / 255;
    const out = await session.run(tensor, 3, input.height, input.width);
    const n = out.height * out.width;
    const data = new Uint16Array(n * 3);
    for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) data[i * 3 + c] = Math.round(Math.min(1, Math.max(0, out.data[c * n + i]!)) * 65535);
    return { width: out.width, height: out.height, channels: 3, depth: 16, data };
  } finally {
    await session.release();
  }
}

describe('ncnn -> ONNX converter', () => {
  for (const spec of Object.values(MODELS)) {
    it(`${spec.name}: converted model reproduces the fp32 reference interpreter`, async () => {
      const input = await readRaster(fixture('converter', 'input.png'));
      const ours = await runWhole(spec.source, input);
      const reference = await readRaster(fixture('converter', `reference-${spec.name}.png`));
      assert.equal(ours.width, input.width * 4);
      assert.equal(ours.height, input.height * 4);
      // Both are fp32; only summation order differs. 16-bit quantisation caps PSNR near 100 dB.
      const db = psnr(ours, reference);
      assert.ok(db >= 80, `PSNR vs reference ${db.toFixed(2)} dB`);
    });

    it(`${spec.name}: agrees with ncnn itself inside the image`, async () => {
      const input = await readRaster(fixture('converter', 'input.png'));
      const ours = await runWhole(spec.source, input);
      // ncnn (upscayl-bin on lavapipe) computes in fp16 and pads borders its own way,
      // and lavapipe wraps a few overflowing pixels; so compare the interior with robust
      // statistics. A wrong weight decode would move every pixel.
      const ncnn = await readRaster(fixture('converter', `ncnn-${spec.name}.png`));
      const inner = { x: 40, y: 40, width: ours.width - 80, height: ours.height - 80 };
      const diffs = absDiffs(ours, ncnn.channels === 4 ? dropAlpha(ncnn) : ncnn, inner);
      assert.ok(quantile(diffs, 0.5) <= 1, `median diff ${quantile(diffs, 0.5)}`);
      assert.ok(quantile(diffs, 0.99) <= 4, `p99 diff ${quantile(diffs, 0.99)}`);
      const large = diffs.filter((d) => d > 8).length / diffs.length;
      assert.ok(large <= 0.005, `share of pixels off by more than 8 levels: ${large}`);
    });
  }

  it('reports the network scale and MACs per input pixel', async () => {
    const dir = defaultSourceDir();
    const param = await readFile(join(dir, 'realesrgan-x4fast.param'), 'utf8');
    const bin = await readFile(join(dir, 'realesrgan-x4fast.bin'));
    const model = convertNcnnToOnnx(param, bin, 'x4fast');
    assert.equal(model.scale, 4);
    // 64x3x3x3 + 32 x 64x64x3x3 + 48x64x3x3 weights, all at input resolution.
    assert.equal(model.macsPerInputPixel, 1728 + 32 * 36864 + 27648);
    assert.equal(model.layerCounts.Convolution, 34);
  });

  it('refuses a .bin with bytes left over or missing', async () => {
    const dir = defaultSourceDir();
    const param = await readFile(join(dir, 'realesrgan-x4fast.param'), 'utf8');
    const bin = await readFile(join(dir, 'realesrgan-x4fast.bin'));
    const longer = new Uint8Array(bin.length + 4);
    longer.set(bin);
    assert.throws(() => convertNcnnToOnnx(param, longer, 'x'), (e: unknown) => e instanceof ClearShotError && e.code === 'MODEL_CONVERSION' && /4 of \d+ bytes were not consumed/.test(e.message));
    assert.throws(() => convertNcnnToOnnx(param, bin.subarray(0, bin.length - 100), 'x'), (e: unknown) => e instanceof ClearShotError && /truncated or mismatched/.test(e.message));
  });

  it('names an unsupported layer', () => {
    const param = '7767517\n2 2\nInput in 0 1 data 0=8 1=8 2=3\nSoftmax sm 1 1 data out 0=0\n';
    assert.throws(() => convertNcnnToOnnx(param, new Uint8Array(0), 'x'), /Softmax sm \(line 4\): this layer type is not supported/);
  });

  it('refuses unsupported options of a supported layer', () => {
    const interp = '7767517\n2 2\nInput in 0 1 data\nInterp up 1 1 data out 0=2 1=2.0 2=2.0\n';
    assert.throws(() => convertNcnnToOnnx(interp, new Uint8Array(0), 'x'), /resize type 2 is not supported/);
    const conv = '7767517\n2 2\nInput in 0 1 data\nConvolution c 1 1 data out 0=4 1=3 4=1 5=1 6=108 9=4\n';
    const bin = new Uint8Array(4 + 108 * 4 + 16);
    assert.throws(() => convertNcnnToOnnx(conv, bin, 'x'), /fused activation type 4 is not supported/);
  });
});

function dropAlpha(r: Raster): Raster {
  const data = new Uint8Array(r.width * r.height * 3);
  for (let i = 0; i < r.width * r.height; i++) for (let c = 0; c < 3; c++) data[i * 3 + c] = r.data[i * 4 + c]!;
  return { ...r, channels: 3, data };
}
