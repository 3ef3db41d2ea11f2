import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TEST_DATA_DIR } from '../../../test/helpers/paths.js';
import { LocalEngine } from '../local-engine.js';
import { cpuFeatures } from './cpu-features.js';
import { Int8Selector } from './int8-selector.js';
import { decidePrecision, type OutputComparison } from './precision.js';

const pass: OutputComparison = { psnr: 45, shift: 0.05 };
const never = async (): Promise<OutputComparison> => assert.fail('the check must not run');

describe('precision choice (CLEARSHOT_PRECISION)', () => {
  it('fp32 and int8 are obeyed without a check', async () => {
    assert.equal((await decidePrecision({ setting: 'fp32', vnni: true, check: never })).precision, 'fp32');
    assert.equal((await decidePrecision({ setting: 'int8', vnni: false, check: never })).precision, 'int8');
  });

  it('auto keeps FP32 without VNNI, real or pretended, and says why', async () => {
    const none = await decidePrecision({ setting: 'auto', vnni: false, check: never });
    assert.equal(none.precision, 'fp32');
    assert.match(none.reason, /no AVX512-VNNI\/AVX-VNNI/);
    const pretend = await decidePrecision({ setting: 'auto', vnni: true, assumeNoVnni: true, check: never });
    assert.equal(pretend.precision, 'fp32');
    assert.match(pretend.reason, /CLEARSHOT_INT8_ASSUME_NO_VNNI/);
  });

  it('auto keeps FP32 when the int8 check fails (PSNR, mean shift or an error) and takes int8 when it passes', async () => {
    const low = await decidePrecision({ setting: 'auto', vnni: true, check: async () => ({ psnr: 39.8, shift: 0.1 }) });
    assert.equal(low.precision, 'fp32');
    assert.match(low.reason, /int8 check failed: 39\.80 dB vs FP32.*needs >= 42 dB/);
    const shifted = await decidePrecision({ setting: 'auto', vnni: true, check: async () => ({ psnr: 50, shift: -0.3 }) });
    assert.equal(shifted.precision, 'fp32');
    const broken = await decidePrecision({ setting: 'auto', vnni: true, check: async () => Promise.reject(new Error('no photos')) });
    assert.equal(broken.precision, 'fp32');
    assert.match(broken.reason, /could not be prepared: no photos/);
    const ok = await decidePrecision({ setting: 'auto', vnni: true, check: async () => pass });
    assert.equal(ok.precision, 'int8');
    assert.equal((await decidePrecision({ setting: 'auto', vnni: true, minPsnr: 46, check: async () => pass })).precision, 'fp32');
  });

  it('a request fp32/int8 wins over the engine choice', async () => {
    const network = { label: 'test network', fp32Path: async () => '/nonexistent', int8Model: async () => ({ path: '/nonexistent', converted: false }), check: never };
    const selector = new Int8Selector({ precision: { setting: 'int8' } }, network);
    assert.equal(await selector.precisionFor('fp32'), 'fp32');
    assert.equal(await selector.precisionFor(undefined), 'int8');
    assert.equal(await selector.precisionFor('auto'), 'int8');
    assert.match((await selector.decision()).reason, /^test network precision int8/);
  });

  it('under auto, a scale outside the network\'s autoScales gets FP32; a forced setting or request still applies', async () => {
    const network = { label: 'test network', fp32Path: async () => '/nonexistent', int8Model: async () => ({ path: '/nonexistent', converted: false }), check: never, autoScales: [2, 4] as const };
    const auto = new Int8Selector({ precision: { setting: 'auto' } }, network);
    assert.equal(await auto.precisionFor(undefined, 1), 'fp32');
    assert.equal(await auto.precisionFor('auto', 1), 'fp32');
    assert.equal(await auto.precisionFor('int8', 1), 'int8');
    const forced = new Int8Selector({ precision: { setting: 'int8' } }, network);
    assert.equal(await forced.precisionFor(undefined, 1), 'int8');
    assert.equal(await forced.precisionFor(undefined, 4), 'int8');
  });

  it('reads VNNI from cpuinfo flags', () => {
    assert.deepEqual(cpuFeatures('processor : 0\nflags\t\t: fpu avx2 avx512f avx512_vnni avx512_bf16\n'), { vnni: true, flags: ['avx512_vnni', 'avx512_bf16'] });
    assert.equal(cpuFeatures('flags : fpu avx_vnni\n').vnni, true);
    assert.deepEqual(cpuFeatures('flags : fpu sse2 avx2 fma\n'), { vnni: false, flags: [] });
  });

  it('an engine falls back to FP32 when its check fails or VNNI is absent, and a request can still force int8', async () => {
    for (const precision of [{ setting: 'auto' as const, minPsnr: 100 }, { setting: 'auto' as const, assumeNoVnni: true }]) {
      const lines: string[] = [];
      const engine = await LocalEngine.open({ dataDir: TEST_DATA_DIR, threads: 2, preload: ['fast'], precision, log: (l) => lines.push(l) });
      try {
        assert.ok(lines.some((l) => /fast network precision fp32 \(auto: /.test(l)), lines.join('\n'));
        assert.equal((await engine.session('fast')).precision, undefined);
        assert.equal((await engine.session('fast', 'int8')).precision, 'int8');
        // Only `fast` has an int8 variant among the Real-ESRGAN models.
        assert.equal((await engine.session('quality', 'int8')).precision, undefined);
      } finally {
        await engine.close();
      }
    }
  });

  it('auto judges the final output at default strength: a real engine takes int8 at a bar it passes and keeps FP32 at one it fails', { skip: !cpuFeatures().vnni && 'this CPU has no VNNI: auto never checks' }, async () => {
    const verdicts: Record<string, { line: string; precision: string | undefined }> = {};
    // 0 dB: any int8 model passes; 100 dB: none does (the measured figure is ~47 dB, README "int8").
    for (const minPsnr of [0, 100]) {
      const lines: string[] = [];
      const engine = await LocalEngine.open({ dataDir: TEST_DATA_DIR, threads: 2, preload: ['fast'], precision: { setting: 'auto', minPsnr }, log: (l) => lines.push(l) });
      try {
        verdicts[minPsnr] = { line: lines.find((l) => /fast network precision/.test(l)) ?? lines.join(' | '), precision: (await engine.session('fast')).precision };
      } finally {
        await engine.close();
      }
    }
    assert.equal(verdicts[0]!.precision, 'int8', verdicts[0]!.line);
    assert.match(verdicts[0]!.line, /int8 \(auto: VNNI present, check passed: (\d+\.\d+) dB vs FP32/);
    assert.equal(verdicts[100]!.precision, undefined, verdicts[100]!.line);
    assert.match(verdicts[100]!.line, /fp32 \(auto: the int8 check failed: .*needs >= 100 dB/);
    // The figure is the final images', not the raw network's (39.95 dB on this input).
    const psnr = Number(/check passed: (\d+\.\d+) dB/.exec(verdicts[0]!.line)![1]);
    assert.ok(psnr > 42, `final-output PSNR ${psnr}`);
  });
});
