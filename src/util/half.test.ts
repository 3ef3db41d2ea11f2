import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { halfToFloat, halvesToFloats } from './half.js';

describe('fp16 -> fp32', () => {
  it('decodes normals, subnormals, zeros, infinities and NaN', () => {
    assert.equal(halfToFloat(0x3c00), 1);
    assert.equal(halfToFloat(0xc000), -2);
    assert.equal(halfToFloat(0x3555), 0.333251953125);
    assert.equal(halfToFloat(0x7bff), 65504);
    assert.equal(halfToFloat(0x0001), 2 ** -24);
    assert.equal(halfToFloat(0x03ff), 1023 * 2 ** -24);
    assert.ok(Object.is(halfToFloat(0x8000), -0));
    assert.equal(halfToFloat(0x7c00), Infinity);
    assert.equal(halfToFloat(0xfc00), -Infinity);
    assert.ok(Number.isNaN(halfToFloat(0x7e00)));
  });

  it('reads little-endian arrays at an offset', () => {
    const bytes = new Uint8Array([0xff, 0x00, 0x3c, 0x00, 0xc0]);
    assert.deepEqual([...halvesToFloats(bytes, 1, 2)], [1, -2]);
  });
});
