/**
 * One int8-benchmark measurement in a fresh process (bench/int8.ts):
 *   node dist/bench/int8-child.js model <fp32|int8> <size> <runs>
 *   node dist/bench/int8-child.js e2e <fp32|int8> <width> <height> <scale|auto> <runs>
 * Prints one JSON line.
 */
import sharp from 'sharp';
import { LocalEngine } from '../src/engine/local-engine.js';
import { prepareInt8Model } from '../src/engine/models/int8-model.js';
import { MODELS } from '../src/engine/models/model-registry.js';
import { prepareModel } from '../src/engine/models/model-store.js';
import { openSession } from '../src/engine/models/onnx-session.js';
import type { ScaleFactor } from '../src/engine/types.js';
import { fixture, TEST_DATA_DIR } from '../test/helpers/paths.js';
import { toPlanar } from '../src/engine/models/calibrate.js';
import { median, timeRuns } from './lib/stats.js';

const [mode, precision, ...rest] = process.argv.slice(2) as [string, 'fp32' | 'int8', ...string[]];
if (mode === 'model') {
  const [sizeArg, runsArg] = rest as [string, string];
  const size = Number(sizeArg);
  const fp32 = await prepareModel(MODELS.fast, TEST_DATA_DIR);
  const path = precision === 'int8' ? (await prepareInt8Model(MODELS.fast, TEST_DATA_DIR)).path : fp32.path;
  const session = await openSession(path);
  // A real photo, as in bench/model-child.ts.
  const { data } = await sharp(fixture('photos', 'coffee.jpg')).resize(size, size, { fit: 'cover' }).raw().toBuffer({ resolveWithObject: true });
  const input = toPlanar(data, size, size, 3);
  const runs = await timeRuns(Number(runsArg), () => session.run(input, 3, size, size));
  await session.release();
  process.stdout.write(`${JSON.stringify({ ms: median(runs), runs, macsPerInputPixel: fp32.macsPerInputPixel })}\n`);
} else {
  const [wArg, hArg, scaleArg, runsArg] = rest as [string, string, string, string];
  const width = Number(wArg);
  const height = Number(hArg);
  const scale = scaleArg === 'auto' ? undefined : (Number(scaleArg) as ScaleFactor);
  // A real photo (astronaut, public domain) resized to the size, as a phone-like JPEG q90.
  const input = await sharp(fixture('photos', 'astronaut.jpg')).resize(width, height, { fit: 'cover' }).jpeg({ quality: 90 }).toBuffer();
  const engine = await LocalEngine.open({ dataDir: TEST_DATA_DIR, threads: 0, preload: ['fast'], precision: { setting: precision } });
  let result: Awaited<ReturnType<LocalEngine['enhance']>> | undefined;
  const timings: Array<Record<string, number>> = [];
  const runs = await timeRuns(Number(runsArg), async () => {
    result = await engine.enhance(input, { model: 'fast', scale, precision });
    timings.push(result.timings as Record<string, number>);
  });
  await engine.close();
  const inference = median(timings.slice(-Number(runsArg)).map((t) => t.inference ?? 0));
  process.stdout.write(
    `${JSON.stringify({ ms: median(runs), runs, inferenceMs: inference, scale: result?.scale, outWidth: result?.width, outHeight: result?.height, int8: result?.notes.some((n) => n.includes('int8')), maxRssMB: process.resourceUsage().maxRSS / 1024 })}\n`,
  );
}
