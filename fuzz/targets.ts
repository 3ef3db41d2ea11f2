import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClearShotError } from '../src/errors/index.js';
import { decodeBase64Image } from '../src/http/base64-image.js';
import { decodeBmp } from '../src/engine/image/bmp-decode.js';
import { decodeImage } from '../src/engine/image/decode.js';
import { readHeader } from '../src/engine/image/probe.js';
import { decodeSgi } from '../src/engine/image/sgi-decode.js';
import { MAX_SIDE } from '../src/engine/scale-rules.js';
import { REPO_ROOT } from '../test/helpers/paths.js';

/**
 * What the fuzzers feed untrusted bytes to (issue 22). Each target takes bytes and must
 * either return or throw a ClearShotError whose HTTP status is a 4xx (a clear refusal);
 * any other exception, a time over HANG_MS or memory past the run's bound is a finding.
 *
 * - bmp, sgi: our own decoders (src/engine/image/bmp-decode.ts, sgi-decode.ts);
 * - image: sniffing and the header read (probe.ts) of any bytes, then, for images up to
 *   4 MP, the whole decode (decode.ts: libvips for JPEG/PNG/WebP/TIFF/GIF, ours for
 *   BMP/SGI, our EXIF reader, alpha and 16-bit handling);
 * - base64: image_base64 decoding (src/http/base64-image.ts), the bytes read as text;
 * - body: POST /api/tasks/visual/scale through the real HTTP app (body parsers,
 *   multipart, field validation), the first line of the input as its Content-Type; the
 *   answer must be a JSON envelope with a 2xx or 4xx status.
 */
export interface FuzzTarget {
  readonly name: string;
  run(input: Uint8Array): Promise<void>;
  /** Called once per process before the first input (the body target starts its server). */
  setup?(): Promise<void>;
  teardown?(): Promise<void>;
}

export const HANG_MS = 5000;
export const CORPUS_DIR = join(REPO_ROOT, 'fuzz', 'corpus');
export const FINDINGS_DIR = join(REPO_ROOT, 'fuzz', 'findings');

/** A refusal the contract expects for bad input. */
export function isCleanRefusal(err: unknown): boolean {
  return err instanceof ClearShotError && err.httpStatus >= 400 && err.httpStatus < 500;
}

async function refusalsOnly(f: () => unknown): Promise<void> {
  try {
    await f();
  } catch (err) {
    if (!isCleanRefusal(err)) throw err;
  }
}

const MAX_PIXELS = MAX_SIDE * MAX_SIDE;

let server: { inject: (o: { method: string; url: string; headers: Record<string, string>; payload: Buffer }) => Promise<{ statusCode: number; body: string }>; stop: () => Promise<void>; key: string } | undefined;

export const TARGETS: readonly FuzzTarget[] = [
  { name: 'bmp', run: (b) => refusalsOnly(() => decodeBmp(b, MAX_PIXELS)) },
  { name: 'sgi', run: (b) => refusalsOnly(() => decodeSgi(b, MAX_PIXELS)) },
  {
    name: 'image',
    run: (b) =>
      refusalsOnly(async () => {
        const { header } = await readHeader(b);
        if (header.width * header.height <= 4_000_000) await decodeImage(b);
      }),
  },
  { name: 'base64', run: (b) => refusalsOnly(() => decodeBase64Image(Buffer.from(b).toString('latin1'), 1024 * 1024)) },
  {
    name: 'body',
    async setup() {
      // The real HTTP app over a fake engine: no inference, every parser as in production.
      const { startTestServer } = await import('../test/helpers/server.js');
      const { FakeEngine } = await import('../test/helpers/unit-fakes.js');
      const s = await startTestServer({ CLEARSHOT_RATE_LIMIT: '0', CLEARSHOT_QUERY_RATE_LIMIT: '0', LOG_LEVEL: 'silent' }, { engine: new FakeEngine() });
      server = { inject: (o) => s.service.app.inject(o), stop: () => s.stop(), key: s.key };
    },
    async teardown() {
      await server?.stop();
      server = undefined;
    },
    async run(b) {
      const text = Buffer.from(b);
      const nl = text.indexOf(10);
      const type = (nl < 0 ? text : text.subarray(0, nl)).toString('latin1').replace(/[\r\n]/g, '').slice(0, 200);
      const payload = nl < 0 ? Buffer.alloc(0) : text.subarray(nl + 1);
      const headers: Record<string, string> = { 'x-api-key': server!.key };
      if (type !== '-') headers['content-type'] = type;
      const res = await server!.inject({ method: 'POST', url: '/api/tasks/visual/scale', headers, payload });
      if (res.statusCode >= 500 || res.statusCode < 200) throw new Error(`status ${res.statusCode}: ${res.body.slice(0, 300)}`);
      const body = JSON.parse(res.body) as { status?: unknown; message?: unknown };
      if (body.status !== res.statusCode || typeof body.message !== 'string') throw new Error(`not an envelope: ${res.body.slice(0, 300)}`);
    },
  },
];

export function target(name: string): FuzzTarget {
  const t = TARGETS.find((x) => x.name === name);
  if (!t) throw new Error(`unknown fuzz target ${name}; known: ${TARGETS.map((x) => x.name).join(', ')}`);
  return t;
}

/** The committed seeds of a target (fuzz/corpus/<target>/*). */
export function seedsOf(name: string): Array<{ file: string; bytes: Uint8Array }> {
  const dir = join(CORPUS_DIR, name);
  return readdirSync(dir)
    .sort()
    .map((f) => ({ file: join(dir, f), bytes: new Uint8Array(readFileSync(join(dir, f))) }));
}

/** The committed findings of a target (fuzz/findings/<target>-*.bin): regression inputs. */
export function findingsOf(name: string): Array<{ file: string; bytes: Uint8Array }> {
  if (!existsSync(FINDINGS_DIR)) return [];
  return readdirSync(FINDINGS_DIR)
    .filter((f) => f.startsWith(`${name}-`) && f.endsWith('.bin'))
    .sort()
    .map((f) => ({ file: join(FINDINGS_DIR, f), bytes: new Uint8Array(readFileSync(join(FINDINGS_DIR, f))) }));
}
