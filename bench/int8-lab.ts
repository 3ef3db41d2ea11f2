/**
 * Exploration of the int8 fast network (issue 15): per-layer sensitivity, error split,
 * range methods, and timing/profiles, in one process (timings here are indicative only;
 * bench/int8.ts measures in fresh processes). Evaluates on a 192 px crop of coffee.jpg,
 * which the calibration never sees.
 *   node dist/bench/int8-lab.js sensitivity|weights|ranges|float|time|profile [size] [fp32|int8]
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { calibrate, calibrationCrops, cropOf, rangesFrom, type Crop, type RangeMethod } from '../src/engine/models/calibrate.js';
import { calibrationSet, INT8_RECIPE } from '../src/engine/models/int8-model.js';
import { MODELS } from '../src/engine/models/model-registry.js';
import { defaultSourceDir } from '../src/engine/models/model-store.js';
import { convertNcnnToOnnx } from '../src/engine/models/ncnn-to-onnx.js';
import { openProfiledSession, openSession } from '../src/engine/models/onnx-session.js';
import { convNodes, quantizeModel, type QuantizeOptions } from '../src/engine/models/quantize.js';
import { compareOutputs } from '../src/engine/models/precision.js';
import { fixture } from '../test/helpers/paths.js';
import { median, timeRuns } from './lib/stats.js';

const mode = process.argv[2] ?? 'ranges';
const size = Number(process.argv[3] ?? 192);
const spec = MODELS.fast;
const dir = defaultSourceDir();
const param = await readFile(join(dir, `${spec.source}.param`), 'utf8');
const bin = await readFile(join(dir, `${spec.source}.bin`));
const fp32 = convertNcnnToOnnx(param, bin, spec.source).bytes;
const lowered = convertNcnnToOnnx(param, bin, spec.source, { maxPRelu: true }).bytes;
const convs = convNodes(lowered);
const last = convs[convs.length - 1]!.name;

const t0 = Date.now();
const crops = await calibrationCrops(process.env.OLDSET ? ['aitzgorri.jpg', 'astronaut.jpg', 'chelsea.jpg', 'camera.jpg'].map((f) => ({ file: fixture('photos', f), crops: 4 })) : calibrationSet(), INT8_RECIPE.cropSize);
const { samples, means } = await calibrate(lowered, crops, 60000, 2);
console.error(`calibration: ${crops.length} crops in ${Date.now() - t0} ms`);
const evalCrop = await cropOf(fixture('photos', 'coffee.jpg'), 200, 100, size);

async function outputOf(bytes: Uint8Array, crop: Crop): Promise<Float32Array> {
  const s = await openSession(bytes, { threads: 2 });
  try {
    return (await s.run(crop.data, 3, crop.height, crop.width)).data;
  } finally {
    await s.release();
  }
}
const ref = await outputOf(fp32, evalCrop);
const fmt = (r: { psnr: number; shift: number }) => `${r.psnr.toFixed(2)} dB, mean shift ${r.shift.toFixed(3)} grey levels`;
const base = (over: Partial<QuantizeOptions> = {}): QuantizeOptions => ({ floatConvs: new Set([last]), inputMeans: means, weightClip: true, ...over });
const evalModel = async (q: Uint8Array) => fmt(compareOutputs(await outputOf(q, evalCrop), ref));

if (mode === 'ranges') {
  console.log(`lowered FP32 vs FP32: ${fmt(compareOutputs(await outputOf(lowered, evalCrop), ref))}`);
  const methods: RangeMethod[] = ['minmax', 'mse', 1e-5, 5e-5, 1e-4, 2e-4, 3e-4, 1e-3];
  for (const m of methods) {
    const r = rangesFrom(samples, m);
    console.log(`ranges ${m}: ${await evalModel(quantizeModel(lowered, r, base()))}; without bias correction: ${await evalModel(quantizeModel(lowered, r, base({ inputMeans: new Map() })))}`);
  }
  const r = rangesFrom(samples, INT8_RECIPE.tailQuantile);
  console.log(`recipe, all convs int8 (last too): ${await evalModel(quantizeModel(lowered, r, base({ floatConvs: new Set() })))}`);
  console.log(`recipe, weight clipping max|w|: ${await evalModel(quantizeModel(lowered, r, base({ weightClip: false })))}`);
} else if (mode === 'pertensor') {
  // Greedy per-tensor choice of the clipping, judged on calibration crops only.
  const objectiveCrops = crops.filter((_, i) => i % 6 === 0);
  const refs = await Promise.all(objectiveCrops.map((c) => outputOf(fp32, c)));
  const score = async (q: Uint8Array) => {
    let total = 0;
    for (let i = 0; i < objectiveCrops.length; i++) total += compareOutputs(await outputOf(q, objectiveCrops[i]!), refs[i]!).psnr;
    return total / objectiveCrops.length;
  };
  const options: RangeMethod[] = [5e-5, 'minmax', 2e-4];
  const per = new Map([...samples.keys()].map((t) => [t, rangesFrom(new Map([[t, samples.get(t)!]]), 5e-5).get(t)!]));
  let best = await score(quantizeModel(lowered, per, base()));
  console.log(`start: objective ${best.toFixed(2)} dB; eval ${await evalModel(quantizeModel(lowered, per, base()))}`);
  for (const t of samples.keys()) {
    if (t === 'input') continue;
    const keep = per.get(t)!;
    for (const m of options.slice(1)) {
      per.set(t, rangesFrom(new Map([[t, samples.get(t)!]]), m).get(t)!);
      const s = await score(quantizeModel(lowered, per, base()));
      if (s > best + 0.05) {
        best = s;
        console.log(`${t}: ${m} -> objective ${s.toFixed(2)} dB`);
        break;
      }
      per.set(t, keep);
    }
  }
  console.log(`end: objective ${best.toFixed(2)} dB; eval ${await evalModel(quantizeModel(lowered, per, base()))}`);
} else if (mode === 'weights') {
  const r = rangesFrom(samples, INT8_RECIPE.tailQuantile);
  console.log(`weights only (float activations): ${await evalModel(quantizeModel(lowered, r, base({ weightsOnly: true })))}`);
} else if (mode === 'sensitivity') {
  const r = rangesFrom(samples, INT8_RECIPE.tailQuantile);
  for (const c of convs) {
    const others = new Set(convs.map((x) => x.name).filter((n) => n !== c.name));
    console.log(`only ${c.name} int8: ${await evalModel(quantizeModel(lowered, r, base({ floatConvs: others })))}`);
  }
} else if (mode === 'float') {
  const r = rangesFrom(samples, INT8_RECIPE.tailQuantile);
  const names = convs.map((c) => c.name);
  for (const k of [0, 4, 8, 16]) {
    console.log(`first ${k} convs float: ${await evalModel(quantizeModel(lowered, r, base({ floatConvs: new Set([last, ...names.slice(0, k)]) })))}`);
    console.log(`last ${k} convs float: ${await evalModel(quantizeModel(lowered, r, base({ floatConvs: new Set([last, ...names.slice(names.length - 1 - k)]) })))}`);
  }
} else if (mode === 'time' || mode === 'profile') {
  const q = quantizeModel(lowered, rangesFrom(samples, INT8_RECIPE.tailQuantile), base());
  const big = await cropOf(fixture('photos', 'aitzgorri.jpg'), 0, 0, size);
  if (mode === 'time') {
    for (let round = 0; round < 2; round++) {
      for (const [name, bytes] of [['fp32', fp32], ['int8', q]] as const) {
        const s = await openSession(bytes, { threads: 2 });
        const runs = await timeRuns(4, () => s.run(big.data, 3, big.height, big.width));
        await s.release();
        console.log(`${name} ${big.width}x${big.height}: median ${median(runs).toFixed(0)} ms (${runs.map((x) => x.toFixed(0)).join(' ')})`);
      }
    }
  } else {
    const which = process.argv[4] ?? 'int8';
    const { session, end } = await openProfiledSession(which === 'fp32' ? fp32 : q, `/tmp/prof-${which}`, 2);
    for (let i = 0; i < 3; i++) await session.run(big.data, 3, big.height, big.width);
    await end();
    await session.release();
  }
}
