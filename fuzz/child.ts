import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import fc from 'fast-check';
import { mutatedBytes } from './mutate.js';
import { FINDINGS_DIR, HANG_MS, findingsOf, seedsOf, target } from './targets.js';

/**
 * One target's fuzzing in its own process (run.ts starts it and watches it):
 *   node dist/fuzz/child.js <target> <seconds> <seed> <current-input-file> <rss-limit-MB>
 * Every input is written to <current-input-file> before it runs, so that the parent can
 * keep an input that hangs or crashes the process. Prints `runs <n>` as it goes and one
 * JSON line at the end.
 */
const [name, secondsArg, seedArg, currentFile, rssArg] = process.argv.slice(2) as [string, string, string, string, string];
const t = target(name);
const seconds = Number(secondsArg);
const rssLimit = Number(rssArg) * 1024 * 1024;
const seeds = [...seedsOf(name), ...findingsOf(name)].map((s) => s.bytes);
const deadline = Date.now() + seconds * 1000;
let runs = 0;
let slowest = 0;

await t.setup?.();
const property = fc.asyncProperty(mutatedBytes(seeds), async (input) => {
  writeFileSync(currentFile, input);
  const t0 = performance.now();
  await t.run(input);
  const ms = performance.now() - t0;
  slowest = Math.max(slowest, ms);
  runs++;
  if (ms > HANG_MS) throw new Error(`took ${ms.toFixed(0)} ms (limit ${HANG_MS})`);
  const rss = process.memoryUsage().rss;
  if (rss > rssLimit) throw new Error(`resident memory ${(rss / 2 ** 20).toFixed(0)} MB over the bound ${(rssLimit / 2 ** 20).toFixed(0)} MB`);
});

let seed = Number(seedArg);
let failure: { error: string; file: string } | undefined;
while (Date.now() < deadline && !failure) {
  const r = await fc.check(property, { numRuns: 200, seed: seed++, interruptAfterTimeLimit: Math.max(1, deadline - Date.now()) });
  process.stdout.write(`runs ${runs}\n`);
  if (r.failed && r.counterexample) {
    const input = r.counterexample[0] as Uint8Array;
    const file = `${FINDINGS_DIR}/${name}-${createHash('sha256').update(input).digest('hex').slice(0, 12)}.bin`;
    writeFileSync(file, input);
    writeFileSync(file.replace(/\.bin$/, '.txt'), `${String(r.errorInstance)}\n(seed ${seed - 1}, shrunk ${r.numShrinks} times)\n`);
    failure = { error: String(r.errorInstance).slice(0, 500), file };
  }
}
await t.teardown?.();
process.stdout.write(`${JSON.stringify({ target: name, runs, slowestMs: Math.round(slowest), maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024), ...(failure ? { failure } : {}) })}\n`);
process.exit(failure ? 1 : 0);
