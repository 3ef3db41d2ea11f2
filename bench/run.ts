/**
 * Benchmark runner: `npm run bench [-- suite...]` (suites: model, e2e, strategy,
 * quality, tiling, peer, api, scaleout, face, facedetect, adaptive, int8, restore, budget, cli; default all). Each suite rewrites its own section of
 * docs/BENCHMARKS.md, so suites can be re-run alone. Run on a quiet machine.
 */
import { writeFileSync, existsSync, readFileSync } from 'node:fs';
import { adaptive } from './adaptive.js';
import { apiLoad } from './api-load.js';
import { cliPrecision } from './cli-precision.js';
import { endToEnd } from './end-to-end.js';
import { face, faceDetection } from './face.js';
import { int8 } from './int8.js';
import { machineLine } from './lib/machine.js';
import { BENCHMARKS_MD, writeSection } from './lib/report.js';
import { modelThroughput } from './model-throughput.js';
import { netBudget } from './net-budget.js';
import { peer } from './peer.js';
import { quality } from './quality.js';
import { restore } from './restore.js';
import { scaleStrategy } from './scale-strategy.js';
import { scaleout } from './scaleout.js';
import { tiling } from './tiling.js';

const SUITES: Record<string, () => Promise<string>> = {
  model: modelThroughput,
  e2e: endToEnd,
  strategy: scaleStrategy,
  quality,
  tiling,
  peer,
  api: apiLoad,
  scaleout,
  face,
  facedetect: faceDetection,
  adaptive,
  int8,
  restore,
  budget: netBudget,
  cli: cliPrecision,
};

const HEADER = `# Benchmarks

Measured by the scripts in \`bench/\` (\`npm run bench\`, or \`npm run bench -- <suite>\`);
never by timed assertions in tests. Each section says the machine, date and commit it
was measured on, and the command that reproduces it. Timings are medians: the
reference machine is a 2-core cloud VM whose run-to-run noise is about +-20%.
`;

const machine = machineLine();
const wanted = process.argv.slice(2);
const names = wanted.length ? wanted : Object.keys(SUITES);
if (!existsSync(BENCHMARKS_MD) || !readFileSync(BENCHMARKS_MD, 'utf8').startsWith('# Benchmarks')) writeFileSync(BENCHMARKS_MD, HEADER);
for (const name of names) {
  const suite = SUITES[name];
  if (!suite) {
    console.error(`unknown suite ${name}; known: ${Object.keys(SUITES).join(', ')}`);
    process.exit(2);
  }
  const started = Date.now();
  console.error(`bench ${name}...`);
  const body = `${await suite()}\n\nMachine: ${machine}.`;
  process.stdout.write(`${body}\n\n`);
  writeSection(name, body);
  console.error(`bench ${name} done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}
