import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Raster } from '../types.js';
import { boxBlurRef, consistencyGateRef, fuseRef, fusionWeightsRef } from '../../../test/helpers/fusion-reference.js';
import { sampleDiff } from '../../../test/helpers/image-metrics.js';
import { boxBlur, consistencyGate, DEFAULT_FUSION, fuse, fuseGated, fusionFor, fusionWeights } from './fusion.js';
import { autoStrength, chooseRestoration, degradation, faceRegionStrength } from './policy.js';

function raster(width: number, height: number, f: (x: number, y: number) => number): Raster {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.fill(f(x, y), (y * width + x) * 3, (y * width + x) * 3 + 3);
  return { width, height, channels: 3, depth: 8, data };
}

describe('fidelity fusion', () => {
  const base = raster(64, 64, (x, y) => 100 + ((x * 7 + y * 13) % 40)); // "texture"
  const net = raster(64, 64, () => 120); // the network flattened it

  it('strength 0 is the classical image and strength 1 the network, to the bit', () => {
    assert.equal(fuse(base, net, { ...DEFAULT_FUSION, strength: 0 }), base);
    assert.equal(fuse(base, net, { ...DEFAULT_FUSION, strength: 1 }), net);
  });

  it('keeps texture the network erased: a mid strength stays near the input there', () => {
    const out = fuse(base, net, { ...DEFAULT_FUSION, strength: 0.5, defect: 1 });
    let dBase = 0;
    let dNet = 0;
    for (let i = 0; i < out.data.length; i++) {
      dBase += Math.abs(out.data[i]! - base.data[i]!);
      dNet += Math.abs(out.data[i]! - net.data[i]!);
    }
    assert.ok(dBase < 0.25 * dNet, `distance to input ${dBase}, to network ${dNet}`);
  });

  it('uses the network where its change is within the input\'s defects (a repair)', () => {
    const noisy = raster(64, 64, (x, y) => 120 + (((x * 31 + y * 17) % 5) - 2)); // +-2 levels of noise
    const w = fusionWeights(noisy, net, { ...DEFAULT_FUSION, strength: 0.5, defect: 2 });
    for (const v of w) assert.ok(Math.abs(v - 0.5) < 1e-6, `weight ${v}`);
    const textured = fusionWeights(base, net, { ...DEFAULT_FUSION, strength: 0.5, defect: 2 });
    assert.ok(textured.every((v) => v < 0.2), 'texture keeps the input');
  });

  it('tone anchoring removes a uniform shift the network adds', () => {
    const flat = raster(64, 64, () => 40);
    const darker = raster(64, 64, () => 34);
    const out = fuse(flat, darker, { ...DEFAULT_FUSION, strength: 0.75, defect: 10 });
    for (const v of out.data) assert.equal(v, 40);
    const kept = fuse(flat, darker, { ...DEFAULT_FUSION, strength: 0.75, defect: 10, toneRadius: 0 });
    for (const v of kept.data) assert.equal(v, Math.round(40 - 0.75 * 6));
  });

  it('box blur preserves the mean and flattens a step', () => {
    const p = new Float32Array(100).map((_, i) => (i % 10 < 5 ? 0 : 10));
    boxBlur(p, 10, 10, 2, 3);
    const mean = p.reduce((a, b) => a + b, 0) / p.length;
    assert.ok(Math.abs(mean - 5) < 0.6, String(mean));
    assert.ok(p[4]! > 0 && p[5]! < 10);
  });

  it('16-bit rasters fuse in their own range', () => {
    const b16: Raster = { width: 8, height: 8, channels: 3, depth: 16, data: new Uint16Array(192).fill(40000) };
    const n16: Raster = { width: 8, height: 8, channels: 3, depth: 16, data: new Uint16Array(192).fill(50000) };
    const out = fuse(b16, n16, { ...DEFAULT_FUSION, strength: 0.5, toneRadius: 0, defect: 100 });
    assert.equal(out.depth, 16);
    for (const v of out.data) assert.equal(v, 45000);
  });
});

describe('consistency gate (2x/4x)', () => {
  // The input: a soft ramp from 60 to 180 over 8 pixels (a motion-blurred edge), 32x8.
  const ramp = (x: number) => 60 + 120 * Math.min(1, Math.max(0, (x - 12) / 8));
  const input = raster(32, 8, (x) => Math.round(ramp(x)));
  // Classical 2x: the ramp at the output's pixel centres (what Lanczos gives on a ramp).
  const base = raster(64, 16, (x) => Math.round(ramp((x + 0.5) / 2 - 0.5)));
  it('keeps a network output that shrinks back to the input', () => {
    const faithful = raster(64, 16, (x) => input.data[Math.floor(x / 2) * 3]!); // pixel replication: area-down gives the input exactly
    assert.equal(consistencyGate(base, faithful, input, 2), faithful);
  });
  it('holds back a change that makes the soft edge hard (it no longer shrinks to the input)', () => {
    const hard = raster(64, 16, (x) => (x < 32 ? 60 : 180));
    const out = consistencyGate(base, hard, input, 2);
    assert.notEqual(out, hard);
    let toBase = 0;
    let toHard = 0;
    for (let i = 0; i < out.data.length; i++) {
      toBase += Math.abs(out.data[i]! - base.data[i]!);
      toHard += Math.abs(out.data[i]! - hard.data[i]!);
    }
    assert.ok(toBase < toHard, `distance to classical ${toBase}, to the network ${toHard}`);
    // Far from the edge both agree, and the output is the same there.
    for (let y = 0; y < 16; y++) assert.equal(out.data[(y * 64 + 2) * 3], 60);
  });
  it('does nothing at 1x or when the sizes are not an exact multiple', () => {
    const hard = raster(64, 16, (x) => (x < 32 ? 60 : 180));
    assert.equal(consistencyGate(base, hard, base, 1), hard);
    assert.equal(consistencyGate(base, hard, raster(31, 8, () => 0), 2), hard);
  });
});

/** Deterministic pseudo-random photo-like raster: smooth shading plus texture and noise. */
function photoLike(width: number, height: number, seed: number, depth: 8 | 16 = 8): Raster {
  let state = seed >>> 0;
  const rand = () => ((state = (state * 1664525 + 1013904223) >>> 0) / 2 ** 32);
  const max = depth === 16 ? 65535 : 255;
  const data = depth === 16 ? new Uint16Array(width * height * 3) : new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        const v = 0.5 + 0.3 * Math.sin(x / (7 + c) + y / 11) + 0.1 * Math.sin(x * y / 40) + 0.08 * (rand() - 0.5);
        data[(y * width + x) * 3 + c] = Math.round(Math.min(1, Math.max(0, v)) * max);
      }
    }
  }
  return { width, height, channels: 3, depth, data };
}

/** A "network output": the base changed in a smooth and a textured way, plus a tone shift. */
function changed(base: Raster, seed: number): Raster {
  const other = photoLike(base.width, base.height, seed, base.depth);
  const max = base.depth === 16 ? 65535 : 255;
  const data = base.data.map((v, i) => Math.min(max, Math.max(0, Math.round(0.7 * v + 0.3 * other.data[i]! - 0.01 * max))));
  return { ...base, data } as Raster;
}


describe('the fusion against its straightforward reference (test/helpers/fusion-reference.ts)', () => {
  it('box blur: same values (within float rounding) for every radius, pass count and odd sizes', () => {
    for (const [w, h, r, passes] of [[37, 23, 1, 1], [37, 23, 4, 2], [9, 40, 6, 3], [5, 3, 4, 2], [64, 64, 12, 1]] as const) {
      const src = Float32Array.from({ length: w * h }, (_, i) => ((i * 2654435761) % 997) / 10);
      const a = boxBlur(src.slice(), w, h, r, passes);
      const b = boxBlurRef(src.slice(), w, h, r, passes);
      for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) < 1e-3, `${w}x${h} r${r} p${passes} at ${i}: ${a[i]} vs ${b[i]}`);
    }
  });

  it('weights: equal to the reference within float rounding', () => {
    const base = photoLike(53, 41, 1);
    const net = changed(base, 2);
    for (const strength of [0.2, 0.7]) {
      const a = fusionWeights(base, net, { ...DEFAULT_FUSION, strength });
      const b = fusionWeightsRef(base, net, { ...DEFAULT_FUSION, strength });
      for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) < 1e-4, `weight ${i}: ${a[i]} vs ${b[i]}`);
    }
  });

  it('the result written over the network output (overwriteNet) is the same, in that memory', () => {
    for (const [scale, iw, ih, depth] of [[1, 61, 45, 8], [4, 29, 23, 8], [2, 40, 30, 16]] as const) {
      const input = photoLike(iw, ih, 3 + scale, depth);
      const base = photoLike(iw * scale, ih * scale, 5 + scale, depth);
      const net = changed(base, 7 + scale);
      for (const strength of [0.3, 0.75]) {
        const o = fusionFor(scale, strength);
        const fresh = fuseGated(base, net, input, scale, o);
        const own = { ...net, data: net.data.slice() } as typeof net;
        const inPlace = fuseGated(base, own, input, scale, o, { overwriteNet: true });
        assert.equal(inPlace.data, own.data);
        assert.deepEqual(inPlace.data, fresh.data);
        const plain = { ...net, data: net.data.slice() } as typeof net;
        assert.deepEqual(fuse(base, plain, { ...o, toneRadius: 0 }, { overwriteNet: true }).data, fuse(base, net, { ...o, toneRadius: 0 }).data);
      }
    }
  });

  it('gate and fusion at 1x, 2x and 4x, 8 and 16 bits, odd sizes: within one level, on under 0.1% of the samples', () => {
    for (const [scale, iw, ih, depth] of [[1, 61, 45, 8], [2, 47, 33, 8], [4, 29, 23, 8], [2, 40, 30, 16], [4, 16, 16, 16]] as const) {
      const input = photoLike(iw, ih, 3 + scale, depth);
      const base = photoLike(iw * scale, ih * scale, 5 + scale, depth);
      const net = changed(base, 7 + scale);
      for (const strength of [0.3, 0.75, 1]) {
        const o = fusionFor(scale, strength);
        const ours = fuse(base, consistencyGate(base, net, input, scale), o);
        // The engine's one call (gated copy in working memory) gives the same, to the bit.
        assert.deepEqual(fuseGated(base, net, input, scale, o).data, ours.data);
        const ref = fuseRef(base, consistencyGateRef(base, net, input, scale), o);
        const { max, share } = sampleDiff(ours, ref);
        const tol = depth === 16 ? 257 : 1;
        assert.ok(max <= tol && share < 1e-3, `x${scale} ${depth}-bit s${strength}: max ${max}, ${(share * 100).toFixed(3)}% differ`);
      }
    }
  });
});

describe('restoration policy', () => {
  const clean = { jpegQuality: 95, jpegQualitySource: 'tables' as const, noise: 0.2, sharpness: 0.6, blocking: 1.05 };
  it('grows the strength with the damage, and more at 2x than at 4x than at 1x for the same input', () => {
    assert.equal(degradation(clean), 0);
    assert.equal(autoStrength(clean, 1), 0.15);
    const q40 = { ...clean, jpegQuality: 40 };
    assert.equal(degradation(q40), 1);
    assert.equal(autoStrength(q40, 1), 0.75);
    assert.ok(autoStrength(clean, 2) > autoStrength(clean, 4) && autoStrength(clean, 4) > autoStrength(clean, 1));
    assert.ok(degradation({ ...clean, noise: 8 }) > 0.99 && degradation({ ...clean, sharpness: 0.1 }) > 0.99);
  });
  it('face regions at 1x: the photo\'s strength for a clean face, more network for a damaged one; 2x/4x unchanged', () => {
    assert.equal(faceRegionStrength(chooseRestoration(clean, 1, undefined), 1), 0.15);
    const q60 = { ...clean, jpegQuality: 60 }; // damage 0.64, photo strength 0.53
    assert.equal(chooseRestoration(q60, 1, undefined).strength, 0.53);
    assert.equal(faceRegionStrength(chooseRestoration(q60, 1, undefined), 1), 0.79);
    assert.equal(faceRegionStrength(chooseRestoration({ ...clean, jpegQuality: 30 }, 1, undefined), 1), 1);
    // Never below the photo's own strength (a request's included).
    assert.equal(faceRegionStrength(chooseRestoration(clean, 1, 0.9), 1), 0.9);
    const r4 = chooseRestoration(q60, 4, undefined);
    assert.equal(faceRegionStrength(r4, 4), r4.strength);
  });
  it('a requested strength wins and is reported as not auto', () => {
    assert.deepEqual(chooseRestoration(clean, 1, 0.9), { strength: 0.9, auto: false, degradation: 0 });
    assert.equal(chooseRestoration(clean, 1, undefined).auto, true);
  });
});
