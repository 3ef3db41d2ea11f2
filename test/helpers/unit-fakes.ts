import type { TaskRequest } from '../../src/tasks/task.js';
import sharp from 'sharp';
import type { Engine } from '../../src/engine/local-engine.js';
import type { EnhanceOptions, EnhanceResult } from '../../src/engine/types.js';
import { ClearShotError } from '../../src/errors/index.js';
import type { BlobStore } from '../../src/storage/blob-store.js';

/**
 * In-memory collaborators for the unit tests (test/unit): nothing here loads a model,
 * opens a socket or touches the disk. Everything else the units use is the real thing
 * (SQLite in memory, the embedded queue, the real probe).
 */

/** A small real JPEG (solid colour with a gradient so it is not trivially flat). */
export async function jpeg(width: number, height: number, quality = 80): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) raw.set([(x * 7) & 255, (y * 5) & 255, 128], (y * width + x) * 3);
  return sharp(raw, { raw: { width, height, channels: 3 } }).jpeg({ quality }).toBuffer();
}

/** A BlobStore in a Map, with failures on demand. */
export class MemoryBlobStore implements BlobStore {
  readonly objects = new Map<string, { data: Uint8Array; contentType: string }>();
  /** Puts whose key starts with `prefix` fail this many more times (Infinity = always). */
  private failing: { prefix: string; left: number } | undefined;
  puts = 0;

  failPuts(prefix: string, times: number): void {
    this.failing = { prefix, left: times };
  }

  async put(key: string, data: Uint8Array, contentType: string): Promise<void> {
    this.puts++;
    if (this.failing && key.startsWith(this.failing.prefix) && this.failing.left > 0) {
      this.failing.left--;
      throw new ClearShotError('STORAGE_FAILED', 'storing a file failed (injected)');
    }
    this.objects.set(key, { data: new Uint8Array(data), contentType });
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    return this.objects.get(key)?.data;
  }

  async delete(key: string): Promise<void> {
    this.objects.delete(key);
  }

  keys(): string[] {
    return [...this.objects.keys()].sort();
  }
}

export type FakeBehaviour =
  /** Returns a JPEG `scale` times the input's size (default). */
  | { readonly kind: 'ok' }
  /** Throws this error (a retryable or a non-retryable ClearShotError). */
  | { readonly kind: 'fail'; readonly error: ClearShotError }
  /** Never finishes by itself: reports progress, then waits for the signal. */
  | { readonly kind: 'hang' };

/**
 * An Engine that does no inference: reports progress 0..100, honours the AbortSignal
 * (throws CANCELLED when it aborts) and returns a real JPEG of the scaled size.
 * `behaviours` are used one per call, the last one repeating.
 */
export class FakeEngine implements Engine {
  readonly calls: Array<{ bytes: number; options: EnhanceOptions }> = [];
  behaviours: FakeBehaviour[] = [{ kind: 'ok' }];
  /** Resolves once a call has started (the hang tests abort after it). */
  private startedWaiters: Array<() => void> = [];
  closed = false;

  started(): Promise<void> {
    return new Promise((resolve) => this.startedWaiters.push(resolve));
  }

  async enhance(bytes: Uint8Array, options: EnhanceOptions = {}): Promise<EnhanceResult> {
    const behaviour = this.behaviours[Math.min(this.calls.length, this.behaviours.length - 1)]!;
    this.calls.push({ bytes: bytes.length, options });
    for (const w of this.startedWaiters.splice(0)) w();
    const signal = options.signal;
    const aborted = () => new ClearShotError('CANCELLED', 'enhancement aborted');
    if (signal?.aborted) throw aborted();
    options.onProgress?.(10);
    if (behaviour.kind === 'fail') throw behaviour.error;
    if (behaviour.kind === 'hang') {
      await new Promise<void>((_, reject) => {
        if (!signal) return;
        signal.addEventListener('abort', () => reject(aborted()), { once: true });
      });
    }
    const meta = await sharp(bytes).metadata();
    const scale = options.scale ?? 2;
    const width = meta.width! * scale;
    const height = meta.height! * scale;
    const data = await jpeg(width, height);
    options.onProgress?.(100);
    return {
      data,
      format: 'jpeg',
      contentType: 'image/jpeg',
      width,
      height,
      inputWidth: meta.width!,
      inputHeight: meta.height!,
      inputFormat: meta.format ?? 'unknown',
      scale,
      model: options.model ?? 'fast',
      notes: ['fake engine'],
      analysis: { jpegQuality: 80, jpegQualitySource: 'tables', noise: 0.1, sharpness: 0.2, blocking: 0.3 },
      restoration: { strength: options.strength ?? 0.75, auto: options.strength === undefined, degradation: 0.4, preDownscale: 1, network: scale === 1 ? 'restore-1x' : options.model ?? 'fast' },
      timings: {},
    };
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

export const HOUR = 3_600_000;
/** A fixed start for injected clocks. */
export const T0 = 1_800_000_000_000;
/** A plain clean request with every optional field at its default. */
export const PLAIN_REQUEST: TaskRequest = { returnType: 1, sync: false, type: 'clean', scale: undefined, model: 'fast', format: undefined, keepGps: false };

/**
 * AbortSignal.timeout's timers are unref'd: in a server the listening socket keeps the
 * process alive, in a bare test nothing does. Holds the event loop while `p` runs.
 */
export async function alive<T>(p: Promise<T>): Promise<T> {
  const timer = setInterval(() => undefined, 1000);
  try {
    return await p;
  } finally {
    clearInterval(timer);
  }
}
