import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuFeatures } from './cpu-features.js';
import { ORT_VERSION } from './onnx-session.js';
import type { OutputComparison } from './precision.js';

/**
 * The int8 start-time check's measurement, kept on disk (`<dataDir>/models/int8-check-<network>.json`)
 * so that a process does not run it again when nothing it depends on changed: it ran
 * both networks through the pipeline on every start, ~0.5 s per network, which every CLI
 * run paid (docs/BENCHMARKS.md, "int8 through the CLI").
 *
 * The key covers everything the measurement depends on: both models' bytes, the engine's
 * code (every module of the engine folder: the check runs the whole pipeline), the ONNX
 * Runtime version, the CPU's int8 features and the thread count. Only the measurement
 * (PSNR, mean shift) is kept; the thresholds are applied to it on every start, so a
 * changed CLEARSHOT_INT8_MIN_PSNR takes effect at once. Delete the file to measure again.
 */
export async function cachedComparison(dataDir: string | undefined, what: { readonly label: string; readonly fp32: string; readonly int8: string; readonly threads: number }, measure: () => Promise<OutputComparison>): Promise<OutputComparison> {
  if (dataDir === undefined) return measure();
  const key = checkKey(what);
  // One file per network: a new key (other models, code, runtime, CPU) replaces it.
  const path = join(dataDir, 'models', `int8-check-${what.label.replace(/[^a-z0-9]+/gi, '-')}.json`);
  try {
    const saved = JSON.parse(await readFile(path, 'utf8')) as { key?: string; psnr?: number | null; shift?: number };
    if (saved.key === key && typeof saved.shift === 'number' && (saved.psnr === null || typeof saved.psnr === 'number')) {
      return { psnr: saved.psnr ?? Infinity, shift: saved.shift, cachedIn: path };
    }
  } catch {
    // None yet, or unreadable: measured and written below.
  }
  const result = await measure();
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await mkdir(dirname(path), { recursive: true });
    // Infinity (identical outputs) is kept as null.
    await writeFile(tmp, `${JSON.stringify({ key, label: what.label, psnr: Number.isFinite(result.psnr) ? result.psnr : null, shift: result.shift, measuredAt: new Date().toISOString() })}\n`);
    await rename(tmp, path);
  } catch {
    // A read-only data folder only costs the next start the measurement again.
    await rm(tmp, { force: true });
  }
  return result;
}

function checkKey(what: { readonly label: string; readonly fp32: string; readonly int8: string; readonly threads: number }): string {
  const h = createHash('sha256');
  h.update(`int8-check 1\n${what.label}\nort ${ORT_VERSION}\n`);
  h.update(`cpu ${cpuFeatures().flags.join(',')}\nthreads ${what.threads || availableParallelism()}\n`);
  h.update(readFileSync(what.fp32));
  h.update(readFileSync(what.int8));
  h.update(engineCodeHash());
  return h.digest('hex');
}

let codeHash: string | undefined;

/** A hash of every module of the engine folder (src/engine or dist/src/engine), once per process. */
function engineCodeHash(): string {
  if (codeHash) return codeHash;
  const root = dirname(dirname(fileURLToPath(import.meta.url)));
  const h = createHash('sha256');
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(js|ts)$/.test(e.name) && !/\.test\.(js|ts)$/.test(e.name)) h.update(`${p.slice(root.length)}\n`).update(readFileSync(p));
    }
  };
  walk(root);
  codeHash = h.digest('hex');
  return codeHash;
}
