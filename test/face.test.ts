import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { loadConfig } from '../src/config/config.js';
import { humanProportions, openFaceDetector } from '../src/engine/face/face-detector.js';
import { LocalEngine } from '../src/engine/local-engine.js';
import type { EnhanceResult, Raster } from '../src/engine/types.js';
import { ClearShotError } from '../src/errors/index.js';
import { json, createMultipart } from './helpers/client.js';
import { readRaster } from './helpers/image-metrics.js';
import { fixture, TEST_DATA_DIR } from './helpers/paths.js';
import { closeTestEngine, startTestServer } from './helpers/server.js';
import { tinyFaceModel } from './helpers/tiny-face-model.js';

/**
 * Face mode (issue 7) with the real detector, the real networks and real photos:
 * astronaut.jpg (NASA, public domain, committed) and the group photos that ship in
 * the @vladmandic/face-api package (its demo folder; faces counted by hand).
 */
const require = createRequire(import.meta.url);
const GROUP_DIR = join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo');

let engine: LocalEngine;
let tmp: string;

before(async () => {
  engine = await LocalEngine.open({ dataDir: TEST_DATA_DIR, threads: 2, preload: ['fast'] });
  tmp = await mkdtemp(join(tmpdir(), 'clearshot-face-'));
});
after(async () => {
  await engine.close();
  await closeTestEngine();
  await rm(tmp, { recursive: true, force: true });
});

async function rgb(input: string | Buffer): Promise<Raster> {
  const { data, info } = await sharp(input).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, channels: 3, depth: 8, data: new Uint8Array(data) };
}

/** The astronaut's face (x 181-265, y 70-176 in the 512 px photo) with its surroundings. */
function portrait(size: number, quality = 60): Promise<Buffer> {
  return sharp(fixture('photos', 'astronaut.jpg')).extract({ left: 120, top: 10, width: 220, height: 220 }).resize(size, size).jpeg({ quality }).toBuffer();
}

/** `count` copies of the astronaut portrait on a grey sheet, 4 per row, 160 px each. */
async function faceGrid(count: number): Promise<Buffer> {
  const face = await sharp(fixture('photos', 'astronaut.jpg')).extract({ left: 130, top: 20, width: 200, height: 200 }).resize(160, 160).png().toBuffer();
  const rows = Math.ceil(count / 4);
  const composite = Array.from({ length: count }, (_, i) => ({ input: face, left: (i % 4) * 160, top: Math.floor(i / 4) * 160 }));
  return sharp({ create: { width: 640, height: rows * 160, channels: 3, background: '#808080' } })
    .composite(composite)
    .png()
    .toBuffer();
}

async function pixels(result: EnhanceResult): Promise<Raster> {
  return readRaster(result.data);
}

/** Number of pixels that differ between two same-size rasters inside a rectangle. */
function changed(a: Raster, b: Raster, fx0: number, fy0: number, fx1: number, fy1: number): number {
  const [x0, y0, x1, y1] = [Math.floor(fx0), Math.floor(fy0), Math.ceil(fx1), Math.ceil(fy1)];
  let n = 0;
  for (let y = Math.max(0, y0); y < Math.min(a.height, y1); y++)
    for (let x = Math.max(0, x0); x < Math.min(a.width, x1); x++) {
      const i = (y * a.width + x) * a.channels;
      for (let c = 0; c < a.channels; c++)
        if (a.data[i + c] !== b.data[i + c]) {
          n++;
          break;
        }
    }
  return n;
}

describe('face detection', () => {
  const detector = openFaceDetector();
  const cases: Array<[string, () => Promise<Raster>, number]> = [
    ['astronaut.jpg', () => rgb(fixture('photos', 'astronaut.jpg')), 1],
    ['coffee.jpg (no person)', () => rgb(fixture('photos', 'coffee.jpg')), 0],
    ['group photo sample1.jpg', () => rgb(join(GROUP_DIR, 'sample1.jpg')), 3],
    ['group photo sample5.jpg', () => rgb(join(GROUP_DIR, 'sample5.jpg')), 5],
    ['a sheet of 12 portraits', async () => rgb(await faceGrid(12)), 12],
  ];
  for (const [name, image, count] of cases) {
    it(`finds ${count} face(s) in ${name}, largest first, with 68 landmarks inside the box`, async () => {
      const faces = await detector.detect(await image());
      assert.equal(faces.length, count);
      for (let i = 1; i < faces.length; i++) assert.ok(faces[i - 1]!.box.width * faces[i - 1]!.box.height >= faces[i]!.box.width * faces[i]!.box.height);
      for (const f of faces) {
        assert.equal(f.landmarks.length, 68);
        const nose = f.landmarks[30]!;
        assert.ok(nose.x > f.box.x && nose.x < f.box.x + f.box.width && nose.y > f.box.y && nose.y < f.box.y + f.box.height, 'nose tip inside the face box');
      }
    });
  }
});

describe('face detection rejects animals (issue 12)', () => {
  it('the cat stays a cat: no face found on chelsea.jpg, and the output is the clean one', async () => {
    const input = await sharp(fixture('photos', 'chelsea.jpg')).jpeg({ quality: 85 }).toBuffer();
    const face = await engine.enhance(input, { kind: 'face', scale: 2, format: 'png' });
    assert.equal(face.faces?.detected, 0, JSON.stringify(face.faces));
    const clean = await engine.enhance(input, { scale: 2, format: 'png' });
    assert.equal(changed(await pixels(clean), await pixels(face), 0, 0, face.width, face.height), 0);
  });

  it('the landmark check keeps human proportions and refuses a muzzle', () => {
    // Eyes 40 px apart; a human mouth 36 px wide, 44 px below them; a cat's 13 px wide, 27 px below.
    const shape = (mouthWidth: number, mouthDrop: number) => {
      const p = Array.from({ length: 68 }, () => ({ x: 50, y: 50 }));
      for (let i = 36; i < 42; i++) p[i] = { x: 30, y: 40 };
      for (let i = 42; i < 48; i++) p[i] = { x: 70, y: 40 };
      for (let i = 48; i < 68; i++) p[i] = { x: 50, y: 40 + mouthDrop };
      p[48] = { x: 50 - mouthWidth / 2, y: 40 + mouthDrop };
      p[54] = { x: 50 + mouthWidth / 2, y: 40 + mouthDrop };
      return p;
    };
    assert.equal(humanProportions(shape(36, 44)), true);
    assert.equal(humanProportions(shape(13, 27)), false);
    assert.equal(humanProportions(shape(36, 20)), false);
    assert.equal(humanProportions(shape(10, 44)), false);
    assert.equal(humanProportions([]), false);
  });
});

describe('per-request face controls (issue 12, issue 14)', () => {
  it('face_strength 0 gives the clean result; 1 changes the face more than the default', async () => {
    const input = await portrait(128);
    const clean = await pixels(await engine.enhance(input, { scale: 2, format: 'png' }));
    const zero = await engine.enhance(input, { kind: 'face', scale: 2, format: 'png', faceStrength: 0 });
    assert.equal(zero.faces?.enhanced, 1);
    assert.equal(changed(clean, await pixels(zero), 0, 0, 256, 256), 0);
    const half = await pixels(await engine.enhance(input, { kind: 'face', scale: 2, format: 'png', faceStrength: 0.5 }));
    const full = await pixels(await engine.enhance(input, { kind: 'face', scale: 2, format: 'png', faceStrength: 1 }));
    const distance = (a: Raster, b: Raster) => {
      let d = 0;
      for (let i = 0; i < a.data.length; i++) d += Math.abs(a.data[i]! - b.data[i]!);
      return d;
    };
    assert.ok(distance(full, clean) > 1.5 * distance(half, clean), `${distance(full, clean)} vs ${distance(half, clean)}`);
  });

  it('fix_face_only: outside the face the output is the classically resized input', async () => {
    const input = await portrait(128);
    const result = await engine.enhance(input, { kind: 'face', fixFaceOnly: true, scale: 2, format: 'png' });
    assert.equal(result.faces?.enhanced, 1);
    const lanczos = await rgb(await sharp(input).resize(256, 256, { kernel: 'lanczos3', fit: 'fill' }).png().toBuffer());
    const out = await pixels(result);
    const box = result.faces!.boxes[0]!;
    const r = Math.max(box.width, box.height);
    const cx = box.x + box.width / 2;
    const cy = box.y + box.height / 2;
    // Far from the face: Lanczos (within rounding); on the face: restored.
    let far = 0;
    let farDiff = 0;
    for (let y = 0; y < 256; y++) {
      for (let x = 0; x < 256; x++) {
        if (Math.abs(x - cx) < r && Math.abs(y - cy) < r) continue;
        for (let c = 0; c < 3; c++) {
          far++;
          farDiff = Math.max(farDiff, Math.abs(out.data[(y * 256 + x) * 3 + c]! - lanczos.data[(y * 256 + x) * 3 + c]!));
        }
      }
    }
    assert.ok(far > 10000 && farDiff <= 1, `max difference from Lanczos far from the face: ${farDiff}`);
    const inner = changed(lanczos, out, box.x + box.width / 4, box.y + box.height / 4, box.x + (3 * box.width) / 4, box.y + (3 * box.height) / 4);
    assert.ok(inner > 0.5 * (box.width / 2) * (box.height / 2), `only ${inner} face pixels differ from Lanczos`);
    assert.equal(result.restoration.strength, 0);
  });
});

describe('type=face through the engine', () => {
  it('restores the face of a small JPEG portrait and leaves the rest exactly as clean', async () => {
    const input = await portrait(128);
    const clean = await engine.enhance(input, { scale: 4, format: 'png' });
    const face = await engine.enhance(input, { kind: 'face', scale: 4, format: 'png' });
    assert.equal(face.width, 512);
    assert.equal(face.height, 512);
    assert.ok(face.faces);
    assert.equal(face.faces.detected, 1);
    assert.equal(face.faces.enhanced, 1);
    assert.equal(face.faces.restorer, 'fidelity');
    assert.ok(face.notes.some((n) => /1 face restored/.test(n)), face.notes.join('; '));
    const box = face.faces.boxes[0]!;
    assert.ok(box.x >= 0 && box.y >= 0 && box.x + box.width <= 512 && box.y + box.height <= 512 && box.width > 100, JSON.stringify(box));

    const [a, b] = [await pixels(clean), await pixels(face)];
    const cx = box.x + box.width / 2;
    const cy = box.y + box.height / 2;
    const r = Math.max(box.width, box.height);
    // Far from the face (outside a square twice its size): the clean result, to the bit.
    const total = changed(a, b, 0, 0, 512, 512);
    const near = changed(a, b, cx - r, cy - r, cx + r, cy + r);
    assert.equal(total - near, 0, 'pixels far from the face changed');
    // On the face itself: restored, so most pixels differ.
    const inner = changed(a, b, box.x + box.width / 4, box.y + box.height / 4, box.x + (3 * box.width) / 4, box.y + (3 * box.height) / 4);
    assert.ok(inner > 0.8 * (box.width / 2) * (box.height / 2), `only ${inner} face pixels changed`);
  });

  it('at 1x (the restoration network) face_strength 0 is the clean result to the bit, the default changes only the face', async () => {
    // CLEARSHOT_RESTORE_1X=network: auto gives the network only noisy photos.
    const net = await LocalEngine.open({ dataDir: TEST_DATA_DIR, threads: 2, preload: [], restore1x: 'network' });
    try {
      const input = await portrait(200, 60);
      const clean = await net.enhance(input, { scale: 1, format: 'png' });
      assert.equal(clean.restoration.network, 'restore-1x');
      assert.ok(clean.restoration.strength > 0, JSON.stringify(clean.restoration));
      const none = await net.enhance(input, { kind: 'face', scale: 1, faceStrength: 0, format: 'png' });
      assert.equal(none.faces?.enhanced, 1);
      const [a, b] = [await pixels(clean), await pixels(none)];
      assert.equal(changed(a, b, 0, 0, 200, 200), 0);
      const face = await net.enhance(input, { kind: 'face', scale: 1, format: 'png' });
      const box = face.faces!.boxes[0]!;
      const c = await pixels(face);
      const inner = changed(a, c, box.x + box.width / 4, box.y + box.height / 4, box.x + (3 * box.width) / 4, box.y + (3 * box.height) / 4);
      assert.ok(inner > 0.5 * (box.width / 2) * (box.height / 2), `only ${inner} face pixels changed`);
      const r = Math.max(box.width, box.height);
      const cx = box.x + box.width / 2;
      const cy = box.y + box.height / 2;
      assert.equal(changed(a, c, 0, 0, 200, 200) - changed(a, c, cx - r, cy - r, cx + r, cy + r), 0, 'pixels far from the face changed');
    } finally {
      await net.close();
    }
  });

  it('finds a face that fills a tiny, heavily compressed frame (an avatar)', async () => {
    // The face is ~70% of a 64 px JPEG q60: the plain detector pass misses such frames.
    const input = await sharp(fixture('photos', 'astronaut.jpg')).extract({ left: 163, top: 63, width: 120, height: 120 }).resize(64, 64).jpeg({ quality: 60 }).toBuffer();
    const face = await engine.enhance(input, { kind: 'face', scale: 4, format: 'png' });
    assert.equal(face.faces?.enhanced, 1);
    const box = face.faces!.boxes[0]!;
    assert.ok(box.width > 100 && box.width <= 256, JSON.stringify(box));
  });

  it('an image without a face is the clean result, and says so', async () => {
    const input = await sharp(fixture('photos', 'coffee.jpg')).resize(150, 100).jpeg({ quality: 80 }).toBuffer();
    const clean = await engine.enhance(input, { scale: 2, format: 'png' });
    const face = await engine.enhance(input, { kind: 'face', scale: 2, format: 'png' });
    assert.deepEqual(face.faces, { detected: 0, enhanced: 0, restorer: 'fidelity', boxes: [] });
    assert.ok(face.notes.includes('no face found: enhanced as clean'), face.notes.join('; '));
    assert.equal(changed(await pixels(clean), await pixels(face), 0, 0, 300, 200), 0);
  });

  it('restores at most 10 faces, the rest stay clean', async () => {
    const input = await faceGrid(12);
    const clean = await engine.enhance(input, { scale: 1, format: 'png' });
    const face = await engine.enhance(input, { kind: 'face', scale: 1, format: 'png' });
    assert.ok(face.faces);
    assert.equal(face.faces.detected, 12);
    assert.equal(face.faces.enhanced, 10);
    assert.equal(face.faces.boxes.length, 10);
    assert.ok(face.notes.some((n) => /12 faces found, the 10 largest restored/.test(n)), face.notes.join('; '));
    const [a, b] = [await pixels(clean), await pixels(face)];
    let untouched = 0;
    for (let i = 0; i < 12; i++) {
      const x = (i % 4) * 160;
      const y = Math.floor(i / 4) * 160;
      if (changed(a, b, x, y, x + 160, y + 160) === 0) untouched++;
    }
    assert.equal(untouched, 2);
  });

  it('keeps a gray portrait gray', async () => {
    const input = await sharp(await portrait(128, 85)).toColourspace('b-w').jpeg().toBuffer();
    assert.equal((await sharp(input).metadata()).channels, 1);
    const face = await engine.enhance(input, { kind: 'face', scale: 2, format: 'png' });
    assert.equal(face.faces?.enhanced, 1);
    assert.equal((await sharp(face.data).metadata()).channels, 1);
  });
});

describe('bring-your-own face model (CLEARSHOT_FACE_MODEL)', () => {
  it('pastes the model output back on the aligned face', async () => {
    const path = join(tmp, 'negate.onnx');
    await writeFile(path, tinyFaceModel('negate'));
    const own = await LocalEngine.open({ dataDir: TEST_DATA_DIR, threads: 2, preload: ['fast'], face: { model: path, strength: 1 } });
    try {
      const input = await portrait(200, 90);
      const clean = await engine.enhance(input, { scale: 2, format: 'png' });
      const face = await own.enhance(input, { kind: 'face', scale: 2, format: 'png' });
      assert.equal(face.faces?.restorer, 'model');
      assert.equal(face.faces?.enhanced, 1);
      const box = face.faces!.boxes[0]!;
      const [a, b] = [await pixels(clean), await pixels(face)];
      // The tiny model inverts colours: around the face centre the output is the negative.
      const cx = Math.round(box.x + box.width / 2);
      const cy = Math.round(box.y + box.height / 2);
      let err = 0;
      let n = 0;
      for (let y = cy - 5; y <= cy + 5; y++)
        for (let x = cx - 5; x <= cx + 5; x++)
          for (let c = 0; c < 3; c++) {
            const i = (y * a.width + x) * 3 + c;
            err += Math.abs(b.data[i]! - (255 - a.data[i]!));
            n++;
          }
      assert.ok(err / n < 20, `mean distance from the negative ${err / n}`);
      // Far from the face: untouched.
      const r = 1.6 * Math.max(box.width, box.height);
      assert.equal(changed(a, b, 0, 0, a.width, a.height) - changed(a, b, cx - r, cy - r, cx + r, cy + r), 0);
    } finally {
      await own.close();
    }
  });

  it('a model with the wrong signature fails at start, saying why', async () => {
    const path = join(tmp, 'halve.onnx');
    await writeFile(path, tinyFaceModel('halve'));
    await assert.rejects(LocalEngine.open({ dataDir: TEST_DATA_DIR, threads: 2, preload: [], face: { model: path } }), (e: unknown) => {
      assert.ok(e instanceof ClearShotError);
      assert.equal(e.code, 'CONFIG_INVALID');
      assert.match(e.message, /CLEARSHOT_FACE_MODEL .*halve\.onnx: output is 1x3x256x256, expected 1x3x512x512/);
      return true;
    });
  });

  it('a file that is not ONNX fails at start', async () => {
    const path = join(tmp, 'junk.onnx');
    await writeFile(path, 'not a model');
    await assert.rejects(LocalEngine.open({ dataDir: TEST_DATA_DIR, threads: 2, preload: [], face: { model: path } }), /CLEARSHOT_FACE_MODEL .*junk\.onnx/);
  });

  it('a missing file is a configuration error', () => {
    assert.throws(() => loadConfig({ CLEARSHOT_FACE_MODEL: '/nonexistent/gfpgan.onnx', CLEARSHOT_FACE_STRENGTH: '2' }), (e: unknown) => {
      assert.ok(e instanceof ClearShotError);
      assert.match(e.message, /CLEARSHOT_FACE_MODEL: expected a path to an existing file/);
      assert.match(e.message, /CLEARSHOT_FACE_STRENGTH: expected a number in \[0, 1\]/);
      return true;
    });
  });
});

describe('type=face over HTTP', () => {
  it('reports the faces in the task data', async () => {
    const server = await startTestServer();
    try {
      const res = await createMultipart(server, { type: 'face', sync: '1', scale_factor: '2' }, await portrait(128));
      const { body } = await json(res);
      assert.equal(body.status, 200);
      const data = body.data as Record<string, unknown> & { faces: { enhanced: number; boxes: unknown[] } };
      assert.equal(data.state, 1);
      assert.equal(data.type, 'face');
      assert.equal(data.state_detail, 'Complete');
      assert.equal(data.faces.enhanced, 1);
      assert.equal(data.faces.boxes.length, 1);

      const { body: none } = await json(await createMultipart(server, { type: 'face', sync: '1' }, await sharp(fixture('photos', 'coffee.jpg')).resize(120, 80).jpeg().toBuffer()));
      const noneData = none.data as Record<string, unknown> & { faces: { enhanced: number } };
      assert.equal(noneData.state, 1);
      assert.equal(noneData.state_detail, 'Complete: no face found, enhanced as clean');
      assert.equal(noneData.faces.enhanced, 0);
    } finally {
      await server.stop();
    }
  });
});
