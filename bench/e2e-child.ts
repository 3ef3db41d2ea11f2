/**
 * One end-to-end measurement in a fresh process, so that its peak RSS is its own:
 *   node dist/bench/e2e-child.js <model> <longEdge> <runs> [bare] [tile=N] [scale=S] [restore=network] [precision=P]
 * Prints one JSON line. With "bare", also times ONNX Runtime alone on the same
 * network and whole image (no tiling, no decode/encode), each right after an end-to-end
 * run; tile= and scale= override the model's tile size and the auto scale; restore=network
 * sends every 1x photo through the restoration network (CLEARSHOT_RESTORE_1X=network);
 * precision= overrides E2E_PRECISION.
 */
import sharp from 'sharp';
import { LocalEngine } from '../src/engine/local-engine.js';
import { MODELS } from '../src/engine/models/model-registry.js';
import { openSession } from '../src/engine/models/onnx-session.js';
import type { ModelName } from '../src/engine/types.js';
import { fixture, TEST_DATA_DIR } from '../test/helpers/paths.js';
import { median, timeRuns } from './lib/stats.js';

const [model, edgeArg, runsArg, ...flags] = process.argv.slice(2) as [ModelName, string, string, ...string[]];
const edge = Number(edgeArg);
const runs = Number(runsArg);
const bare = flags.includes('bare');
/** The value of a `name=value` flag, as written or as a number. */
const text = (name: string) => flags.find((x) => x.startsWith(`${name}=`))?.slice(name.length + 1);
const flag = (name: string) => {
  const t = text(name);
  return t === undefined ? undefined : Number(t);
};
const tileSize = flag('tile');
const scale = flag('scale') as 1 | 2 | 4 | undefined;
const restore1x = text('restore') as 'network' | 'upscaler' | 'auto' | undefined;
// A real photo (astronaut, public domain) resized to a square of the long edge, as JPEG q90.
const input = await sharp(fixture('photos', 'astronaut.jpg'))
  .resize(edge, edge, { fit: 'cover' })
  .jpeg({ quality: 90 })
  .toBuffer();
// FP32 unless E2E_PRECISION says otherwise: the targets of this table are FP32's (the int8
// suite times int8), and the bare run below then times the same network.
const precision = (text('precision') ?? process.env.E2E_PRECISION ?? 'fp32') as 'fp32' | 'int8' | 'auto';
const engine = await LocalEngine.open({ dataDir: TEST_DATA_DIR, threads: 0, preload: [model], precision: { setting: precision }, ...(restore1x ? { restore1x } : {}), ...(tileSize ? { tuning: { tileSize } } : {}) });
const timings: Array<Record<string, number>> = [];
let result: Awaited<ReturnType<LocalEngine['enhance']>> | undefined;
const enhanceOnce = async () => {
  result = await engine.enhance(input, { model, scale });
  timings.push(result.timings as Record<string, number>);
};
// With "bare", each end-to-end run is followed by a bare ONNX Runtime run of the same
// network on the same picture (whole, planar float, no tiling, decode or encode), so that
// both medians come from the same stretch of time on a machine whose speed drifts.
let bareRun: (() => Promise<unknown>) | undefined;
if (bare) {
  const session = await (engine as unknown as { session(m: ModelName): ReturnType<typeof openSession> }).session(model);
  const { data, info } = await sharp(input).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const plane = info.width * info.height;
  const tensor = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) tensor[c * plane + i] = data[i * 3 + c]! / 255;
  bareRun = () => session.run(tensor, 3, info.height, info.width);
}
const total: number[] = [];
const bareTimes: number[] = [];
await enhanceOnce(); // warm-up
if (bareRun) await bareRun();
for (let i = 0; i < runs; i++) {
  total.push(...(await timeRuns(1, enhanceOnce, 0)));
  if (bareRun) bareTimes.push(...(await timeRuns(1, bareRun, 0)));
}
const step = (name: string) => median(timings.slice(-runs).map((t) => t[name] ?? 0));
const bareMs = bareRun ? median(bareTimes) : undefined;
await engine.close();
process.stdout.write(
  `${JSON.stringify({
    model,
    edge,
    width: edge,
    height: edge,
    scale: result?.scale,
    outWidth: result?.width,
    outHeight: result?.height,
    medianMs: median(total),
    runs: total,
    inferenceMs: step('inference'),
    steps: Object.fromEntries([...new Set(timings.flatMap((t) => Object.keys(t)))].map((k) => [k, step(k)])),
    bareMs,
    tile: tileSize ?? MODELS[model].tileSize,
    maxRssMB: process.resourceUsage().maxRSS / 1024,
  })}\n`,
);
