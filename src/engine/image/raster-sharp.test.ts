import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp, { type Sharp } from 'sharp';
import type { Raster } from '../types.js';
import { colourspaceOf, resizeRaster, sharpFromRaster } from './raster.js';
import { rasterToTiff } from './tiff-carrier.js';

describe('8-bit rasters go to sharp as raw pixels (no TIFF carrier copy)', () => {
  it('the same bytes out as through the carrier: Lanczos, JPEG, PNG, WebP, for 1-4 channels', async () => {
    for (const [w, ch] of [[96, 3], [75, 1], [64, 4], [33, 2]] as const) {
      const data = Uint8Array.from({ length: w * w * ch }, (_, i) => ((i * 2654435761) >>> 7) & 255);
      const r: Raster = { width: w, height: w, channels: ch, depth: 8, data };
      const carrier = () => sharp(rasterToTiff(r), { limitInputPixels: false }).toColourspace(colourspaceOf(ch, 8));
      const ops = {
        lanczos: (s: Sharp) => s.resize(w * 2, w * 2, { kernel: 'lanczos3', fit: 'fill' }).raw(),
        jpeg: (s: Sharp) => s.jpeg({ quality: 92, chromaSubsampling: '4:4:4' }),
        png: (s: Sharp) => s.png(),
        webp: (s: Sharp) => s.webp({ quality: 90 }),
      };
      for (const [name, op] of Object.entries(ops)) {
        const raw = await op(sharpFromRaster(r)).toBuffer();
        assert.ok(raw.equals(await op(carrier()).toBuffer()), `${w}x${w}x${ch} ${name}`);
      }
      // And resizeRaster keeps its shape (the pipeline resizes 1-, 3- and 4-channel
      // rasters; gray + alpha never reaches it: alpha is resized on its own).
      if (ch === 2) continue;
      const up = await resizeRaster(r, w * 2, w * 2);
      assert.equal(up.channels, ch);
      assert.equal(up.data.length, 4 * data.length);
    }
  });
});
