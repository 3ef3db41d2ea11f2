import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fixture } from '../../../test/helpers/paths.js';
import { readRaster } from '../../../test/helpers/image-metrics.js';
import { toPlanar } from './calibrate.js';
import { buildInt8 } from './int8-model.js';
import { MODELS } from './model-registry.js';
import { defaultSourceDir } from './model-store.js';
import { convertNcnnToOnnx } from './ncnn-to-onnx.js';
import { openProfiledSession, openSession } from './onnx-session.js';
import { cpuFeatures } from './cpu-features.js';
import { compareOutputs } from './precision.js';
import { chooseRange, decodeModel, uint8Params, weightScale } from './quantize.js';

const source = MODELS.fast.source;
const dir = defaultSourceDir();
const param = await readFile(join(dir, `${source}.param`), 'utf8');
const bin = await readFile(join(dir, `${source}.bin`));

async function input() {
  const r = await readRaster(fixture('converter', 'input.png'));
  return { data: toPlanar(r.data as Uint8Array, r.width, r.height, r.channels), width: r.width, height: r.height };
}

async function run(model: Uint8Array): Promise<Float32Array> {
  const x = await input();
  const s = await openSession(model, { threads: 2 });
  try {
    return (await s.run(x.data, 3, x.height, x.width)).data;
  } finally {
    await s.release();
  }
}

// A small calibration (two 64 px crops) keeps the test quick; the shipped recipe uses
// ten crops of 128 px (int8-model.ts).
const small = { set: [{ file: fixture('photos', 'aitzgorri.jpg'), crops: 2 }], cropSize: 64, threads: 2 };

describe('int8 quantization of the fast network', () => {
  it('the max-form PReLU lowering (sign flips folded into the convs) is exact in FP32', async () => {
    const plain = await run(convertNcnnToOnnx(param, bin, source).bytes);
    const lowered = await run(convertNcnnToOnnx(param, bin, source, { maxPRelu: true }).bytes);
    assert.ok(compareOutputs(lowered, plain).psnr >= 80);
  });

  // With VNNI >= 34 dB. Without it (AVX2) ONNX Runtime's u8s8 kernel adds pairs of
  // products into saturating 16-bit sums, a CPU's error, not the quantizer's: 33.94 dB on
  // a 2-core AVX2 EPYC, so 32 dB there. A broken scale, zero point, sign flip or bias
  // falls far below either (a wrong sign: < 15 dB).
  const minPsnr = cpuFeatures().vnni ? 34 : 32;
  it(`int8 output stays within tolerance of FP32 on the converter fixture: >= ${minPsnr} dB, |mean shift| < 1 grey level`, async () => {
    const fp32 = await run(convertNcnnToOnnx(param, bin, source).bytes);
    const int8 = await buildInt8(param, bin, source, small);
    const c = compareOutputs(await run(int8.bytes), fp32);
    // Measured 37-40 dB with the full recipe on VNNI (docs/BENCHMARKS.md).
    assert.ok(c.psnr >= minPsnr, `PSNR vs FP32 ${c.psnr.toFixed(2)} dB`);
    assert.ok(Math.abs(c.shift) < 1, `mean shift ${c.shift}`);

    // Graph shape: 33 convs read int8 weights through DequantizeLinear, the last stays float.
    const graph = decodeModel(int8.bytes).graph!;
    const int8Weights = graph.initializer!.filter((t) => t.name!.endsWith('.wq'));
    assert.equal(int8Weights.length, 33);
    assert.ok(int8Weights.every((t) => t.dataType === 3 /* INT8 */));
    const convs = graph.node!.filter((n) => n.opType === 'Conv');
    assert.equal(convs.length, 34);
    assert.ok(!convs[convs.length - 1]!.input![1]!.endsWith('.w_dq'), 'the last conv keeps float weights');
  });

  it('ONNX Runtime runs the quantized convs as QLinearConv (profile)', async () => {
    const int8 = await buildInt8(param, bin, source, small);
    const tmp = await mkdtemp(join(tmpdir(), 'clearshot-prof-'));
    try {
      const { session, end } = await openProfiledSession(int8.bytes, join(tmp, 'int8'), 2);
      const x = await input();
      await session.run(x.data, 3, x.height, x.width);
      await end();
      await session.release();
      const file = (await readdir(tmp)).find((f) => f.endsWith('.json'));
      assert.ok(file, 'profile written');
      const events = JSON.parse(await readFile(join(tmp, file), 'utf8')) as Array<{ cat?: string; name: string; args?: { op_name?: string } }>;
      const ops = new Map<string, number>();
      for (const e of events) if (e.cat === 'Node' && e.name.endsWith('_kernel_time')) ops.set(e.args!.op_name!, (ops.get(e.args!.op_name!) ?? 0) + 1);
      assert.equal(ops.get('QLinearConv'), 33, JSON.stringify([...ops]));
      assert.equal(ops.get('Conv'), 1);
      // The max-form PReLU keeps ORT's int8 trunk in one layout: no Transpose per conv.
      assert.ok((ops.get('Transpose') ?? 0) <= 2, `Transpose count ${ops.get('Transpose')}`);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });

  it('uint8 parameters represent 0 exactly; ranges and weight scales are chosen as documented', () => {
    const p = uint8Params({ min: -1, max: 3 });
    assert.ok(Math.abs(p.scale - 4 / 255) < 1e-7);
    assert.equal(p.zeroPoint, Math.round(1 / (4 / 255)));
    assert.deepEqual(uint8Params({ min: 0.5, max: 2 }).zeroPoint, 0);
    const values = new Float32Array(10001).map((_, i) => i / 10000);
    values[0] = -100; // one outlier
    assert.deepEqual(chooseRange(values, 'minmax'), { min: -100, max: 1 });
    const clipped = chooseRange(values, 1e-3);
    assert.ok(clipped.min > -0.01 && clipped.max < 1, JSON.stringify(clipped));
    // Least squares keeps a lone far outlier (clipping it costs more than coarser steps).
    const mse = chooseRange(values, 'mse');
    assert.equal(mse.min, -100);
    assert.ok(mse.max >= 0.99);
    const dense = new Float32Array(10000).map((_, i) => (i < 100 ? 50 : (i % 100) / 100));
    assert.ok(chooseRange(dense, 'mse').max >= 50, 'a 1% tail is kept');
    const row = new Float32Array([0.1, -0.2, 0.05, 1.27]);
    assert.ok(Math.abs(weightScale(row, false) - 0.01) < 1e-7);
    assert.ok(weightScale(row, true) <= weightScale(row, false));
  });
});
