import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FINDINGS_DIR, TARGETS } from './targets.js';

/**
 * `npm run fuzz -- [--minutes M] [--seed S] [target...]`: fuzzes each target (default all:
 * bmp, sgi, image, base64, body) for M minutes (default 1) in a process of its own,
 * watched from here: an input that hangs the process (no progress for 30 s) or kills it
 * is kept too. Findings go to fuzz/findings/<target>-<hash>.bin (+ .txt); the replay test
 * (test/fuzz-regressions.test.ts) runs every committed one in `npm test`. Exit code 1
 * when any target found something.
 */
const args = process.argv.slice(2);
let minutes = 1;
let seed = Date.now() % 1_000_000;
const names: string[] = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--minutes') minutes = Number(args[++i]);
  else if (args[i] === '--seed') seed = Number(args[++i]);
  else names.push(args[i]!);
}
const chosen = names.length ? names : TARGETS.map((t) => t.name);
const STALL_MS = 30_000;
const RSS_LIMIT_MB = 1536;
const work = mkdtempSync(join(tmpdir(), 'clearshot-fuzz-'));
let failed = false;
mkdirSync(FINDINGS_DIR, { recursive: true });
const UNSHARE = process.getuid?.() === 0 ? ['-n'] : ['-r', '-n'];
const isolated = spawnSync('unshare', [...UNSHARE, 'sh', '-c', 'ip link set lo up'], { stdio: 'ignore' }).status === 0;
console.log(isolated ? 'each target in a network namespace of its own (loopback only)' : 'unshare -n is not available here: the targets share the machine\'s network');

for (const name of chosen) {
  const current = join(work, `${name}.current`);
  const started = Date.now();
  const argv = [process.execPath, join(import.meta.dirname, 'child.js'), name, String(minutes * 60), String(seed), current, String(RSS_LIMIT_MB)];
  // Each target runs in a network namespace of its own (only its loopback up) where
  // util-linux's unshare allows: the body target's in-process worker fetches the fuzzed
  // image_urls, and their DNS lookups must not leave the machine (nor wait on a resolver).
  const [cmd, ...args] = isolated ? ['unshare', ...UNSHARE, 'sh', '-c', 'ip link set lo up && exec "$@"', 'sh', ...argv] : argv;
  const child = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let last = Date.now();
  let summary = '';
  let stalled = false;
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    last = Date.now();
    for (const line of chunk.split('\n')) if (line.startsWith('{')) summary = line;
  });
  const watchdog = setInterval(() => {
    if (Date.now() - last > STALL_MS) {
      stalled = true;
      child.kill('SIGKILL');
    }
  }, 1000);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])));
  clearInterval(watchdog);
  const seconds = Math.round((Date.now() - started) / 1000);
  if (code === 0 && summary) {
    const s = JSON.parse(summary) as { runs: number; slowestMs: number; maxRssMB: number };
    console.log(`${name}: ${s.runs} inputs in ${seconds} s, no finding (slowest ${s.slowestMs} ms, peak RSS ${s.maxRssMB} MB, seed ${seed})`);
    continue;
  }
  failed = true;
  if (summary && code === 1) {
    const s = JSON.parse(summary) as { runs: number; failure: { error: string; file: string } };
    console.log(`${name}: FINDING after ${s.runs} inputs: ${s.failure.error}\n  kept as ${s.failure.file}`);
    continue;
  }
  // Hang or crash: the input the child was on is the one to keep.
  const why = stalled ? `no progress for ${STALL_MS / 1000} s (hang)` : `the process died (${signal ?? `exit ${code}`})`;
  if (existsSync(current)) {
    const bytes = readFileSync(current);
    const file = join(FINDINGS_DIR, `${name}-${createHash('sha256').update(bytes).digest('hex').slice(0, 12)}.bin`);
    copyFileSync(current, file);
    writeFileSync(file.replace(/\.bin$/, '.txt'), `${why}\n(seed ${seed})\n`);
    console.log(`${name}: FINDING: ${why}\n  kept as ${file}`);
  } else console.log(`${name}: FINDING: ${why} before any input`);
}
process.exit(failed ? 1 : 0);
