import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planTiles, tilingOverhead } from './tiling.js';

describe('planTiles', () => {
  for (const [w, h, size, overlap] of [
    [1, 1, 512, 16],
    [512, 512, 512, 16],
    [513, 200, 512, 16],
    [1000, 37, 128, 8],
    [4096, 4096, 512, 16],
  ] as const) {
    it(`${w}x${h} tile ${size} overlap ${overlap}: inner rects cover every pixel exactly once`, () => {
      const tiles = planTiles(w, h, size, overlap);
      const seen = new Uint8Array(w * h);
      for (const { inner, outer } of tiles) {
        assert.ok(inner.width <= size && inner.height <= size && inner.width > 0 && inner.height > 0);
        assert.ok(outer.x >= 0 && outer.y >= 0 && outer.x + outer.width <= w && outer.y + outer.height <= h);
        assert.ok(outer.x <= inner.x && outer.y <= inner.y);
        assert.equal(inner.x - outer.x, Math.min(overlap, inner.x));
        for (let y = inner.y; y < inner.y + inner.height; y++) for (let x = inner.x; x < inner.x + inner.width; x++) seen[y * w + x]!++;
      }
      assert.ok(seen.every((v) => v === 1));
    });
  }

  it('splits evenly instead of leaving a sliver', () => {
    const tiles = planTiles(1030, 10, 512, 0);
    assert.deepEqual(
      tiles.map((t) => t.inner.width),
      [344, 343, 343],
    );
  });

  it('has no overhead for a single tile and bounded overhead otherwise', () => {
    assert.equal(tilingOverhead(planTiles(512, 512, 512, 16)), 1);
    const o = tilingOverhead(planTiles(1024, 1024, 512, 16));
    assert.ok(o > 1 && o < 1.07, `overhead ${o}`);
  });
});
