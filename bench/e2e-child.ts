/**
 * One end-to-end measurement in a fresh process, so that its peak RSS is its own:
 *   node dist/bench/e2e-child.js <model> <longEdge> <runs> [bare] [tile=N] [scale=S]
 * Prints one JSON line. With "bare", also times ONNX Runtime alone on the same
 * network and whole image (no tiling, no decode/encode); tile= and scale= override the
 * model's tile size and the auto scale.
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
const flag = (name: string) => {
  const f = flags.find((x) => x.startsWith(`${name}=`));
  return f ? Number(f.slice(name.length + 1)) : undefined;
};
const tileSize = flag('tile');
const scale = flag('scale') as 1 | 2 | 4 | undefined;
// A real photo (astronaut, public domain) resized to a square of the long edge, as JPEG q90.
const input = await sharp(fixture('photos', 'astronaut.jpg'))
  .resize(edge, edge, { fit: 'cover' })
  .jpeg({ quality: 90 })
  .toBuffer();
// FP32 unless E2E_PRECISION says otherwise: the targets of this table are FP32's (the int8
// suite times int8), and the bare run below then times the same network.
const precision = (process.env.E2E_PRECISION ?? 'fp32') as 'fp32' | 'int8' | 'auto';
const engine = await LocalEngine.open({ dataDir: TEST_DATA_DIR, threads: 0, preload: [model], precision: { setting: precision }, ...(tileSize ? { tuning: { tileSize } } : {}) });
const timings: Array<Record<string, number>> = [];
let result: Awaited<ReturnType<LocalEngine['enhance']>> | undefined;
const total = await timeRuns(runs, async () => {
  result = await engine.enhance(input, { model, scale });
  timings.push(result.timings as Record<string, number>);
});
const step = (name: string) => median(timings.slice(-runs).map((t) => t[name] ?? 0));
let bareMs: number | undefined;
if (bare && result) {
  const session = await (engine as unknown as { session(m: ModelName): ReturnType<typeof openSession> }).session(model);
  const h = edge;
  const tensor = new Float32Array(3 * edge * h).map((_, i) => ((i * 2654435761) % 1000) / 1000);
  bareMs = median(await timeRuns(runs, () => session.run(tensor, 3, h, edge)));
}
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
