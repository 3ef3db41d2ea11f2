import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClearShotError } from '../errors/index.js';
import { autoScale, checkDimensions, checkOutput } from './scale-rules.js';
import { DEFAULT_MAX_NET_PIXELS, planScale } from './scale-plan.js';

const code = (fn: () => void) => {
  try {
    fn();
    return 'ok';
  } catch (e) {
    return e instanceof ClearShotError ? e.code : 'other';
  }
};

describe('scale rules (contract: (10,512] 4x, (512,1024] 2x, (1024,4096] 1x)', () => {
  const cases: Array<[number, string, number | undefined]> = [
    [10, 'IMAGE_TOO_SMALL', undefined],
    [11, 'ok', 4],
    [512, 'ok', 4],
    [513, 'ok', 2],
    [1024, 'ok', 2],
    [1025, 'ok', 1],
    [4096, 'ok', 1],
    [4097, 'IMAGE_TOO_LARGE', undefined],
  ];
  for (const [edge, expected, scale] of cases) {
    it(`long edge ${edge}: ${expected}${scale ? `, auto ${scale}x` : ''}`, () => {
      for (const [w, h] of [
        [edge, 1],
        [1, edge],
        [edge, edge],
      ] as const) {
        assert.equal(code(() => checkDimensions(w, h)), expected);
        if (scale) assert.equal(autoScale(w, h), scale);
      }
    });
  }

  it('a short edge of 1 px is fine when the long edge is in range', () => {
    assert.equal(code(() => checkDimensions(4096, 1)), 'ok');
  });

  it('output size is exactly input x scale whatever the pre-downscale', () => {
    for (const [w, h] of [
      [11, 7],
      [513, 301],
      [1025, 999],
    ] as const) {
      for (const s of [1, 2, 4] as const) {
        const plan = planScale(w, h, s, 4);
        assert.deepEqual(plan.output, { width: w * s, height: h * s });
        assert.ok(plan.netOutput.width >= plan.output.width * 0.99 || plan.preDownscale > 1);
        assert.ok(plan.preDownscale <= 4 / s, 'never upsample classically after the network');
      }
    }
  });

  it('refuses outputs above 8192 x 8192 and says which scale fits', () => {
    assert.equal(code(() => checkOutput(2048, 2048, 4)), 'ok');
    assert.equal(code(() => checkOutput(4096, 4096, 2)), 'ok');
    assert.equal(code(() => checkOutput(2049, 2048, 4)), 'IMAGE_TOO_LARGE');
    assert.throws(() => checkOutput(4096, 4096, 4), /16384x16384 \(268 MP\); the largest output is 67\.108864 MP \(8192x8192\): use scale_factor 2/);
  });

  it('keeps the network input within the compute budget without classical upscaling', () => {
    // 1x of 4096 x 4096: shrunk by more than the usual 1.5 to fit the budget.
    const big = planScale(4096, 4096, 1, 4);
    assert.ok(big.preDownscale > 2 && big.preDownscale < 4);
    assert.equal(planScale(1200, 1000, 1, 4).preDownscale, 1.5);
    assert.ok(big.netInput.width * big.netInput.height <= DEFAULT_MAX_NET_PIXELS * 1.01);
    // 2x of 1024 x 1024 (the largest auto 2x) runs at full size.
    assert.equal(planScale(1024, 1024, 2, 4).preDownscale, 1);
    // 4x can never shrink first, whatever the size.
    assert.equal(planScale(2048, 2048, 4, 4).preDownscale, 1);
    // 2x of 4096 x 4096 stops at 2 (network output = target size).
    assert.equal(planScale(4096, 4096, 2, 4).preDownscale, 2);
    // A budget override lifts the cap.
    assert.equal(planScale(4096, 4096, 1, 4, { maxNetPixels: 64e6 }).preDownscale, 1.5);
  });
});
