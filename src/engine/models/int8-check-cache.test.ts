import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cachedComparison } from './int8-check-cache.js';
import type { OutputComparison } from './precision.js';

describe('the int8 check kept between starts (int8-check-cache.ts)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'clearshot-int8-cache-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const fp32 = join(dir, 'a.onnx');
  const int8 = join(dir, 'b.onnx');
  writeFileSync(fp32, 'fp32 model bytes');
  writeFileSync(int8, 'int8 model bytes');
  let runs = 0;
  const measure = (result: OutputComparison) => async () => {
    runs++;
    return result;
  };
  const what = { label: 'fast network', fp32, int8, threads: 2 };

  it('measures once, then reads the measurement back and says where from', async () => {
    runs = 0;
    const first = await cachedComparison(dir, what, measure({ psnr: 47.25, shift: 0.004 }));
    assert.deepEqual(first, { psnr: 47.25, shift: 0.004 });
    const again = await cachedComparison(dir, what, measure({ psnr: 1, shift: 9 }));
    assert.equal(runs, 1);
    assert.equal(again.psnr, 47.25);
    assert.equal(again.shift, 0.004);
    assert.equal(again.cachedIn, join(dir, 'models', 'int8-check-fast-network.json'));
  });

  it('measures again when a model, the thread count or the network changes, and replaces the file', async () => {
    runs = 0;
    await cachedComparison(dir, what, measure({ psnr: 47.25, shift: 0.004 }));
    writeFileSync(int8, 'another int8 model');
    const changed = await cachedComparison(dir, what, measure({ psnr: 30, shift: 0.5 }));
    assert.equal(changed.cachedIn, undefined);
    assert.equal(changed.psnr, 30);
    await cachedComparison(dir, { ...what, threads: 1 }, measure({ psnr: 31, shift: 0.5 }));
    await cachedComparison(dir, { ...what, label: 'restoration network' }, measure({ psnr: 55, shift: 0 }));
    assert.equal(runs, 3);
    assert.deepEqual(readdirSync(join(dir, 'models')).sort(), ['int8-check-fast-network.json', 'int8-check-restoration-network.json']);
  });

  it('keeps identical outputs (Infinity dB) and re-measures over a damaged file', async () => {
    runs = 0;
    const file = join(dir, 'models', 'int8-check-fast-network.json');
    await cachedComparison(dir, what, measure({ psnr: Infinity, shift: 0 }));
    assert.equal((await cachedComparison(dir, what, measure({ psnr: 1, shift: 1 }))).psnr, Infinity);
    writeFileSync(file, '{"key": "trunc');
    assert.equal((await cachedComparison(dir, what, measure({ psnr: 44, shift: 0.1 }))).psnr, 44);
    assert.match(readFileSync(file, 'utf8'), /"psnr":44/);
    assert.equal(runs, 2);
  });

  it('without a data folder, always measures', async () => {
    runs = 0;
    await cachedComparison(undefined, what, measure({ psnr: 47, shift: 0 }));
    await cachedComparison(undefined, what, measure({ psnr: 47, shift: 0 }));
    assert.equal(runs, 2);
  });
});
