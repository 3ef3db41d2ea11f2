import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { photo } from './images.js';
import { REPO_ROOT } from './paths.js';
import { exited, waitHealthy } from './process.js';

/**
 * Driver of test/telemetry.test.ts, run inside a fresh network namespace under strace:
 * the real server (ROLE=all) enhances one image over loopback and stays up for
 * `quietMs` (ONNX Runtime's telemetry looked up its host about 8 s after the first
 * inference), then the CLI enhances one file. Everything either process or their
 * worker threads try on the network is in strace's log.
 *
 * node --test runs every file under dist/test/, so this only acts when given `--run`.
 */
async function run(work: string, quietMs: number): Promise<void> {
  const input = join(work, 'in.png');
  await writeFile(input, await photo(24, 24));
  const port = 18000 + Math.floor(Math.random() * 2000);
  const url = `http://127.0.0.1:${port}`;
  const key = 'cs_test_key_0123456789abcdef0123456789';
  const server = spawn(process.execPath, [join(REPO_ROOT, 'dist', 'src', 'main.js')], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', PUBLIC_URL: url, CLEARSHOT_BOOTSTRAP_KEY: key, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    await waitHealthy(url, server);
    const form = new FormData();
    form.append('sync', '1');
    form.append('image_file', new Blob([await photo(24, 24)]), 'in.png');
    const r = (await (await fetch(`${url}/api/tasks/visual/scale`, { method: 'POST', headers: { 'X-API-KEY': key }, body: form })).json()) as { data: { state: number } };
    if (r.data.state !== 1) throw new Error(`the server did not enhance the image: ${JSON.stringify(r)}`);
    await new Promise((resolve) => setTimeout(resolve, quietMs));
  } finally {
    server.kill('SIGTERM');
    await exited(server);
  }
  const cli = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'clearshot.js'), 'enhance', input, '-o', join(work, 'out')], { stdio: ['ignore', 'ignore', 'inherit'] });
  const code = await exited(cli);
  if (code !== 0) throw new Error(`the CLI exited with ${code}`);
  process.stdout.write('probe done\n');
}

if (process.argv[2] === '--run') {
  run(process.argv[3]!, Number(process.argv[4] ?? 15000)).catch((err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(1);
  });
}
