import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { LocalEngine } from '../src/engine/local-engine.js';
import { MODELS } from '../src/engine/models/model-registry.js';
import type { ModelName } from '../src/engine/types.js';
import { ClearShotError } from '../src/errors/index.js';
import { psnr, readRaster } from './helpers/image-metrics.js';
import { photo, sizeOf } from './helpers/images.js';
import { fixture, TEST_DATA_DIR } from './helpers/paths.js';

let engine: LocalEngine;

before(async () => {
  engine = await LocalEngine.open({ dataDir: TEST_DATA_DIR, threads: 2, preload: ['fast'] });
});
after(() => engine.close());

async function rejectsWith(promise: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof ClearShotError, `expected a ClearShotError, got ${String(e)}`);
    assert.equal(e.code, code);
    if (message) assert.match(e.message, message);
    return true;
  });
}

describe('scale rule at every boundary, through the real pipeline', () => {
  // Thin strips keep the network cheap while the long edge crosses each boundary.
  const cases: Array<[number, number, number]> = [
    [11, 11, 4],
    [512, 6, 4],
    [513, 6, 2],
    [1024, 4, 2],
    [1025, 4, 1],
    [4096, 2, 1],
  ];
  for (const [w, h, scale] of cases) {
    it(`${w}x${h} -> auto ${scale}x`, async () => {
      const r = await engine.enhance(await photo(w, h));
      assert.equal(r.scale, scale);
      assert.deepEqual(await sizeOf(r.data), { width: w * scale, height: h * scale, format: 'png' });
      assert.equal(r.width, w * scale);
    });
  }

  it('10 px long edge is too small, 4097 px side is too large', async () => {
    await rejectsWith(engine.enhance(await photo(10, 10)), 'IMAGE_TOO_SMALL');
    await rejectsWith(engine.enhance(await photo(4097, 2)), 'IMAGE_TOO_LARGE', /4097x2/);
    await rejectsWith(engine.enhance(await photo(2, 4097)), 'IMAGE_TOO_LARGE');
  });

  for (const scale of [1, 2, 4] as const) {
    it(`explicit scale ${scale} gives exactly input x ${scale}`, async () => {
      const r = await engine.enhance(await photo(73, 41, 'jpeg'), { scale });
      assert.equal(r.format, 'jpeg');
      assert.deepEqual(await sizeOf(r.data), { width: 73 * scale, height: 41 * scale, format: 'jpeg' });
    });
  }
});

describe('tiling', () => {
  // Seams must be invisible: tiled output vs the same image in one tile >= 45 dB.
  for (const [model, w, h, tile] of [
    ['fast', 160, 120, 48],
    ['quality', 72, 56, 32],
  ] as Array<[ModelName, number, number, number]>) {
    it(`${model}: tiled (${tile} px tiles, ${MODELS[model].overlap} px context) matches untiled >= 45 dB`, async () => {
      const input = await photo(w, h);
      const tiled = await LocalEngine.open({ dataDir: TEST_DATA_DIR, threads: 2, preload: [model], tuning: { tileSize: tile } });
      const whole = await LocalEngine.open({ dataDir: TEST_DATA_DIR, threads: 2, preload: [model], tuning: { tileSize: 4096 } });
      try {
        const a = await tiled.enhance(input, { model, scale: 4 });
        const b = await whole.enhance(input, { model, scale: 4 });
        const db = psnr(await readRaster(a.data), await readRaster(b.data));
        assert.ok(db >= 45, `tiled vs untiled ${db.toFixed(2)} dB`);
      } finally {
        await tiled.close();
        await whole.close();
      }
    });
  }
});

describe('progress and cancellation', () => {
  it('reports monotonic progress per tile, from 0 to 99', async () => {
    const small = await LocalEngine.open({ dataDir: TEST_DATA_DIR, threads: 2, preload: ['fast'], tuning: { tileSize: 32 } });
    try {
      const seen: number[] = [];
      await small.enhance(await photo(128, 96), { scale: 4, onProgress: (p) => seen.push(p) });
      assert.equal(seen[0], 0);
      assert.equal(seen.at(-1), 99);
      assert.ok(seen.every((p, i) => i === 0 || p > seen[i - 1]!), `not increasing: ${seen.join(',')}`);
      // 4 x 3 tiles: at least one report per tile between decode and encode.
      assert.ok(seen.filter((p) => p > 5 && p < 99).length >= 11, `too few steps: ${seen.join(',')}`);
    } finally {
      await small.close();
    }
  });

  it('stops between tiles when aborted, with the abort reason', async () => {
    const small = await LocalEngine.open({ dataDir: TEST_DATA_DIR, threads: 2, preload: ['fast'], tuning: { tileSize: 32 } });
    try {
      const controller = new AbortController();
      let reportsAfterAbort = 0;
      const run = small.enhance(await photo(128, 96), {
        signal: controller.signal,
        onProgress: (p) => {
          if (controller.signal.aborted) reportsAfterAbort++;
          if (p > 5) controller.abort();
        },
      });
      await rejectsWith(run, 'CANCELLED');
      assert.equal(reportsAfterAbort, 0);
      const timeout = new AbortController();
      timeout.abort(new ClearShotError('TIMEOUT', 'processing timeout after 1 s'));
      await rejectsWith(small.enhance(await photo(64, 64), { signal: timeout.signal }), 'TIMEOUT', /after 1 s/);
      // The engine is still usable afterwards.
      const ok = await small.enhance(await photo(32, 32), { scale: 1 });
      assert.equal(ok.width, 32);
    } finally {
      await small.close();
    }
  });
});

describe('bad input never crashes the engine', () => {
  it('empty, text, truncated JPEG and camera RAW give INVALID_IMAGE', async () => {
    await rejectsWith(engine.enhance(new Uint8Array(0)), 'INVALID_IMAGE', /empty/);
    await rejectsWith(engine.enhance(Buffer.from('this is not an image, even if it is named photo.jpg')), 'INVALID_IMAGE', /not an image/);
    const jpeg = await photo(300, 200, 'jpeg');
    await rejectsWith(engine.enhance(jpeg.subarray(0, Math.floor(jpeg.length * 0.6))), 'INVALID_IMAGE', /corrupt or truncated/);
    const dng = Buffer.alloc(64);
    dng.write('II*\0', 0, 'latin1');
    dng.writeUInt32LE(8, 4);
    dng.writeUInt16LE(1, 8);
    dng.writeUInt16LE(0xc612, 10); // DNGVersion tag
    await rejectsWith(engine.enhance(dng), 'INVALID_IMAGE', /camera RAW/);
  });

  it('a real photo still works after the failures', async () => {
    const r = await engine.enhance(await readFile(fixture('photos', 'chelsea.jpg')), { scale: 1 });
    assert.deepEqual([r.width, r.height, r.format], [451, 300, 'jpeg']);
  });
});

describe('output quality sanity', () => {
  // Real-ESRGAN is a GAN model, not a PSNR-optimised one (it trails Lanczos on clean
  // bicubic downscales; see docs/BENCHMARKS.md), but a broken pipeline (shifted,
  // channel-swapped, mis-scaled output) would fall far below nearest-neighbour.
  it('4x output is closer to the photo than nearest-neighbour upscaling of its downscale', async () => {
    const original = await sharp(fixture('photos', 'astronaut.jpg')).resize(256, 256).png().toBuffer();
    const small = await sharp(original).resize(64, 64, { kernel: 'cubic' }).png().toBuffer();
    const r = await engine.enhance(small, { scale: 4 });
    const nearest = await sharp(small).resize(256, 256, { kernel: 'nearest' }).png().toBuffer();
    const ref = await readRaster(original);
    const ours = psnr(await readRaster(r.data), ref);
    const naive = psnr(await readRaster(nearest), ref);
    assert.ok(ours > naive, `network ${ours.toFixed(2)} dB vs nearest ${naive.toFixed(2)} dB`);
  });
});
