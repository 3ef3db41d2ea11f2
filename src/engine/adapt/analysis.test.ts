import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { addNoise } from '../../../bench/lib/degrade.js';
import { fixture } from '../../../test/helpers/paths.js';
import type { Raster } from '../types.js';
import { analyzeImage, estimateBlocking, estimateNoise, estimateSharpness, lumaPlane } from './analysis.js';
import { crewStats, setFusionThreads } from './fusion-crew.js';
import { ijgTable, jpegQualityFromTables, readQuantTables } from './jpeg-quality.js';

async function rgb(input: Buffer | string): Promise<Raster> {
  const { data, info } = await sharp(input).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, channels: 3, depth: 8, data: new Uint8Array(data) };
}

const PHOTO = fixture('photos', 'aitzgorri.jpg');

describe('input analysis: JPEG quality', () => {
  it('reads the quality a file was written at from its quantization tables', async () => {
    for (const q of [20, 40, 60, 75, 85, 92, 95]) {
      const bytes = await sharp(PHOTO).jpeg({ quality: q }).toBuffer();
      assert.equal(jpegQualityFromTables(bytes), q, `written at ${q}`);
      const a = analyzeImage(await rgb(bytes), bytes, 'jpeg');
      assert.equal(a.jpegQuality, q);
      assert.equal(a.jpegQualitySource, 'tables');
    }
  });

  it('reads 16-bit tables and the IJG scaling at the ends of the range', () => {
    assert.deepEqual(ijgTable([16, 11], 50), [16, 11]);
    assert.deepEqual(ijgTable([16, 11], 100), [1, 1]);
    assert.deepEqual(ijgTable([16, 11], 1), [255, 255]);
    // SOI, DQT with one 16-bit table (Pq=1, id 0) of all 2s, EOI.
    const dqt = [0xff, 0xdb, 0x00, 2 + 1 + 128, 0x10, ...Array.from({ length: 64 }, () => [0, 2]).flat()];
    const tables = readQuantTables(Uint8Array.from([0xff, 0xd8, ...dqt, 0xff, 0xd9]));
    assert.deepEqual(tables.get(0), Array(64).fill(2));
  });

  it('has no quality for a file without tables, and for a clean PNG', async () => {
    assert.equal(jpegQualityFromTables(Uint8Array.from([0x89, 0x50, 0x4e, 0x47])), undefined);
    const png = await sharp(PHOTO).png().toBuffer();
    const a = analyzeImage(await rgb(png), png, 'png');
    assert.equal(a.jpegQuality, undefined, JSON.stringify(a));
    assert.equal(a.jpegQualitySource, undefined);
  });

  it('estimates the quality of a re-saved JPEG (PNG of a q30 JPEG) from its blocking', async () => {
    const png = await sharp(await sharp(PHOTO).jpeg({ quality: 30 }).toBuffer()).png().toBuffer();
    const a = analyzeImage(await rgb(png), png, 'png');
    assert.equal(a.jpegQualitySource, 'blocking', JSON.stringify(a));
    assert.ok(a.jpegQuality !== undefined && a.jpegQuality <= 70, JSON.stringify(a));
    const high = await sharp(await sharp(PHOTO).jpeg({ quality: 95 }).toBuffer()).png().toBuffer();
    const b = analyzeImage(await rgb(high), high, 'png');
    assert.ok(b.jpegQuality === undefined || b.jpegQuality > a.jpegQuality, JSON.stringify(b));
  });
});

describe('input analysis: noise and sharpness', () => {
  it('measures added Gaussian noise within 20% on a smooth image, and ~0 without it', async () => {
    // A smooth gradient: the estimator's mask cancels it exactly.
    const w = 256;
    const h = 256;
    const flat = Buffer.alloc(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) flat.fill(60 + Math.round((x + y) / 4), (y * w + x) * 3, (y * w + x) * 3 + 3);
    for (const sigma of [3, 6, 10]) {
      const noisy = addNoise(flat, sigma, 3);
      const luma = lumaPlane({ width: w, height: h, channels: 3, depth: 8, data: new Uint8Array(noisy) });
      // Per-channel noise sigma; luma averages three independent channels.
      const lumaSigma = sigma * Math.sqrt(0.299 ** 2 + 0.587 ** 2 + 0.114 ** 2);
      const est = estimateNoise(luma, w, h);
      assert.ok(Math.abs(est - lumaSigma) < 0.2 * lumaSigma, `sigma ${sigma}: estimated ${est.toFixed(2)}, expected ${lumaSigma.toFixed(2)}`);
    }
    assert.ok(estimateNoise(lumaPlane({ width: w, height: h, channels: 3, depth: 8, data: new Uint8Array(flat) }), w, h) < 0.5);
  });

  it('a photo is sharper than its blurred copy, and sharpness falls with the blur', async () => {
    const sharpness = async (sigma: number) => {
      const img = await rgb(sigma > 0 ? await sharp(PHOTO).blur(sigma).png().toBuffer() : await sharp(PHOTO).png().toBuffer());
      return estimateSharpness(lumaPlane(img), img.width, img.height);
    };
    const [s0, s1, s2] = [await sharpness(0), await sharpness(1), await sharpness(2.5)];
    assert.ok(s0 > s1 && s1 > s2, `${s0} ${s1} ${s2}`);
    assert.ok(s0 > 0.5 && s2 < 0.42, `${s0} ${s2}`);
  });

  it('blocking is ~1 on a clean image and grows as JPEG quality falls', async () => {
    const blocking = async (q: number | undefined) => {
      const img = await rgb(q ? await sharp(PHOTO).jpeg({ quality: q }).toBuffer() : await sharp(PHOTO).png().toBuffer());
      return estimateBlocking(lumaPlane(img), img.width, img.height);
    };
    const [clean, q80, q30] = [await blocking(undefined), await blocking(80), await blocking(30)];
    assert.ok(clean < 1.12, `clean ${clean}`);
    assert.ok(q30 > q80 && q80 > clean, `${clean} ${q80} ${q30}`);
  });
});

describe('input analysis: the sweeps against the reference loops', () => {
  it('luma and noise to the bit, blocking and sharpness within 1e-8 (rows summed in order), on photos of odd sizes, gray, 16-bit, tiny and over the 2048 px window', async () => {
    const ref = await import('../../../test/helpers/analysis-reference.js');
    const cases: Raster[] = [];
    for (const [name, w, h] of [['aitzgorri.jpg', 640, 480], ['coffee.jpg', 333, 217], ['chelsea.jpg', 97, 61], ['astronaut.jpg', 12, 11], ['camera.jpg', 9, 40]] as const) {
      cases.push(await rgb(await sharp(fixture('photos', name)).resize(w, h, { fit: 'fill' }).jpeg({ quality: 70 }).toBuffer()));
    }
    // Over the window on both axes, and on one only (the window is centred on a 16 px grid).
    cases.push(await rgb(await sharp(fixture('photos', 'coffee.jpg')).resize(2600, 2113, { fit: 'fill' }).jpeg({ quality: 60 }).toBuffer()));
    cases.push(await rgb(await sharp(fixture('photos', 'chelsea.jpg')).resize(3001, 700, { fit: 'fill' }).toBuffer()));
    const gray = await sharp(fixture('photos', 'camera.jpg')).resize(301, 203).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
    cases.push({ width: gray.info.width, height: gray.info.height, channels: 1, depth: 8, data: new Uint8Array(gray.data) });
    const deep = await sharp(fixture('photos', 'aitzgorri.jpg')).resize(257, 129).toColourspace('rgb16').raw({ depth: 'ushort' }).toBuffer({ resolveWithObject: true });
    cases.push({ width: deep.info.width, height: deep.info.height, channels: 3, depth: 16, data: new Uint16Array(deep.data.buffer, deep.data.byteOffset, deep.data.byteLength / 2) });
    for (const img of cases) {
      const label = `${img.width}x${img.height}x${img.channels}/${img.depth}`;
      const luma = lumaPlane(img);
      assert.deepEqual(luma, ref.lumaPlaneRef(img), `luma ${label}`);
      const { width: w, height: h } = img;
      near(estimateBlocking(luma, w, h), ref.estimateBlockingRef(luma, w, h), `blocking ${label}`);
      assert.equal(estimateNoise(luma, w, h), ref.estimateNoiseRef(luma, w, h), `noise ${label}`);
      near(estimateSharpness(luma, w, h), ref.estimateSharpnessRef(luma, w, h), `sharpness ${label}`);
      const window = ref.analysisWindowRef(img);
      const wl = ref.lumaPlaneRef(window);
      const expected = { blocking: ref.estimateBlockingRef(wl, window.width, window.height), noise: ref.estimateNoiseRef(wl, window.width, window.height), sharpness: ref.estimateSharpnessRef(wl, window.width, window.height) };
      const got = analyzeImage(img, undefined, 'png');
      near(got.blocking, expected.blocking, `analysis blocking ${label}`);
      assert.equal(got.noise, expected.noise, `analysis noise ${label}`);
      near(got.sharpness, expected.sharpness, `analysis sharpness ${label}`);
    }
  });

  it('gives the same figures on 1, 2 and 3 threads, the large ones through the crew', async () => {
    const sizes = [[700, 500], [1999, 1201], [2600, 2113]] as const;
    try {
      for (const [w, h] of sizes) {
        const img = await rgb(await sharp(fixture('photos', 'coffee.jpg')).resize(w, h, { fit: 'fill' }).jpeg({ quality: 50 }).toBuffer());
        const figures = [];
        for (const threads of [1, 2, 3]) {
          await setFusionThreads(threads);
          const before = crewStats().shared;
          figures.push(analyzeImage(img, undefined, 'png'));
          assert.equal(crewStats().shared > before, threads > 1, `${w}x${h} on ${threads} thread(s): crew calls`);
        }
        assert.deepEqual(figures[1], figures[0], `${w}x${h}: 2 threads`);
        assert.deepEqual(figures[2], figures[0], `${w}x${h}: 3 threads`);
      }
    } finally {
      await setFusionThreads(1);
    }
  });
});

function near(got: number, want: number, label: string): void {
  assert.ok(Math.abs(got - want) <= 1e-8 * Math.abs(want), `${label}: ${got} vs ${want}`);
}
