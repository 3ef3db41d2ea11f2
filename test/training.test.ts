import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openSession } from '../src/engine/models/onnx-session.js';
import { REPO_ROOT } from './helpers/paths.js';

/**
 * training/'s own quick test (training/clearshot_train/selftest.py): a few steps on a tiny
 * synthetic batch (the loss falls), the merge of the training-time blocks (equal to the
 * training graph within 1e-4) and an ONNX export, whose reference output ONNX Runtime
 * must reproduce here within 1e-4. It needs Python with PyTorch (Debian: apt-get install
 * python3-torch) and is skipped, saying so, where there is none: the service itself never
 * needs Python.
 */
const TRAINING = join(REPO_ROOT, 'training');

function pythonWithTorch(): string | undefined {
  for (const python of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(python, ['-c', 'import torch, numpy, PIL, scipy'], { encoding: 'utf8', timeout: 60_000 });
    if (r.status === 0) return python;
  }
  return undefined;
}

const python = pythonWithTorch();

describe('training/ quick test', () => {
  it('a tiny network learns, merges and exports; ONNX Runtime reproduces its reference', { skip: python ? false : 'no Python with PyTorch, NumPy, Pillow and SciPy here (apt-get install python3-torch python3-pil python3-scipy): training/ is not tested' }, async () => {
    const out = mkdtempSync(join(tmpdir(), 'clearshot-selftest-'));
    try {
      const r = spawnSync(python!, ['-m', 'clearshot_train', 'selftest', out], { cwd: TRAINING, encoding: 'utf8', timeout: 600_000, env: { ...process.env, OMP_NUM_THREADS: '2' } });
      assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, /loss falls on a tiny batch: True/);
      const ref = JSON.parse(readFileSync(join(out, 'selftest.reference.json'), 'utf8')) as { shape: number[]; input: number[]; output: number[] };
      const session = await openSession(join(out, 'selftest.onnx'), { threads: 1 });
      try {
        const [, c, h, w] = ref.shape as [number, number, number, number];
        const y = await session.run(Float32Array.from(ref.input), c, h, w);
        let worst = 0;
        for (let i = 0; i < ref.output.length; i++) worst = Math.max(worst, Math.abs(y.data[i]! - ref.output[i]!));
        assert.ok(worst < 1e-4, `ONNX Runtime vs PyTorch: max abs difference ${worst}`);
      } finally {
        await session.release();
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
