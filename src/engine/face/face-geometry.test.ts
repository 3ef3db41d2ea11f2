import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyAffine, ellipseMask, FFHQ_TEMPLATE_512, fivePoints, invertAffine, similarityTransform, squareMask, type Point } from './face-geometry.js';

const close = (a: number, b: number, eps = 1e-6) => assert.ok(Math.abs(a - b) < eps, `${a} != ${b}`);

describe('face geometry', () => {
  it('recovers a known rotation, scale and translation from five points', () => {
    const angle = 0.3;
    const scale = 2.5;
    const move = (p: Point): Point => ({
      x: scale * (Math.cos(angle) * p.x - Math.sin(angle) * p.y) + 40,
      y: scale * (Math.sin(angle) * p.x + Math.cos(angle) * p.y) - 12,
    });
    const from = FFHQ_TEMPLATE_512.map((p) => ({ x: p.x / 4, y: p.y / 4 }));
    const m = similarityTransform(from, from.map(move));
    close(m[0], scale * Math.cos(angle));
    close(m[3], scale * Math.sin(angle));
    close(m[2], 40);
    close(m[5], -12);
    for (const p of from) {
      const q = applyAffine(m, p);
      const r = move(p);
      close(q.x, r.x);
      close(q.y, r.y);
      const back = applyAffine(invertAffine(m), q);
      close(back.x, p.x);
      close(back.y, p.y);
    }
  });

  it('never reflects: a mirrored face still gets a rotation, not a flip', () => {
    const mirrored = FFHQ_TEMPLATE_512.map((p) => ({ x: 512 - p.x, y: p.y }));
    const m = similarityTransform(mirrored, FFHQ_TEMPLATE_512);
    assert.ok(m[0] * m[4] - m[1] * m[3] > 0, 'positive determinant');
  });

  it('takes eye centres, nose tip and mouth corners from the 68 landmarks', () => {
    const pts = Array.from({ length: 68 }, (_, i) => ({ x: i, y: 2 * i }));
    const five = fivePoints(pts);
    assert.deepEqual(five, [
      { x: 38.5, y: 77 },
      { x: 44.5, y: 89 },
      { x: 30, y: 60 },
      { x: 48, y: 96 },
      { x: 54, y: 108 },
    ]);
    assert.throws(() => fivePoints(pts.slice(0, 5)), /expected 68 landmarks/);
  });

  it('masks fall smoothly from 1 to 0', () => {
    assert.equal(ellipseMask(50, 50, 50, 50, 10, 20, 0.5), 1);
    assert.equal(ellipseMask(59, 50, 50, 50, 10, 20, 0.5), 1);
    close(ellipseMask(62.5, 50, 50, 50, 10, 20, 0.5), 0.5);
    assert.equal(ellipseMask(65, 50, 50, 50, 10, 20, 0.5), 0);
    assert.equal(squareMask(0, 256, 512, 64), 0);
    close(squareMask(32, 256, 512, 64), 0.5);
    assert.equal(squareMask(256, 256, 512, 64), 1);
  });
});
