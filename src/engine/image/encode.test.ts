import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { fixture } from '../../../test/helpers/paths.js';
import { encodeImage } from './encode.js';

/** The Huffman tables (class, id, 16 code-length counts) of a baseline JPEG, in file order. */
function huffmanTables(jpeg: Uint8Array): Array<{ cls: number; id: number; counts: number[] }> {
  const out: Array<{ cls: number; id: number; counts: number[] }> = [];
  let i = 2;
  while (i + 4 <= jpeg.length && jpeg[i] === 0xff) {
    const marker = jpeg[i + 1]!;
    const length = (jpeg[i + 2]! << 8) | jpeg[i + 3]!;
    if (marker === 0xda) break; // start of scan
    if (marker === 0xc4) {
      let p = i + 4;
      while (p < i + 2 + length) {
        const counts = Array.from(jpeg.subarray(p + 1, p + 17));
        out.push({ cls: jpeg[p]! >> 4, id: jpeg[p]! & 15, counts });
        p += 17 + counts.reduce((a, b) => a + b, 0);
      }
    }
    i += 2 + length;
  }
  return out;
}

describe('JPEG encoding', () => {
  it('writes the standard Huffman tables (no per-image optimisation pass), quality 92 at 4:4:4, with the exact pixels a libvips encode gives', async () => {
    const { data, info } = await sharp(fixture('photos', 'coffee.jpg')).resize(320, 200).raw().toBuffer({ resolveWithObject: true });
    const color = { width: info.width, height: info.height, channels: 3 as const, depth: 8 as const, data: new Uint8Array(data) };
    const out = await encodeImage({ color }, 'jpeg');
    const tables = huffmanTables(out.data);
    // ITU T.81 Annex K.3: the luminance DC and AC tables.
    assert.deepEqual(tables.find((t) => t.cls === 0 && t.id === 0)?.counts, [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(tables.find((t) => t.cls === 1 && t.id === 0)?.counts, [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 125]);
    const meta = await sharp(out.data).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height, meta.chromaSubsampling], ['jpeg', 320, 200, '4:4:4']);
    // Entropy coding only: the decoded pixels are those of an optimised encode at the same settings.
    const optimised = await sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } }).jpeg({ quality: 92, chromaSubsampling: '4:4:4', optimiseCoding: true }).toBuffer();
    assert.ok((await sharp(out.data).raw().toBuffer()).equals(await sharp(optimised).raw().toBuffer()));
  });
});
