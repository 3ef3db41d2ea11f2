import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ModelName } from '../src/engine/types.js';
import { fmt, table } from './lib/stats.js';

const run = promisify(execFile);

/**
 * Model-only throughput: the converted network on one input tensor, no tiling, no
 * decode or encode, each case in a fresh process. Effective GFLOPS = 2 x
 * multiply-accumulates / time.
 */
const CASES: Array<{ model: ModelName; sizes: number[]; runs: number }> = [
  { model: 'fast', sizes: [256, 512], runs: 5 },
  { model: 'quality', sizes: [128, 256], runs: 3 },
];

async function measure(model: ModelName, size: number, runs: number, plain = false) {
  const { stdout } = await run(process.execPath, [join(import.meta.dirname, 'model-child.js'), model, String(size), String(runs), ...(plain ? ['plain'] : [])]);
  const r = JSON.parse(stdout.trim()) as { ms: number; runs: number[]; macsPerInputPixel: number };
  return { ms: r.ms, runs: r.runs, gflops: (2 * r.macsPerInputPixel * size * size) / r.ms / 1e6, mps: (16 * size * size) / r.ms / 1e3 };
}

export async function modelThroughput(): Promise<string> {
  const rows: Array<Array<string | number>> = [];
  for (const c of CASES) {
    for (const size of c.sizes) {
      const r = await measure(c.model, size, c.runs);
      rows.push([c.model, `${size}x${size}`, fmt(r.ms, 0), r.runs.map((t) => fmt(t, 0)).join(', '), fmt(r.gflops, 0), fmt(r.mps, 2)]);
    }
  }
  // Alternate the two variants so that slow drift of the machine hits both alike.
  const ablation: Array<Array<string | number>> = [];
  for (let round = 0; round < 2; round++) {
    for (const plain of [true, false]) {
      const r = await measure('fast', 256, 5, plain);
      ablation.push([plain ? 'ONNX PRelu' : 'lowered (ours)', round + 1, fmt(r.ms, 0), fmt(r.gflops, 0)]);
    }
  }
  return [
    '## Model-only throughput',
    '',
    'The converted network on one input tensor made from a real photo (coffee, resized; the',
    "runtime's PRelu kernel is data-dependent, so synthetic inputs mislead), no tiling, decode or",
    'encode; ONNX Runtime CPU execution provider, one intra-op thread per core, each case in a',
    'fresh process. Median of the runs listed, after one warm-up. Effective GFLOPS = 2 x',
    'multiply-accumulates of the network / time. Target for `fast`: >= 250 GFLOPS.',
    '',
    table(['model', 'input', 'median ms', 'runs (ms)', 'effective GFLOPS', 'output MP/s'], rows),
    '',
    'What the PReLU lowering is worth (`fast`, 256x256, alternating fresh processes; see',
    '`convertPRelu` in `src/engine/models/ncnn-to-onnx.ts`). ONNX Runtime\'s CPU `PRelu` is a',
    'slow broadcasting kernel and forces the NCHWc layout back to NCHW around each of the 33',
    'calls; the lowered form keeps the trunk in NCHWc:',
    '',
    table(['PReLU as', 'round', 'median ms', 'effective GFLOPS'], ablation),
    '',
    'Reproduce: `npm run bench -- model`',
  ].join('\n');
}
