/**
 * Regenerates test/fixtures/converter/: the fp32 reference outputs of both models on
 * a small real-photo crop, computed by the naive interpreter in
 * test/helpers/ncnn-interpreter.ts (no ONNX, no ONNX Runtime). Slow (about a minute
 * for the quality model); run by hand only when the fixture or weights change:
 *
 *   npm run build && node dist/scripts/make-converter-reference.js
 *
 * The input crop comes from scikit-image's "coffee" photo (CC0, Rachel Michetti);
 * see test/fixtures/README.md.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { sharpFromRaster } from '../src/engine/image/raster.js';
import { defaultSourceDir } from '../src/engine/models/model-store.js';
import { MODELS } from '../src/engine/models/model-registry.js';
import { interpretNcnn } from '../test/helpers/ncnn-interpreter.js';

const dir = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'converter');
const { data, info } = await sharp(join(dir, 'input.png')).removeAlpha().raw().toBuffer({ resolveWithObject: true });
const plane = info.width * info.height;
const input = { c: 3, h: info.height, w: info.width, data: new Float32Array(3 * plane) };
for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) input.data[c * plane + i] = data[i * 3 + c]! / 255;

for (const spec of Object.values(MODELS)) {
  const started = Date.now();
  const param = await readFile(join(defaultSourceDir(), `${spec.source}.param`), 'utf8');
  const bin = await readFile(join(defaultSourceDir(), `${spec.source}.bin`));
  const out = interpretNcnn(param, bin, input);
  const n = out.h * out.w;
  const px = new Uint16Array(n * 3);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) px[i * 3 + c] = Math.round(Math.min(1, Math.max(0, out.data[c * n + i]!)) * 65535);
  const png = await sharpFromRaster({ width: out.w, height: out.h, channels: 3, depth: 16, data: px }).png().toBuffer();
  await writeFile(join(dir, `reference-${spec.name}.png`), png);
  console.log(`${spec.name}: ${out.w}x${out.h} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
