/**
 * One model-only measurement in a fresh process (sessions in one process disturb each
 * other's timings: a previous session's spinning threads, allocator state):
 *   node dist/bench/model-child.js <model> <size> <runs> [plain]
 * Prints one JSON line: median milliseconds and MACs per input pixel.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MODELS } from '../src/engine/models/model-registry.js';
import { defaultSourceDir } from '../src/engine/models/model-store.js';
import { convertNcnnToOnnx } from '../src/engine/models/ncnn-to-onnx.js';
import { openSession } from '../src/engine/models/onnx-session.js';
import type { ModelName } from '../src/engine/types.js';
import sharp from 'sharp';
import { fixture } from '../test/helpers/paths.js';
import { toPlanar } from '../src/engine/models/calibrate.js';
import { median, timeRuns } from './lib/stats.js';

const [model, sizeArg, runsArg, plain] = process.argv.slice(2) as [ModelName, string, string, string | undefined];
const size = Number(sizeArg);
const spec = MODELS[model];
const dir = defaultSourceDir();
const converted = convertNcnnToOnnx(await readFile(join(dir, `${spec.source}.param`), 'utf8'), await readFile(join(dir, `${spec.source}.bin`)), spec.source, {
  plainPRelu: plain === 'plain',
});
const session = await openSession(converted.bytes);
// A real photo: ONNX Runtime's PRelu kernel is data-dependent (branchy), so synthetic
// inputs give misleading timings (a smooth test signal made plain PRelu look fastest).
const { data } = await sharp(fixture('photos', 'coffee.jpg')).resize(size, size, { fit: 'cover' }).raw().toBuffer({ resolveWithObject: true });
const input = toPlanar(data, size, size, 3);
const runs = await timeRuns(Number(runsArg), () => session.run(input, 3, size, size));
await session.release();
process.stdout.write(`${JSON.stringify({ ms: median(runs), runs, macsPerInputPixel: converted.macsPerInputPixel })}\n`);
