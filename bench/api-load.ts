import sharp from 'sharp';
import { fixture } from '../test/helpers/paths.js';
import { startServerProcess, type ServerProcess } from './lib/server-process.js';
import { fmt, table } from './lib/stats.js';

/**
 * HTTP load against the real server process on loopback, from this (separate) process:
 * latency of GET while inference runs, task creation throughput while the worker is
 * busy, and memory over 500 tasks. Bounded in count and time.
 */
interface LoadResult {
  requests: number;
  errors: number;
  seconds: number;
  latencies: number[];
}

async function load(seconds: number, connections: number, request: () => Promise<Response>): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  const end = Date.now() + seconds * 1000;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (Date.now() < end) {
        const t0 = performance.now();
        try {
          const res = await request();
          await res.arrayBuffer();
          if (!res.ok) errors++;
        } catch {
          errors++;
        }
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return { requests: latencies.length, errors, seconds: (Date.now() - started) / 1000, latencies: latencies.sort((a, b) => a - b) };
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;

async function upload(server: ServerProcess, image: Uint8Array, fields: Record<string, string> = {}): Promise<Response> {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  form.append('image_file', new Blob([image]), 'p.jpg');
  return fetch(`${server.url}/api/tasks/visual/scale`, { method: 'POST', headers: { 'X-API-KEY': server.key }, body: form });
}

async function taskId(res: Response): Promise<string> {
  return ((await res.json()) as { data: { task_id: string } }).data.task_id;
}

async function settle(server: ServerProcess, id: string): Promise<void> {
  for (;;) {
    const r = (await (await fetch(`${server.url}/api/tasks/visual/scale/${id}`, { headers: { 'X-API-KEY': server.key } })).json()) as { data: { state: number } };
    if (r.data.state === 1 || r.data.state < 0) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export async function apiLoad(): Promise<string> {
  const rows: Array<Array<string | number>> = [];
  const big = await sharp(fixture('photos', 'astronaut.jpg')).resize(1024, 1024).jpeg({ quality: 90 }).toBuffer();
  const tiny = await sharp(fixture('photos', 'coffee.jpg')).resize(32, 24).jpeg({ quality: 90 }).toBuffer();
  const server = await startServerProcess();
  let memory: string[] = [];
  try {
    // A long inference (1024 px at 2x, ~10 s) keeps both cores busy during the GET load.
    const busyId = await taskId(await upload(server, big));
    const probeId = await taskId(await upload(server, tiny));
    await new Promise((r) => setTimeout(r, 1500));
    const get = await load(6, 4, () => fetch(`${server.url}/api/tasks/visual/scale/${probeId}`, { headers: { 'X-API-KEY': server.key } }));
    const health = await load(2, 2, () => fetch(`${server.url}/healthz`));
    const create = await load(4, 4, () => upload(server, tiny));
    for (const [name, connections, r] of [
      ['GET task, while inference runs', 4, get],
      ['GET /healthz, while inference runs', 2, health],
      ['POST task (32x24 upload), worker busy', 4, create],
    ] as Array<[string, number, LoadResult]>) {
      rows.push([name, connections, r.requests, fmt(r.requests / r.seconds, 0), fmt(pct(r.latencies, 0.5), 1), fmt(pct(r.latencies, 0.99), 1), r.errors]);
    }
    await settle(server, busyId);

    // Memory over 500 small tasks (64x48 results), sampled every 100.
    memory = [`${fmt(await server.rssMB(), 0)} (start)`];
    let last = '';
    for (let i = 1; i <= 500; i++) {
      last = await taskId(await upload(server, tiny, { scale_factor: '2' }));
      if (i % 100 === 0) {
        await settle(server, last);
        memory.push(fmt(await server.rssMB(), 0));
      }
    }
  } finally {
    await server.stop();
  }
  return [
    '## HTTP API under load',
    '',
    'The real server process (`node dist/src/main.js`, embedded defaults, one engine worker with',
    '2 threads) on loopback, driven from a separate process over keep-alive connections. The',
    'rows run while a 1024x1024 image is being enhanced (both cores busy with inference).',
    'Target: GET p99 < 50 ms during inference.',
    '',
    table(['load', 'connections', 'requests', 'req/s', 'p50 ms', 'p99 ms', 'errors'], rows),
    '',
    `Server RSS (MB) over 500 tasks (32x24 -> 64x48), every 100 tasks: ${memory.join(' -> ')}.`,
    '',
    'Reproduce: `npm run bench -- api`',
  ].join('\n');
}

