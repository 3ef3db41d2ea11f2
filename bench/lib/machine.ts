import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';

/** One line describing the machine, software and commit, for every section. */
export function machineLine(): string {
  let cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const family = /^cpu family\s*:\s*(\d+)/m.exec(info)?.[1];
    const avx512 = /^flags\s*:.*\bavx512f\b/m.test(info);
    cpu += ` (family ${family ?? '?'}${avx512 ? ', AVX-512' : ''})`;
  } catch {
    // not Linux
  }
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    // not a git checkout
  }
  const date = new Date().toISOString().slice(0, 10);
  return `${cpu}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM; Node ${process.version}, onnxruntime-node ${ort.env.versions.common}, sharp ${sharp.versions.sharp}; commit ${commit}; ${date}`;
}
