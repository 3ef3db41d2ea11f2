import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { photo, sizeOf } from './helpers/images.js';
import { fixture, REPO_ROOT, TEST_DATA_DIR } from './helpers/paths.js';

const BIN = join(REPO_ROOT, 'bin', 'clearshot.js');
let dir: string;

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: dir, env: { ...process.env, DATA_DIR: TEST_DATA_DIR, CLEARSHOT_THREADS: '2' } }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'clearshot-cli-'));
  await writeFile(join(dir, 'small.png'), await photo(40, 30));
  await writeFile(join(dir, 'not-an-image.jpg'), 'hello');
  await mkdir(join(dir, 'batch'));
  await copyFile(fixture('photos', 'chelsea.jpg'), join(dir, 'batch', 'cat.jpg'));
  await writeFile(join(dir, 'batch', 'small.png'), await photo(40, 30));
  await writeFile(join(dir, 'batch', 'notes.txt'), 'not an image, skipped by name');
  await writeFile(join(dir, 'batch', 'broken.jpg'), 'not an image, tried and failed');
});
after(() => rm(dir, { recursive: true, force: true }));

describe('clearshot enhance', () => {
  it('--help documents every option and exits 0', async () => {
    const r = await cli(['enhance', '--help']);
    assert.equal(r.code, 0);
    for (const option of ['--out', '--scale', '--model', '--format', '--precision', '--help']) assert.match(r.stdout, new RegExp(option));
  });

  it('enhances one file into the output folder and exits 0', async () => {
    const r = await cli(['enhance', 'small.png', '-o', 'out1', '--scale', '2', '--format', 'webp']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ok {3}small\.png: 40x30 -> 80x60 \(x2, fast\)/m);
    assert.doesNotMatch(r.stdout, /\r/, 'plain lines when stdout is not a terminal');
    assert.deepEqual(await sizeOf(await readFile(join(dir, 'out1', 'small.webp'))), { width: 80, height: 60, format: 'webp' });
  });

  it('writes to an explicit file name for a single input', async () => {
    const r = await cli(['enhance', 'small.png', '-o', 'named.jpg']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await sizeOf(await readFile(join(dir, 'named.jpg'))), { width: 160, height: 120, format: 'jpeg' });
  });

  it('goes on after a bad file, reports it, and exits with its code', async () => {
    const r = await cli(['enhance', 'not-an-image.jpg', 'small.png', 'missing.png', '-o', 'out2', '-s', '1']);
    assert.equal(r.code, 3, 'INVALID_IMAGE maps to exit code 3');
    assert.match(r.stdout, /^FAIL not-an-image\.jpg: invalid image file: .* \[INVALID_IMAGE\]$/m);
    assert.match(r.stdout, /^FAIL missing\.png: no such file or folder \[NOT_FOUND\]$/m);
    assert.match(r.stdout, /^1 succeeded, 2 failed$/m);
    assert.deepEqual(await readdir(join(dir, 'out2')), ['small.png']);
  });

  it('batches over a folder, skipping non-image names', async () => {
    const r = await cli(['enhance', 'batch', '-o', 'out3', '-s', '1']);
    // broken.jpg has an image extension, so it is tried and fails; notes.txt is skipped.
    assert.equal(r.code, 3);
    assert.match(r.stdout, /^2 succeeded, 1 failed$/m);
    assert.deepEqual((await readdir(join(dir, 'out3'))).sort(), ['cat.jpg', 'small.png']);
  });

  it('--data-dir names the folder of the converted models; the default output folder is enhanced/', async () => {
    const r = await new Promise<{ code: number; stderr: string }>((resolve) => {
      const env: NodeJS.ProcessEnv = { ...process.env, CLEARSHOT_THREADS: '2' };
      delete env.DATA_DIR;
      execFile(process.execPath, [BIN, 'enhance', '--data-dir', TEST_DATA_DIR, 'small.png', '--scale', '1'], { cwd: dir, env }, (err, _stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }),
      );
    });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await sizeOf(await readFile(join(dir, 'enhanced', 'small.png'))), { width: 40, height: 30, format: 'png' });
    assert.ok(!(await readdir(dir)).includes('data'), 'no ./data made: the models came from --data-dir');
  });

  it('refuses bad options with exit code 2', async () => {
    for (const args of [['enhance', 'small.png', '--scale', '3'], ['enhance', 'small.png', '--model', 'huge'], ['enhance'], ['enhance', 'x', '--bogus'], ['nope']]) {
      const r = await cli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    }
    const r = await cli(['enhance', 'small.png', '--scale', '3']);
    assert.match(r.stderr, /expected 1, 2, 4 or auto for --scale but received "3"/);
    const p = await cli(['enhance', 'small.png', '--precision', 'fp16']);
    assert.equal(p.code, 2);
    assert.match(p.stderr, /expected auto, fp32 or int8 for --precision but received "fp16"/);
  });
});
