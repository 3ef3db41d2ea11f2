/**
 * `npm run soak -- [--minutes 20] [--rate 1] [--kill-every 60] [--out FILE]`: a chaos
 * soak of scale-out (issue 22). Two API processes and two workers (`node dist/src/main.js`,
 * ROLE=api / ROLE=worker) share a private PostgreSQL cluster, a private Redis that keeps
 * nothing on disk, and an S3 endpoint (s3rver). A load of four keys mixes sync and async
 * tasks from image_file, image_url (a local server) and image_base64, small images (so
 * inference is quick), corrupt and oversized inputs, clients that give up on sync
 * requests, jobs past the task timeout, and callback_urls to a receiver that is down
 * a third of the time. Faults: SIGKILL of a random API or worker every --kill-every s
 * (restarted after a pause), one Redis restart that loses everything, one PostgreSQL
 * restart. Load runs for --minutes, then the queue drains and every invariant is checked
 * and printed with its count; the exit code is 1 if any is violated. Not part of `npm
 * test`; .ci/run runs a 3-minute one, docs/RELIABILITY.md records the long runs.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import sharp from 'sharp';
import { PgStore } from '../src/db/pg-store.js';
import { KeyService } from '../src/keys/key-service.js';
import { REPO_ROOT, TEST_DATA_DIR } from '../test/helpers/paths.js';
import { exited, scaleoutEnv, spawnServer, waitHealthy } from '../test/helpers/process.js';
import { freePort } from '../test/helpers/server.js';
import { startS3, type TestS3 } from '../test/helpers/services.js';

// ------------------------------------------------------------------ options

const argv = process.argv.slice(2);
const opt = (name: string, fallback: number) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const MINUTES = opt('minutes', 20);
const RATE = opt('rate', 1);
const KILL_EVERY_S = opt('kill-every', 60);
const PAUSE_S = opt('pause', 8);
const DRAIN_S = opt('drain', 420);
const SEED = opt('seed', Date.now() % 100000);
const outIndex = argv.indexOf('--out');
const OUT = outIndex >= 0 ? argv[outIndex + 1]! : join(TEST_DATA_DIR, `soak-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
/** Resident memory a process may grow by after its first two minutes (MB). */
const RSS_GROWTH_BOUND_MB = 300;
const WEBHOOK_SECRET = `whsec_${Buffer.from('webhook secret of the chaos soak run 01').toString('base64')}`;

let rngState = SEED >>> 0 || 1;
const rand = () => ((rngState = (rngState * 1664525 + 1013904223) >>> 0) / 2 ** 32);
const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (line: string) => process.stderr.write(`[soak ${((Date.now() - T0) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
const T0 = Date.now();

// ------------------------------------------------------------------ private services

interface Service {
  stop(): Promise<void>;
}

/** A PostgreSQL cluster of our own (initdb into a temp dir), so that restarting it touches nothing else. */
async function startPostgres(): Promise<Service & { url: string; restart(): Promise<void> }> {
  const bin = readdirBin();
  const dir = mkdtempSync(join(tmpdir(), 'clearshot-soak-pg-'));
  const port = await freePort();
  const asRoot = process.getuid?.() === 0;
  if (asRoot) spawnSync('chown', ['-R', 'postgres:postgres', dir]);
  chmodSync(dir, 0o700);
  const run = (cmd: string, args: string[]) => {
    const r = asRoot ? spawnSync('su', ['postgres', '-s', '/bin/sh', '-c', [cmd, ...args].map((a) => `'${a}'`).join(' ')], { encoding: 'utf8' }) : spawnSync(cmd, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
  };
  run(join(bin, 'initdb'), ['-D', join(dir, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const pgctl = (action: string, extra: string[] = []) => run(join(bin, 'pg_ctl'), ['-D', join(dir, 'data'), '-l', join(dir, 'log'), '-w', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, ...extra, action]);
  pgctl('start');
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  return {
    url,
    async restart() {
      pgctl('restart', ['-m', 'fast']);
    },
    async stop() {
      try {
        pgctl('stop', ['-m', 'immediate']);
      } catch {
        // already down
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function readdirBin(): string {
  const versions = spawnSync('ls', ['/usr/lib/postgresql'], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean).sort();
  if (!versions.length) throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql');
  return join('/usr/lib/postgresql', versions[versions.length - 1]!, 'bin');
}

/** A Redis of our own that keeps nothing on disk: a restart loses every key. */
async function startRedis(): Promise<Service & { url: string; restart(): Promise<void> }> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
    probe.on('error', () => undefined);
    for (let i = 0; i < 100; i++) {
      try {
        await probe.connect();
        await probe.ping();
        probe.disconnect();
        return;
      } catch {
        await sleep(100);
      }
    }
    throw new Error('redis-server did not start');
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    async restart() {
      child!.kill('SIGKILL');
      await exited(child!);
      await sleep(3000);
      await start();
    },
    async stop() {
      child?.kill('SIGKILL');
      if (child) await exited(child);
    },
  };
}

/** Serves small images for image_url tasks. */
async function startImageServer(images: Buffer[]): Promise<Service & { url: (i: number) => string }> {
  const server = createServer((req, res) => {
    const n = Number(/\/img\/(\d+)\.png/.exec(req.url ?? '')?.[1]);
    const img = images[n % images.length];
    if (!Number.isFinite(n) || !img) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': img.length }).end(img);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { url: (i) => `http://127.0.0.1:${port}/img/${i}.png`, stop: () => closeServer(server) };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((r) => {
    server.closeAllConnections();
    server.close(() => r());
  });
}

/** The webhook receiver: records deliveries (and whether their signature verifies); down a third of the time. */
async function startReceiver(): Promise<Service & { url: string; got: Map<string, { valid: number; invalid: number }>; setUp(up: boolean): Promise<void> }> {
  const key = Buffer.from(WEBHOOK_SECRET.slice('whsec_'.length), 'base64');
  const got = new Map<string, { valid: number; invalid: number }>();
  const port = await freePort();
  let server: Server | undefined;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          const id = String(req.headers['webhook-id'] ?? '');
          const ts = String(req.headers['webhook-timestamp'] ?? '');
          const expected = `v1,${createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest('base64')}`;
          const valid = String(req.headers['webhook-signature'] ?? '').split(' ').includes(expected);
          let taskId = '';
          try {
            taskId = String((JSON.parse(body) as { data?: { task_id?: string } }).data?.task_id ?? '');
          } catch {
            // counted as invalid below
          }
          const entry = got.get(taskId) ?? { valid: 0, invalid: 0 };
          if (valid && taskId) entry.valid++;
          else entry.invalid++;
          got.set(taskId, entry);
          res.writeHead(200).end('ok');
        });
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
  await listen();
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    got,
    async setUp(up) {
      if (up && !server) await listen();
      if (!up && server) {
        const s = server;
        server = undefined;
        await closeServer(s);
      }
    },
    async stop() {
      if (server) await closeServer(server);
    },
  };
}

// ------------------------------------------------------------------ ClearShot processes

interface Proc {
  name: string;
  role: 'api' | 'worker';
  env: NodeJS.ProcessEnv;
  url: string;
  child?: ChildProcess;
  up: boolean;
  /** RSS samples (MB) of the current incarnation, with their time. */
  rss: Array<{ at: number; mb: number }>;
  incarnations: Array<{ maxMB: number; growthMB: number; seconds: number; warmMB: number; baseMB: number | undefined; afterMB: number | undefined }>;
}

async function launch(p: Proc, logDir: string): Promise<void> {
  p.child = spawnServer(p.env, join(logDir, `${p.name}.log`));
  p.rss = [];
  await waitHealthy(p.url, p.child, 120_000);
  p.up = true;
}

function retire(p: Proc): void {
  if (p.rss.length > 1) {
    const first = p.rss[0]!;
    const afterWarmup = p.rss.filter((s) => s.at - first.at >= 120_000);
    const base = afterWarmup[0]?.mb;
    const max = Math.max(...p.rss.map((s) => s.mb));
    const after = afterWarmup.length ? Math.max(...afterWarmup.map((s) => s.mb)) : undefined;
    const warm = Math.max(...p.rss.filter((s) => s.at - first.at < 120_000).map((s) => s.mb));
    p.incarnations.push({ maxMB: Math.round(max), growthMB: base === undefined ? 0 : Math.round(after! - base), seconds: Math.round((p.rss[p.rss.length - 1]!.at - first.at) / 1000), warmMB: Math.round(warm), baseMB: base, afterMB: after });
  }
  p.rss = [];
}

function sampleRss(p: Proc): void {
  if (!p.up || !p.child?.pid) return;
  try {
    const status = readFileSync(`/proc/${p.child.pid}/status`, 'utf8');
    p.rss.push({ at: Date.now(), mb: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024 });
  } catch {
    // exited
  }
}

// ------------------------------------------------------------------ the load

interface Accepted {
  id: string;
  key: string;
  kind: string;
  /** Expected output size when it succeeds. */
  width?: number;
  height?: number;
  /** The task must fail (corrupt input). */
  mustFail?: boolean;
  callback: boolean;
}

interface Counters {
  sent: number;
  accepted: number;
  refused4xx: number;
  refusedOther: number;
  unreachable: number;
  syncAbandoned: number;
  byKind: Record<string, number>;
}

async function main(): Promise<number> {
  const work = mkdtempSync(join(tmpdir(), 'clearshot-soak-'));
  const logDir = join(work, 'logs');
  mkdirSync(logDir);
  const dataDir = join(work, 'data');
  mkdirSync(dataDir);
  symlinkSync(join(TEST_DATA_DIR, 'models'), join(dataDir, 'models'));
  log(`seed ${SEED}, ${MINUTES} min of load at ${RATE}/s, a kill every ${KILL_EVERY_S} s; logs in ${logDir}`);

  const services: Service[] = [];
  const procs: Proc[] = [];
  const timers: NodeJS.Timeout[] = [];
  let exitCode = 1;
  try {
    const pgs = await startPostgres();
    services.push(pgs);
    const redis = await startRedis();
    services.push(redis);
    const s3: TestS3 = await startS3();
    services.push(s3);
    const small = await Promise.all([24, 32, 40, 48, 64].map((s, i) => sharp({ create: { width: s, height: Math.round(s * 0.75), channels: 3, background: { r: 40 * i, g: 120, b: 200 - 30 * i } } }).composite([{ input: Buffer.from(`<svg width="${s}" height="${Math.round(s * 0.75)}"><circle cx="${s / 2}" cy="${s / 3}" r="${s / 4}" fill="#fa3"/></svg>`), left: 0, top: 0 }]).png().toBuffer()));
    const sizes = await Promise.all(small.map(async (b) => sharp(b).metadata()));
    const images = await startImageServer(small);
    services.push(images);
    const receiver = await startReceiver();
    services.push(receiver);

    const extra: NodeJS.ProcessEnv = {
      CLEARSHOT_THREADS: '1',
      CLEARSHOT_JOB_LOCK_S: '5',
      CLEARSHOT_SWEEP_INTERVAL_S: '10',
      CLEARSHOT_TASK_TIMEOUT_S: '20',
      CLEARSHOT_SYNC_TIMEOUT_S: '30',
      CLEARSHOT_ALLOW_PRIVATE_URLS: '1',
      CLEARSHOT_WEBHOOK_SECRET: WEBHOOK_SECRET,
      CLEARSHOT_WEBHOOK_TIMEOUT_S: '3',
      CLEARSHOT_WEBHOOK_RETRY_S: '2,4,8,15,30,30,30,30,30,30,30,30',
      CLEARSHOT_RESULT_TTL_S: '7200',
      CLEARSHOT_RETENTION_S: '7200',
      CLEARSHOT_PRECISION: 'fp32',
    };
    const ports = await Promise.all([0, 1, 2, 3].map(() => freePort()));
    const defs: Array<[string, 'api' | 'worker']> = [['api1', 'api'], ['api2', 'api'], ['worker1', 'worker'], ['worker2', 'worker']];
    for (const [i, [name, role]] of defs.entries()) {
      const env = scaleoutEnv({ port: ports[i]!, role, dataDir, databaseUrl: pgs.url, redisUrl: redis.url, redisPrefix: 'soak', s3, extra });
      procs.push({ name, role, env, url: env.PUBLIC_URL!, up: false, rss: [], incarnations: [] });
    }
    // The schema is made by the first process; keys after it.
    await launch(procs[0]!, logDir);
    await Promise.all(procs.slice(1).map((p) => launch(p, logDir)));
    const store = await PgStore.open(pgs.url);
    const keyService = new KeyService(store);
    const keys = await Promise.all([1, 2, 3, 4].map((i) => keyService.create(`soak-${i}`, 1_000_000)));
    await store.close();
    log('4 processes up, 4 keys created');

    const accepted: Accepted[] = [];
    const counters: Counters = { sent: 0, accepted: 0, refused4xx: 0, refusedOther: 0, unreachable: 0, syncAbandoned: 0, byKind: {} };
    const faults: string[] = [];
    let loadRunning = true;
    const loadEnd = Date.now() + MINUTES * 60_000;
    const inflight = new Set<Promise<void>>();

    timers.push(setInterval(() => procs.forEach(sampleRss), 5000));
    const receiverToggle = setInterval(() => void receiver.setUp(rand() >= 1 / 3), 20_000);
    timers.push(receiverToggle);

    let warmupJobs = procs.filter((p) => p.role === 'worker').length;
    const one = async (): Promise<void> => {
      const k = pick(keys);
      const apis = procs.filter((p) => p.role === 'api' && p.up);
      if (!apis.length) {
        counters.unreachable++;
        return;
      }
      const api = pick(apis);
      // The first job for each worker is a `timeout` one (the quality model at 4x): each
      // worker then loads that model, the largest thing it ever holds, in its warm-up
      // window, not at a random later moment the memory check would count as growth.
      const r = warmupJobs-- > 0 ? 1 : rand();
      const imgIndex = Math.floor(rand() * small.length);
      const img = small[imgIndex]!;
      const size = sizes[imgIndex]!;
      const scale = pick([2, 4] as const);
      let callback = rand() < 0.3;
      let kind: string;
      let body: FormData | string;
      let headers: Record<string, string> = { 'X-API-KEY': k.key };
      let sync = false;
      let abandonMs: number | undefined;
      const fields: Record<string, string> = { scale_factor: String(scale) };
      if (callback) fields.callback_url = receiver.url;
      const expect: Partial<Accepted> = { width: size.width! * scale, height: size.height! * scale };
      if (r < 0.35) {
        kind = 'file';
        const form = new FormData();
        for (const [f, v] of Object.entries(fields)) form.append(f, v);
        form.append('image_file', new Blob([img]), 'p.png');
        body = form;
      } else if (r < 0.55) {
        kind = 'url';
        body = JSON.stringify({ ...fields, image_url: images.url(imgIndex) });
        headers = { ...headers, 'content-type': 'application/json' };
      } else if (r < 0.7) {
        kind = 'base64';
        body = JSON.stringify({ ...fields, image_base64: img.toString('base64') });
      } else if (r < 0.85) {
        kind = 'sync';
        sync = true;
        if (rand() < 0.35) abandonMs = 200 + Math.floor(rand() * 1500); // a client that gives up
        const form = new FormData();
        for (const [f, v] of Object.entries({ ...fields, sync: '1', return_type: pick(['1', '2']) })) form.append(f, v);
        form.append('image_file', new Blob([img]), 'p.png');
        body = form;
      } else if (r < 0.93) {
        kind = 'corrupt';
        expect.mustFail = true;
        const junk = randomBytes(200 + Math.floor(rand() * 2000));
        if (rand() < 0.5) img.copy(junk, 0, 0, 16); // a PNG signature in front of garbage
        const form = new FormData();
        for (const [f, v] of Object.entries(fields)) form.append(f, v);
        form.append('image_file', new Blob([junk]), 'bad.png');
        body = form;
      } else if (r < 0.97) {
        kind = 'oversized';
        callback = false;
        const tall = await sharp({ create: { width: 8, height: 4200, channels: 3, background: '#777' } }).png().toBuffer();
        const form = new FormData();
        form.append('image_file', new Blob([tall]), 'tall.png');
        body = form;
        expect.mustFail = true;
      } else {
        // Past the task timeout: the quality model at 4x on a 320 px photo takes longer than 20 s on one thread.
        kind = 'timeout';
        callback = false;
        const big = await sharp({ create: { width: 320, height: 320, channels: 3, background: '#456' } }).png().toBuffer();
        const form = new FormData();
        for (const [f, v] of Object.entries({ scale_factor: '4', model: 'quality' })) form.append(f, v);
        form.append('image_file', new Blob([big]), 'slow.png');
        body = form;
        expect.mustFail = true;
        delete expect.width;
        delete expect.height;
      }
      counters.sent++;
      counters.byKind[kind] = (counters.byKind[kind] ?? 0) + 1;
      let res: Response;
      try {
        res = await fetch(`${api.url}/api/tasks/visual/scale`, { method: 'POST', headers, body, signal: AbortSignal.timeout(abandonMs ?? 60_000) });
      } catch (err) {
        if (abandonMs !== undefined && (err as Error).name === 'TimeoutError') counters.syncAbandoned++;
        else counters.unreachable++;
        return;
      }
      let payload: { status?: number; data?: { task_id?: string; state?: number } };
      try {
        payload = (await res.json()) as typeof payload;
      } catch {
        counters.refusedOther++;
        return;
      }
      if (res.status >= 400 && res.status < 500) {
        counters.refused4xx++;
        return;
      }
      if (res.status !== 200 || !payload.data?.task_id) {
        counters.refusedOther++;
        return;
      }
      counters.accepted++;
      accepted.push({ id: payload.data.task_id, key: k.key, kind, callback, ...expect, ...(sync ? {} : {}) });
    };

    const load = (async () => {
      while (loadRunning && Date.now() < loadEnd) {
        const p = one().catch((err: unknown) => void log(`load error: ${(err as Error).message}`));
        inflight.add(p);
        void p.finally(() => inflight.delete(p));
        await sleep((1000 / RATE) * (0.5 + rand()));
      }
    })();

    const chaos = (async () => {
      const redisAt = T0 + 0.4 * MINUTES * 60_000;
      const pgAt = T0 + 0.7 * MINUTES * 60_000;
      let redisDone = false;
      let pgDone = false;
      let nextKill = Date.now() + KILL_EVERY_S * 1000;
      while (Date.now() < loadEnd) {
        await sleep(1000);
        if (!redisDone && Date.now() >= redisAt) {
          redisDone = true;
          log('fault: Redis restart (everything in it is lost)');
          faults.push('redis-restart');
          await redis.restart();
        }
        if (!pgDone && Date.now() >= pgAt) {
          pgDone = true;
          log('fault: PostgreSQL restart');
          faults.push('postgres-restart');
          await pgs.restart();
        }
        if (Date.now() >= nextKill) {
          nextKill = Date.now() + KILL_EVERY_S * 1000;
          const victim = pick(procs.filter((p) => p.up));
          log(`fault: SIGKILL ${victim.name}`);
          faults.push(`kill-${victim.name}`);
          victim.up = false;
          victim.child!.kill('SIGKILL');
          await exited(victim.child!);
          retire(victim);
          await sleep(PAUSE_S * 1000);
          await launch(victim, logDir);
          log(`${victim.name} back`);
        }
      }
    })();

    await Promise.all([load, chaos]);
    loadRunning = false;
    await Promise.all([...inflight]);
    clearInterval(receiverToggle);
    await receiver.setUp(true);
    log(`load done: ${counters.sent} sent, ${counters.accepted} accepted; draining`);

    // ------------------------------------------------------------ drain
    const db = new pg.Client({ connectionString: pgs.url });
    await db.connect();
    const ids = accepted.map((a) => a.id);
    const drainEnd = Date.now() + DRAIN_S * 1000;
    let open = ids.length;
    while (Date.now() < drainEnd) {
      const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM tasks WHERE id = ANY($1) AND state NOT IN (1) AND state >= 0', [ids]);
      open = Number(rows[0]!.n);
      const { rows: owed } = await db.query<{ n: string }>("SELECT count(*) AS n FROM webhook_deliveries WHERE status = 'pending'");
      if (open === 0 && Number(owed[0]!.n) === 0) break;
      await sleep(3000);
    }
    // Let the fairness counters settle after the last completions.
    await sleep(3000);
    log(`drained: ${open} accepted tasks not final`);

    // ------------------------------------------------------------ invariants
    const results: Array<{ name: string; ok: boolean; detail: string }> = [];
    const check = (name: string, ok: boolean, detail: string) => {
      results.push({ name, ok, detail });
      process.stdout.write(`${ok ? 'ok  ' : 'FAIL'} ${name}: ${detail}\n`);
    };

    // 1. Every accepted task reaches a final state.
    const { rows: taskRows } = await db.query<{ id: string; state: number; credits: string; key_id: string; result_blob: string | null }>('SELECT id, state, credits, key_id, result_blob FROM tasks');
    const byId = new Map(taskRows.map((t) => [t.id, t]));
    const lost = accepted.filter((a) => !byId.has(a.id));
    const notFinal = accepted.filter((a) => {
      const s = byId.get(a.id)?.state;
      return s !== undefined && s !== 1 && s >= 0;
    });
    const succeeded = accepted.filter((a) => byId.get(a.id)?.state === 1);
    const failedAs = (a: Accepted) => byId.get(a.id)!.state;
    check('every accepted task reaches a final state', lost.length === 0 && notFinal.length === 0, `${accepted.length} accepted: ${succeeded.length} succeeded, ${accepted.length - succeeded.length - notFinal.length - lost.length} failed, ${notFinal.length} still open, ${lost.length} missing from the database`);

    // Failures must be explained: corrupt / oversized / timeout inputs fail, good ones succeed.
    const wrongFailures = accepted.filter((a) => byId.has(a.id) && !a.mustFail && failedAs(a) < 0);
    const wrongSuccesses = accepted.filter((a) => byId.has(a.id) && a.mustFail && a.kind !== 'timeout' && failedAs(a) === 1);
    check('good inputs succeed, bad ones fail', wrongFailures.length === 0 && wrongSuccesses.length === 0, `${wrongFailures.length} good inputs failed (${[...new Set(wrongFailures.map((a) => `${a.kind}:${failedAs(a)}`))].join(', ') || 'none'}), ${wrongSuccesses.length} bad inputs succeeded`);

    // 2. Each success's result downloads as a valid image of the expected size.
    const api = procs.find((p) => p.role === 'api' && p.up)!;
    let downloaded = 0;
    const badResults: string[] = [];
    for (const a of succeeded) {
      const res = await fetch(`${api.url}/api/tasks/visual/scale/${a.id}`, { headers: { 'X-API-KEY': a.key } });
      const data = ((await res.json()) as { data: { image?: string } }).data;
      try {
        // return_type 2 answers the image itself, base64; 1 a signed URL.
        const isUrl = /^https?:\/\//.test(data.image ?? '');
        const img = isUrl ? await fetch(data.image!) : undefined;
        const bytes = img ? new Uint8Array(await img.arrayBuffer()) : Buffer.from(data.image ?? '', 'base64');
        const meta = await sharp(bytes).metadata();
        if ((img && img.status !== 200) || (a.width !== undefined && (meta.width !== a.width || meta.height !== a.height))) badResults.push(`${a.id}: ${img?.status ?? 'base64'} ${meta.width}x${meta.height}`);
        else downloaded++;
      } catch (err) {
        badResults.push(`${a.id}: ${(err as Error).message.slice(0, 120)}`);
      }
    }
    check('each success downloads as a valid image of the expected size', badResults.length === 0, `${downloaded} of ${succeeded.length} results downloaded and checked${badResults.length ? `; bad: ${badResults.slice(0, 5).join('; ')}` : ''}`);

    // 3. The ledger: one debit per successful task, of its price; none for a failure; nothing held.
    const { rows: debits } = await db.query<{ task_id: string; delta: string; n: string }>("SELECT task_id, min(delta) AS delta, count(*) AS n FROM ledger WHERE reason = 'debit' GROUP BY task_id");
    const debitOf = new Map(debits.map((d) => [d.task_id, d]));
    const twice = debits.filter((d) => Number(d.n) > 1);
    const chargedFailures = debits.filter((d) => byId.get(d.task_id)?.state !== 1);
    const successesAll = taskRows.filter((t) => t.state === 1);
    const mismatched = successesAll.filter((t) => Number(debitOf.get(t.id)?.delta ?? 0) !== -Number(t.credits));
    const { rows: keyRows } = await db.query<{ id: string; credits: string; held: string }>('SELECT id, credits, held FROM api_keys');
    const { rows: sums } = await db.query<{ key_id: string; total: string }>('SELECT key_id, sum(delta) AS total FROM ledger GROUP BY key_id');
    const balanceOff = keyRows.filter((k) => Number(sums.find((s) => s.key_id === k.id)?.total ?? 0) !== Number(k.credits) || Number(k.held) !== 0);
    check('credits ledger = successful tasks\' prices', twice.length === 0 && chargedFailures.length === 0 && mismatched.length === 0 && balanceOff.length === 0, `${successesAll.length} successful tasks, ${debits.length} debits: ${twice.length} charged twice, ${chargedFailures.length} failures charged, ${mismatched.length} successes not charged their price, ${balanceOff.length} keys whose balance or hold is off`);

    // 4. Every owed webhook delivered at least once with a valid signature.
    const owedTasks = accepted.filter((a) => a.callback && byId.has(a.id) && (byId.get(a.id)!.state === 1 || byId.get(a.id)!.state < 0));
    const undelivered = owedTasks.filter((a) => (receiver.got.get(a.id)?.valid ?? 0) < 1);
    const invalid = [...receiver.got.values()].reduce((n, e) => n + e.invalid, 0);
    const { rows: whRows } = await db.query<{ status: string; n: string }>('SELECT status, count(*) AS n FROM webhook_deliveries GROUP BY status');
    const { rows: whAll } = await db.query<{ task_id: string; status: string; attempts: number }>('SELECT task_id, status, attempts FROM webhook_deliveries');
    const whOf = new Map(whAll.map((w) => [w.task_id, w]));
    for (const a of undelivered.slice(0, 10)) log(`undelivered webhook: task ${a.id} (${a.kind}, state ${byId.get(a.id)!.state}), store row: ${JSON.stringify(whOf.get(a.id) ?? null)}`);
    check('every owed webhook delivered with a valid signature', undelivered.length === 0 && invalid === 0, `${owedTasks.length} owed, ${owedTasks.length - undelivered.length} delivered (${[...receiver.got.values()].reduce((n, e) => n + e.valid, 0)} valid requests, ${invalid} invalid); store: ${whRows.map((r) => `${r.status} ${r.n}`).join(', ')}`);

    // 5. Fairness counts back to zero with the queue empty.
    const r = new Redis(redis.url);
    const fairKeys = await r.keys('soak:*:fair:*');
    const nonZero: string[] = [];
    for (const k of fairKeys) {
      const type = await r.type(k);
      const v = type === 'string' ? Number(await r.get(k)) : type === 'zset' ? await r.zcard(k) : type === 'set' ? await r.scard(k) : 0;
      if (v !== 0) nonZero.push(`${k}=${v}`);
    }
    const waiting = await r.keys('soak:*:wait');
    r.disconnect();
    check('fairness counts return to zero', nonZero.length === 0, `${fairKeys.length} fairness keys, ${nonZero.length} not zero${nonZero.length ? `: ${nonZero.slice(0, 6).join(', ')}` : ''}; wait lists: ${waiting.length}`);

    // 6. Memory: no process grows past the bound after its first two minutes.
    procs.forEach(retire);
    const incarnations = procs.flatMap((p) => p.incarnations.map((i) => ({ name: p.name, role: p.role, ...i })));
    // Growth counts above the highest RSS a process of the same role reached in its own
    // warm-up (the role's working set: a worker that first meets the quality model after
    // its warm-up, or a restarted one, reaches what the other worker already held; a leak
    // keeps climbing past it).
    const envelope = (role: string) => Math.max(0, ...incarnations.filter((x) => x.role === role).map((x) => x.warmMB));
    const leaking = incarnations.filter((i) => i.afterMB !== undefined && i.afterMB - Math.max(i.baseMB!, envelope(i.role)) > RSS_GROWTH_BOUND_MB);
    check(`no process grows by more than ${RSS_GROWTH_BOUND_MB} MB after warm-up`, leaking.length === 0, `${incarnations.length} process lifetimes; max RSS ${Math.max(...incarnations.map((i) => i.maxMB))} MB, largest growth ${Math.max(0, ...incarnations.map((i) => i.growthMB))} MB over ${incarnations.find((i) => i.growthMB === Math.max(0, ...incarnations.map((x) => x.growthMB)))?.seconds ?? 0} s (${leaking.length} past the role's warm-up peak by more than ${RSS_GROWTH_BOUND_MB} MB${leaking.length ? `: ${leaking.map((i) => i.name).join(', ')}` : ''})`);

    await db.end();
    const kills = faults.filter((f) => f.startsWith('kill')).length;
    const summary = {
      date: new Date().toISOString(),
      machine: `${cpus().length} cores, ${cpus()[0]?.model ?? 'cpu'}`,
      seed: SEED,
      minutes: MINUTES,
      rate: RATE,
      faults: { kills, redisRestarts: faults.filter((f) => f === 'redis-restart').length, postgresRestarts: faults.filter((f) => f === 'postgres-restart').length, sequence: faults },
      load: counters,
      invariants: results,
      memory: incarnations,
    };
    writeFileSync(OUT, JSON.stringify(summary, null, 2));
    process.stdout.write(`${kills} kills, ${summary.faults.redisRestarts} Redis restart, ${summary.faults.postgresRestarts} PostgreSQL restart; load ${JSON.stringify(counters)}\nrecord: ${OUT}\n`);
    exitCode = results.every((x) => x.ok) ? 0 : 1;
    if (exitCode === 0) rmSync(logDir, { recursive: true, force: true });
    else log(`logs kept in ${logDir}`);
  } finally {
    // The memory sampler ran until here: a live interval kept the finished soak from exiting.
    for (const t of timers) clearInterval(t);
    for (const p of procs) p.child?.kill('SIGKILL');
    await Promise.all(procs.map((p) => (p.child ? exited(p.child) : undefined)));
    for (const s of services.reverse()) await s.stop().catch(() => undefined);
    rmSync(join(work, 'data'), { recursive: true, force: true });
  }
  return exitCode;
}

// Exit with the verdict even if a client library keeps a handle open: .ci/run waits on this.
process.exit(await main());
void REPO_ROOT;
