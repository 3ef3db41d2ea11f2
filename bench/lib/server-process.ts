import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_DATA_DIR } from '../../test/helpers/paths.js';
import { exited, spawnServer, waitHealthy } from '../../test/helpers/process.js';
import { freePort } from '../../test/helpers/server.js';

/** The real server (`node dist/src/main.js`) in its own process, for load benchmarks. */
export interface ServerProcess {
  readonly url: string;
  readonly key: string;
  readonly child: ChildProcess;
  /** Resident set size of the server process, MB (Linux /proc). */
  rssMB(): Promise<number>;
  stop(): Promise<void>;
}

export async function startServerProcess(env: Record<string, string> = {}): Promise<ServerProcess> {
  const dataDir = await mkdtemp(join(tmpdir(), 'clearshot-bench-'));
  await symlink(join(TEST_DATA_DIR, 'models'), join(dataDir, 'models'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const key = 'cs_bench_key_0123456789abcdef0123456789';
  const child = spawnServer({
    DATA_DIR: dataDir,
      PORT: String(port),
      HOST: '127.0.0.1',
      PUBLIC_URL: url,
      CLEARSHOT_BOOTSTRAP_KEY: key,
      CLEARSHOT_BOOTSTRAP_CREDITS: '1000000',
      CLEARSHOT_RATE_LIMIT: '0',
      CLEARSHOT_QUERY_RATE_LIMIT: '0',
    LOG_LEVEL: 'warn',
    ...env,
  });
  await waitHealthy(url, child);
  return {
    url,
    key,
    child,
    async rssMB() {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
    },
    async stop() {
      child.kill('SIGTERM');
      await exited(child);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
