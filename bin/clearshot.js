#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm install` (prepare) or `npm run build`.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);

/**
 * `clearshot enhance` is a short-lived process whose time is dominated by first touches of
 * large buffers (ONNX Runtime's arena, the output rasters): on a 2-core VM each fresh MB
 * costs ~2 ms in page faults, so the first inference of a process ran up to 2x slower
 * than the next (docs/BENCHMARKS.md, "int8 through the CLI"). glibc's malloc can back
 * large allocations with transparent huge pages (2 MB faults instead of 4 KB ones), but
 * only when told at process start, so `enhance` re-runs itself once with that tunable,
 * on glibc Linux, unless GLIBC_TUNABLES is already set (yours wins) or
 * CLEARSHOT_NO_HUGEPAGES=1. Signals and the exit code pass through unchanged.
 */
function wantsHugePages() {
  if (args[0] !== 'enhance' || process.platform !== 'linux') return false;
  if (process.env.GLIBC_TUNABLES !== undefined || process.env.CLEARSHOT_NO_HUGEPAGES === '1') return false;
  const header = /** @type {{ glibcVersionRuntime?: string }} */ (process.report?.getReport().header ?? {});
  return typeof header.glibcVersionRuntime === 'string';
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
