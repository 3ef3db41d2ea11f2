import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { arrayParam, intParam, parseNcnnParam } from './ncnn-param.js';

describe('ncnn param parser', () => {
  it('reads layers, blobs, scalar and array params', () => {
    const g = parseNcnnParam('7767517\n2 3\nInput data 0 1 x\nEltwise add 2 1 a b y 0=1 -23301=2,2.000000e-01,1.0\n');
    assert.equal(g.layers.length, 2);
    const add = g.layers[1]!;
    assert.deepEqual(add.bottoms, ['a', 'b']);
    assert.deepEqual(add.tops, ['y']);
    assert.equal(intParam(add, 0, -1), 1);
    assert.deepEqual(arrayParam(add, 1), [0.2, 1]);
    assert.equal(intParam(add, 5, 7), 7);
  });

  it('rejects a wrong magic, a wrong layer count and malformed params', () => {
    assert.throws(() => parseNcnnParam('123\n0 0\n'), /expected magic 7767517/);
    assert.throws(() => parseNcnnParam('7767517\n2 1\nInput data 0 1 x\n'), /declares 2 layers but 1 follow/);
    assert.throws(() => parseNcnnParam('7767517\n1 1\nInput data 0 1 x 0=abc\n'), /line 3: expected a number/);
    assert.throws(() => parseNcnnParam('7767517\n1 1\nInput data 0 1 x -23300=3,1,2\n'), /declares 3 values but has 2/);
    assert.throws(() => parseNcnnParam('7767517\n1 1\nConv c 1 1 x\n'), /lists fewer blobs than it declares/);
  });
});
