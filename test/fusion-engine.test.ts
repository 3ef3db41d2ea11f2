import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { fusionFor } from '../src/engine/adapt/fusion.js';
import { CREW_MIN_PIXELS, crewStats } from '../src/engine/adapt/fusion-crew.js';
import { resizeRaster } from '../src/engine/image/raster.js';
import { LocalEngine } from '../src/engine/local-engine.js';
import { MODELS } from '../src/engine/models/model-registry.js';
import { runTiled } from '../src/engine/tile-runner.js';
import type { Raster } from '../src/engine/types.js';
import { consistencyGateRef, fuseRef } from './helpers/fusion-reference.js';
import { psnr, readRaster, sampleDiff } from './helpers/image-metrics.js';
import { fixture, TEST_DATA_DIR } from './helpers/paths.js';

/**
 * The engine's fused output (issue 21: the adaptive steps rewritten for speed) against
 * the fusion as it was, the straightforward loops kept in test/helpers/fusion-reference.ts,
 * applied to the same network output and Lanczos image: on committed photos at 2x and 4x
 * (the default path there) the two stay within 0.01 dB of each other against the
 * original, and differ by at most one level on a tiny share of the samples.
 */
let engine: LocalEngine;
before(async () => {
  engine = await LocalEngine.open({ dataDir: TEST_DATA_DIR, threads: 2, preload: ['fast'], precision: { setting: 'fp32' } });
});
after(async () => {
  await engine.close();
});

async function raster(bytes: Uint8Array): Promise<Raster> {
  return readRaster(await sharp(bytes).removeAlpha().toColourspace('srgb').png().toBuffer());
}

describe('the engine\'s fusion against the reference loops on real photos', () => {
  // The last case is large enough (512 x 512 out, adapt/fusion-crew.ts's minimum) for the
  // fusion to run on the engine's two threads: the helper must take bands there.
  for (const [photo, scale, left, top, size] of [['aitzgorri.jpg', 4, 200, 120, 192], ['coffee.jpg', 2, 120, 80, 192], ['chelsea.jpg', 4, 100, 40, 192], ['astronaut.jpg', 4, 0, 0, 512]] as const) {
    it(`${photo} at ${scale}x (${size} px): within 0.01 dB of the reference, <= 1 level apart`, async () => {
      // The original: a crop; the input: it shrunk by the scale (area) and saved as JPEG q85.
      const crewed = crewStats().shared;
      const originalPng = await sharp(fixture('photos', photo)).extract({ left, top, width: size, height: size }).png().toBuffer();
      const original = await raster(originalPng);
      const input = await sharp(originalPng).resize(size / scale, size / scale, { kernel: 'cubic' }).jpeg({ quality: 85 }).toBuffer();
      const result = await engine.enhance(input, { scale, format: 'png', precision: 'fp32' });
      assert.equal(result.width, size);
      const ours = await raster(result.data);
      // The reference from the same pieces: the network in the engine's tiles, its output
      // at the target size, the Lanczos image, the gate and the fusion as they were.
      const rgb = await raster(input);
      const net = await runTiled(await engine.session('fast', 'fp32'), rgb, 4, { tileSize: MODELS.fast.tileSize, overlap: MODELS.fast.overlap });
      const netOut = await resizeRaster(net, size, size);
      const lanczos = await resizeRaster(rgb, size, size);
      const ref = fuseRef(lanczos, consistencyGateRef(lanczos, netOut, rgb, scale), fusionFor(scale, result.restoration.strength));
      const dOurs = psnr(ours, original);
      const dRef = psnr(ref, original);
      assert.ok(Math.abs(dOurs - dRef) <= 0.01, `engine ${dOurs.toFixed(4)} dB, reference ${dRef.toFixed(4)} dB against the original`);
      const { max, differ, share } = sampleDiff(ours, ref);
      assert.ok(max <= 1 && share < 1e-3, `max ${max}, ${differ} of ${ours.data.length} samples differ`);
      // And the fusion did something: the result is neither the network's output nor the Lanczos image.
      assert.ok(psnr(ours, netOut) < 60 && psnr(ours, lanczos) < 60);
      assert.equal(crewStats().shared > crewed, size * size >= CREW_MIN_PIXELS, 'the fusion crew took the large case, and only it');
    });
  }
});
