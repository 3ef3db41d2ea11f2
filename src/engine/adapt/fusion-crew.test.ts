import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, describe, it } from 'node:test';
import sharp from 'sharp';
import { fixture } from '../../../test/helpers/paths.js';
import type { Raster } from '../types.js';
import { bands, CREW_MAX_PIXELS, CREW_MIN_PIXELS, crewFor, crewStats, setFusionThreads, sharedCopy, sharedFloat32 } from './fusion-crew.js';
import { fuse, fuseGated, fusionFor } from './fusion.js';

/** A photo as a raster of `channels` channels and `depth` bits. */
async function photo(name: string, width: number, height: number, channels: 1 | 3 | 4, depth: 8 | 16): Promise<Raster> {
  let img = sharp(fixture('photos', name)).resize(width, height, { fit: 'cover' });
  img = channels === 1 ? img.grayscale() : channels === 4 ? img.ensureAlpha(0.8) : img.removeAlpha();
  const { data, info } = await img.raw({ depth: depth === 16 ? 'ushort' : 'uchar' }).toBuffer({ resolveWithObject: true });
  assert.equal(info.channels, channels);
  const view = depth === 16 ? new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return { width, height, channels, depth, data: view.slice() };
}

const hash = (r: Raster) => createHash('sha256').update(new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.byteLength)).digest('hex');
/** A copy in shared memory, as the tile runner writes the network's output. */
const copy = (r: Raster): Raster => sharedCopy({ ...r, data: r.data.slice() });

describe('the fusion on several threads (fusion crew)', () => {
  after(() => setFusionThreads(1));

  it('splits a range into aligned bands that cover it once', () => {
    assert.deepEqual(bands(10, 2), [[0, 5], [5, 10]]);
    assert.deepEqual(bands(10, 3, 4), [[0, 4], [4, 8], [8, 10]]);
    assert.deepEqual(bands(3, 4), [[0, 1], [1, 2], [2, 3]]); // never an empty band
    for (const [length, parts, align] of [[2048, 2, 4], [1023, 3, 4], [7, 5, 1], [1, 2, 4]] as const) {
      const b = bands(length, parts, align);
      assert.equal(b[0]![0], 0);
      assert.equal(b.at(-1)![1], length);
      for (let i = 1; i < b.length; i++) {
        assert.equal(b[i]![0], b[i - 1]![1]);
        assert.equal(b[i]![0] % align, 0);
      }
    }
  });

  // 768 x 512 = 393 k output pixels: above the crew's minimum, so the helpers take bands.
  const cases: Array<{ name: string; channels: 1 | 3 | 4; depth: 8 | 16; scale: 1 | 4; strength: number; overwriteNet: boolean }> = [
    { name: 'RGB 8-bit at 4x (gated)', channels: 3, depth: 8, scale: 4, strength: 0.63, overwriteNet: true },
    { name: 'RGB 8-bit at 4x, strength 1 (gate only)', channels: 3, depth: 8, scale: 4, strength: 1, overwriteNet: false },
    { name: 'RGB 16-bit at 1x', channels: 3, depth: 16, scale: 1, strength: 0.4, overwriteNet: true },
    { name: 'RGBA 8-bit at 4x', channels: 4, depth: 8, scale: 4, strength: 0.7, overwriteNet: false },
    { name: 'grey 8-bit at 4x', channels: 1, depth: 8, scale: 4, strength: 0.5, overwriteNet: true },
  ];

  it('gives the same bytes on 1 and 3 threads, and the helpers do take bands', async () => {
    assert.ok(768 * 512 >= CREW_MIN_PIXELS);
    for (const k of cases) {
      const input = await photo('astronaut.jpg', 768 / k.scale, 512 / k.scale, k.channels, k.depth);
      const base = await photo('astronaut.jpg', 768, 512, k.channels, k.depth); // Lanczos up (or the input at 1x)
      const net = await photo('coffee.jpg', 768, 512, k.channels, k.depth); // a very different "network output"
      const run = () => fuseGated(base, copy(net), k.scale === 1 ? base : input, k.scale, fusionFor(k.scale, k.strength), { overwriteNet: k.overwriteNet });
      await setFusionThreads(1);
      assert.equal(crewFor(768 * 512).size, 1);
      const solo = run();
      await setFusionThreads(3);
      assert.equal(crewFor(768 * 512).size, 3);
      const before = crewStats();
      const crewed = run();
      const stats = crewStats();
      assert.ok(stats.shared > before.shared, `${k.name}: no call went to the helpers`);
      assert.equal(stats.solo, before.solo, `${k.name}: a call fell back to one thread`);
      assert.equal(hash(crewed), hash(solo), `${k.name}: the result depends on the thread count`);
      assert.notEqual(hash(solo), hash(base), `${k.name}: the fusion changed nothing`);
    }
  });

  it('fuses a network output outside shared memory (resized after the network) on the calling thread alone', async () => {
    await setFusionThreads(2);
    const base = await photo('astronaut.jpg', 768, 512, 3, 8);
    const net = await photo('coffee.jpg', 768, 512, 3, 8);
    const before = crewStats();
    const solo = fuse(base, { ...net, data: net.data.slice() }, fusionFor(1, 0.5), { overwriteNet: true });
    assert.deepEqual(crewStats(), before, 'the crew took an unshared network output');
    assert.equal(hash(fuse(base, copy(net), fusionFor(1, 0.5), { overwriteNet: true })), hash(solo));
    assert.ok(crewStats().shared > before.shared);
  });

  it('runs small and very large fusions, and calls with unshared arrays, on the calling thread alone, with the same result', async () => {
    await setFusionThreads(2);
    assert.equal(crewFor(CREW_MIN_PIXELS - 1).size, 1);
    assert.equal(crewFor(CREW_MAX_PIXELS).size, 2);
    assert.equal(crewFor(CREW_MAX_PIXELS + 1).size, 1, 'a fusion above 16.8 MP went to the crew');
    const base = await photo('chelsea.jpg', 96, 64, 3, 8);
    const net = await photo('coffee.jpg', 96, 64, 3, 8);
    const before = crewStats();
    fuse(base, net, fusionFor(1, 0.5));
    assert.deepEqual(crewStats(), before, 'a small fusion went to the crew');
    // A blur pass over an ordinary array: a helper would blur a copy, so the caller does it all.
    const crew = crewFor(CREW_MIN_PIXELS);
    assert.equal(crew.size, 2);
    const plane = new Float32Array(64 * 64).map((_, i) => (i * 7919) % 255);
    const shared = sharedFloat32(plane.length);
    shared.set(plane);
    crew.run({ kind: 'columns', plane, width: 64, height: 64, r: 3, passes: 2 }, 64);
    assert.equal(crewStats().solo, before.solo + 1);
    crew.run({ kind: 'columns', plane: shared, width: 64, height: 64, r: 3, passes: 2 }, 64);
    assert.equal(crewStats().shared, before.shared + 1);
    assert.deepEqual([...shared], [...plane]);
  });
});
