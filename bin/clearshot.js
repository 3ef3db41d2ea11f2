#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm install` (prepare) or `npm run build`.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);

/**
 * `clearshot enhance` is a short-lived process whose time is dominated by first touches of
 * large buffers (ONNX Runtime's arena, the output rasters). Where a fresh page is slow to
 * fault in (~2-3 ms per MB on some 2-core VMs), the first inference of a process ran up to
 * 2x slower than the next (docs/BENCHMARKS.md, "int8 through the CLI"); glibc's malloc can
 * back large allocations with transparent huge pages (2 MB faults instead of 4 KB ones),
 * but only when told at process start, so `enhance` re-runs itself once with that tunable.
 * Where faults are cheap (~0.5 ms per MB) huge pages cost more than they save (zeroing
 * and compacting 2 MB pages: a 512 px photo took 0.25-0.35 s longer on such a VM), so the
 * launcher first times a few fresh pages (~10 ms) and re-runs only when they are slow.
 * Only on glibc Linux, and not when GLIBC_TUNABLES is already set (yours wins) or
 * CLEARSHOT_NO_HUGEPAGES=1. Signals and the exit code pass through unchanged.
 */
const SLOW_FAULT_MS_PER_MB = 1.5;

/** Milliseconds per MB to fault in fresh memory: the best of three 4 MB samples. */
function faultMsPerMb() {
  let best = Infinity;
  for (let k = 0; k < 3; k++) {
    const t = process.hrtime.bigint();
    const bytes = new Uint8Array(4 << 20);
    for (let i = 0; i < bytes.length; i += 4096) bytes[i] = 1;
    best = Math.min(best, Number(process.hrtime.bigint() - t) / 1e6 / 4);
  }
  return best;
}

function wantsHugePages() {
  if (args[0] !== 'enhance' || process.platform !== 'linux') return false;
  if (process.env.GLIBC_TUNABLES !== undefined || process.env.CLEARSHOT_NO_HUGEPAGES === '1') return false;
  const header = /** @type {{ glibcVersionRuntime?: string }} */ (process.report?.getReport().header ?? {});
  return typeof header.glibcVersionRuntime === 'string' && faultMsPerMb() > SLOW_FAULT_MS_PER_MB;
}

if (wantsHugePages()) {
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...args], {
    stdio: 'inherit',
    env: { ...process.env, GLIBC_TUNABLES: 'glibc.malloc.hugetlb=1' },
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    } else process.exit(code ?? 1);
  });
} else {
  const { runCli } = await import('../dist/src/cli/main.js');
  process.exitCode = await runCli(args);
}
