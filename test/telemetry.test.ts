import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT, TEST_DATA_DIR } from './helpers/paths.js';

/**
 * Issue 13, item 1: ONNX Runtime's telemetry is on by default (it looked up
 * mobile.events.data.microsoft.com about 8 s after the first inference, and wrote a
 * device id under ~/.cache/Microsoft). Observed for real: the server and the CLI run in
 * a fresh network namespace (only loopback, so no packet can leave it) under
 * `strace -f -e trace=network`, with an empty HOME, and ORT_DISABLE_TELEMETRY not set
 * by anyone but ClearShot itself. .ci/run installs strace; util-linux's unshare and
 * iproute2's ip are part of the machine image.
 */
let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'clearshot-offline-'));
  await mkdir(join(work, 'home'));
  await mkdir(join(work, 'data'));
  await symlink(join(TEST_DATA_DIR, 'models'), join(work, 'data', 'models'));
});
after(() => rm(work, { recursive: true, force: true }));

for (const tool of ['strace', 'unshare', 'ip']) {
  // Not a skip: without these tools the test cannot observe anything, so it fails.
  assert.equal(spawnSync('sh', ['-c', `command -v ${tool}`]).status, 0, `${tool} is needed by this test (.ci/run installs it)`);
}

/** Runs `command` (argv) in a fresh network namespace with loopback up, traced; returns strace's log. */
async function traced(name: string, argv: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; log: string }> {
  const trace = join(work, `${name}.strace`);
  const quoted = argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const unshare = process.getuid?.() === 0 ? ['-n'] : ['-r', '-n'];
  const child = spawn('unshare', [...unshare, 'sh', '-c', `ip link set lo up && exec strace -f -qq -e trace=network -o '${trace}' ${quoted}`], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, log: await readFile(trace, 'utf8') };
}

/** Every network syscall that names an address off this machine, or a DNS port anywhere. */
function outbound(log: string): string[] {
  return log.split('\n').filter((line) => {
    if (!/\b(connect|sendto|sendmsg|sendmmsg)\(/.test(line) || !/AF_INET6?/.test(line)) return false;
    const port = /htons\((\d+)\)/.exec(line)?.[1];
    const v4 = /inet_addr\("([^"]+)"\)/.exec(line)?.[1];
    const v6 = /inet_pton\(AF_INET6, "([^"]+)"/.exec(line)?.[1];
    if (port === '53') return true;
    if (v4 !== undefined) return !v4.startsWith('127.');
    if (v6 !== undefined) return v6 !== '::1' && !/^::ffff:127\./.test(v6);
    return true;
  });
}

const env = (): NodeJS.ProcessEnv => {
  const e: NodeJS.ProcessEnv = { ...process.env, HOME: join(work, 'home'), DATA_DIR: join(work, 'data'), CLEARSHOT_THREADS: '1' };
  delete e.ORT_DISABLE_TELEMETRY;
  delete e.XDG_CACHE_HOME;
  return e;
};

describe('no phoning home', () => {
  it('the harness sees a DNS lookup when a process makes one (control)', async () => {
    const { log } = await traced('control', [process.execPath, '-e', "require('node:dns').lookup('clearshot-probe.invalid', () => {})"], env());
    assert.ok(outbound(log).length > 0, `strace saw no lookup:\n${log}`);
  });

  it('server (inference, then 15 s idle) and CLI: no lookup or connection off loopback, nothing written to HOME', async () => {
    const { code, log } = await traced('service', [process.execPath, join(REPO_ROOT, 'dist', 'test', 'helpers', 'offline-probe.js'), '--run', work, '15000'], env());
    assert.equal(code, 0, 'the probe enhanced an image with the server and with the CLI');
    assert.match(log, /connect\(\d+, \{sa_family=AF_INET, sin_port=htons\(\d+\), sin_addr=inet_addr\("127\.0\.0\.1"\)/, 'the trace covers the HTTP request');
    assert.deepEqual(outbound(log), []);
    assert.deepEqual(await readdir(join(work, 'home'), { recursive: true }), [], 'nothing under HOME (ONNX Runtime kept ~/.cache/Microsoft/DeveloperTools/.onnxruntime)');
  });
});
