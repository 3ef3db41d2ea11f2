import sharp from 'sharp';
import { calibrationTensors, chooseRange, withExtraOutputs, type TensorRange } from './quantize.js';
import { openProbeSession } from './onnx-session.js';

/**
 * Calibration of the int8 models: the FP32 graph runs on a few fixed crops of photos
 * with every conv's input and output exposed, and a deterministic subsample of each
 * tensor's values picks its uint8 range (see {@link chooseRange}).
 */

export interface Crop {
  readonly data: Float32Array;
  readonly height: number;
  readonly width: number;
}

/** Planar RGB in [0, 1] of a region of an image file (greyscale is expanded to RGB). */
export async function cropOf(file: string | Buffer, left: number, top: number, size: number): Promise<Crop> {
  const img = sharp(file).removeAlpha().toColourspace('srgb');
  const meta = await sharp(file).metadata();
  const w = Math.min(size, (meta.width ?? size) - left);
  const h = Math.min(size, (meta.height ?? size) - top);
  const { data, info } = await img.extract({ left, top, width: w, height: h }).raw().toBuffer({ resolveWithObject: true });
  return { data: toPlanar(data, info.width, info.height, info.channels), width: info.width, height: info.height };
}

export function toPlanar(data: Uint8Array, width: number, height: number, channels: number): Float32Array {
  const plane = width * height;
  const out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) out[c * plane + i] = data[i * channels + Math.min(c, channels - 1)]! / 255;
  return out;
}

/**
 * Fixed crops: `crops` squares of `size` px on a regular grid of each image (grid
 * positions, not random ones, so the calibration is reproducible).
 */
export async function calibrationCrops(set: ReadonlyArray<{ readonly file: string; readonly crops: number }>, size: number): Promise<Crop[]> {
  const out: Crop[] = [];
  for (const { file, crops } of set) {
    const meta = await sharp(file).metadata();
    const W = meta.width ?? size;
    const H = meta.height ?? size;
    const side = Math.ceil(Math.sqrt(crops));
    for (let k = 0; k < crops; k++) {
      const gx = k % side;
      const gy = Math.floor(k / side);
      const left = Math.max(0, Math.round(((W - size) * (gx + 0.5)) / side));
      const top = Math.max(0, Math.round(((H - size) * (gy + 0.5)) / side));
      out.push(await cropOf(file, left, top, size));
    }
  }
  return out;
}

export type RangeMethod = 'minmax' | 'mse' | number;

export interface Calibration {
  /** Up to `samplesPerTensor` values of each calibrated tensor, spread over all crops, plus its extremes. */
  readonly samples: Map<string, Float32Array>;
  /** Per-channel means of each calibrated tensor (NCHW) over all crops. */
  readonly means: Map<string, Float64Array>;
}

/** One pass of the FP32 graph over the crops with every conv's input and output exposed. */
export async function calibrate(fp32: Uint8Array, crops: readonly Crop[], samplesPerTensor = 60000, threads = 0): Promise<Calibration> {
  const tensors = calibrationTensors(fp32);
  const session = await openProbeSession(withExtraOutputs(fp32, tensors), threads);
  const parts = new Map<string, Float32Array[]>(tensors.map((t) => [t, []]));
  const sums = new Map<string, Float64Array>();
  const quota = Math.ceil(samplesPerTensor / crops.length);
  let pixels = 0;
  try {
    for (const crop of crops) {
      const outs = await session.run(crop.data, 3, crop.height, crop.width);
      const plane = crop.height * crop.width;
      pixels += plane;
      for (const t of tensors) {
        const values = t === 'input' ? crop.data : outs.get(t);
        if (!values) throw new Error(`calibration output ${t} is missing`);
        const channels = values.length / plane;
        const acc = sums.get(t) ?? new Float64Array(channels);
        let lo = Infinity;
        let hi = -Infinity;
        for (let c = 0; c < channels; c++) {
          let sum = 0;
          for (let i = c * plane; i < (c + 1) * plane; i++) {
            const v = values[i]!;
            sum += v;
            if (v < lo) lo = v;
            if (v > hi) hi = v;
          }
          acc[c]! += sum;
        }
        sums.set(t, acc);
        // The extremes themselves, which a subsample would miss.
        parts.get(t)!.push(new Float32Array([lo, hi]));
        // An odd stride spreads the subsample over channels and positions.
        const take = Math.min(quota, values.length);
        const stride = Math.max(1, Math.floor(values.length / take)) | 1;
        const picked = new Float32Array(take);
        for (let i = 0; i < take; i++) picked[i] = values[(i * stride) % values.length]!;
        parts.get(t)!.push(picked);
      }
    }
  } finally {
    await session.release();
  }
  const samples = new Map<string, Float32Array>();
  for (const [t, list] of parts) {
    const all = new Float32Array(list.reduce((s, a) => s + a.length, 0));
    let o = 0;
    for (const a of list) {
      all.set(a, o);
      o += a.length;
    }
    samples.set(t, all);
  }
  for (const acc of sums.values()) for (let c = 0; c < acc.length; c++) acc[c]! /= pixels;
  return { samples, means: sums };
}

export function rangesFrom(samples: ReadonlyMap<string, Float32Array>, method: RangeMethod | ((tensor: string) => RangeMethod)): Map<string, TensorRange> {
  const ranges = new Map<string, TensorRange>();
  for (const [t, values] of samples) {
    const m = typeof method === 'function' ? method(t) : method;
    // The network input is a picture in [0, 1]: its range is known, and 1/255 steps are exact for 8-bit sources.
    ranges.set(t, t === 'input' ? { min: 0, max: 1 } : chooseRange(values, m));
  }
  return ranges;
}

