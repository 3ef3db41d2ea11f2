import { ClearShotError } from '../../errors/index.js';
import { openSession, type ModelSession, type SessionOptions } from '../models/onnx-session.js';
import type { Raster } from '../types.js';
import { applyAffine, invertAffine, squareMask, type Affine } from './face-geometry.js';

/**
 * A user's own face-restoration model (issue 7, "bring your own"): an ONNX model with
 * the GFPGAN / CodeFormer signature, one input and one output of 1 x 3 x 512 x 512,
 * RGB in [-1, 1], the face aligned to the FFHQ 5-point template. Checked when the
 * engine starts by running it once, so a wrong model fails at boot with a message
 * that says what is wrong, never at the first request.
 */
export const ALIGNED_SIZE = 512;

export interface AlignedFaceModel {
  /** 512 x 512 RGB in [-1, 1], planar -> the same, restored. */
  restore(planar: Float32Array): Promise<Float32Array>;
  release(): Promise<void>;
}

export async function openAlignedFaceModel(path: string, options: SessionOptions = {}): Promise<AlignedFaceModel> {
  let session: ModelSession;
  try {
    session = await openSession(path, { ...options, anyIoNames: true });
  } catch (err) {
    const why = err instanceof ClearShotError ? err.message : 'it is not a readable ONNX model';
    throw new ClearShotError('CONFIG_INVALID', `CLEARSHOT_FACE_MODEL ${path}: ${why}`, { cause: err });
  }
  const n = ALIGNED_SIZE;
  let out;
  try {
    out = await session.run(new Float32Array(3 * n * n), 3, n, n);
  } catch (err) {
    await session.release();
    throw new ClearShotError('CONFIG_INVALID', `CLEARSHOT_FACE_MODEL ${path}: the model does not accept a 1x3x${n}x${n} float32 input (GFPGAN/CodeFormer signature)`, { cause: err });
  }
  if (out.channels !== 3 || out.height !== n || out.width !== n) {
    await session.release();
    throw new ClearShotError('CONFIG_INVALID', `CLEARSHOT_FACE_MODEL ${path}: output is 1x${out.channels}x${out.height}x${out.width}, expected 1x3x${n}x${n} (GFPGAN/CodeFormer signature)`);
  }
  return {
    async restore(planar) {
      const r = await session.run(planar, 3, n, n);
      return r.data;
    },
    release: () => session.release(),
  };
}

/**
 * Bilinear sample at (x, y), clamped at the borders, of one channel of a w x h image
 * stored with the given pixel and row strides from `base` (interleaved or planar).
 */
function bilinear(d: ArrayLike<number>, w: number, h: number, pixel: number, row: number, base: number, x: number, y: number): number {
  const x0 = Math.max(0, Math.min(w - 1, Math.floor(x)));
  const y0 = Math.max(0, Math.min(h - 1, Math.floor(y)));
  const x1 = Math.min(w - 1, x0 + 1);
  const y1 = Math.min(h - 1, y0 + 1);
  const fx = Math.max(0, Math.min(1, x - x0));
  const fy = Math.max(0, Math.min(1, y - y0));
  const at = (xx: number, yy: number) => d[base + yy * row + xx * pixel]!;
  return (at(x0, y0) * (1 - fx) + at(x1, y0) * fx) * (1 - fy) + (at(x0, y1) * (1 - fx) + at(x1, y1) * fx) * fy;
}

/** Warps an RGB raster into the aligned 512 x 512 crop (`toAligned`: image -> template). */
export function alignFace(src: Raster, toAligned: Affine): Float32Array {
  const n = ALIGNED_SIZE;
  const back = invertAffine(toAligned);
  const out = new Float32Array(3 * n * n);
  const max = src.depth === 16 ? 65535 : 255;
  for (let v = 0; v < n; v++) {
    for (let u = 0; u < n; u++) {
      const p = applyAffine(back, { x: u, y: v });
      for (let c = 0; c < 3; c++) out[c * n * n + v * n + u] = (bilinear(src.data, src.width, src.height, src.channels, src.width * src.channels, c, p.x, p.y) / max) * 2 - 1;
    }
  }
  return out;
}

/**
 * Pastes a restored aligned face into `dst` (the output image, `scale` times the
 * image the alignment was computed on), weighted by a mask that fades out over the
 * last eighth of the aligned square, times `strength`.
 */
export function pasteAlignedFace(dst: Raster, restored: Float32Array, toAligned: Affine, scale: number, strength: number): void {
  const n = ALIGNED_SIZE;
  const back = invertAffine(toAligned);
  const corners = [applyAffine(back, { x: 0, y: 0 }), applyAffine(back, { x: n, y: 0 }), applyAffine(back, { x: 0, y: n }), applyAffine(back, { x: n, y: n })];
  const x0 = Math.max(0, Math.floor(Math.min(...corners.map((p) => p.x)) * scale));
  const x1 = Math.min(dst.width, Math.ceil(Math.max(...corners.map((p) => p.x)) * scale));
  const y0 = Math.max(0, Math.floor(Math.min(...corners.map((p) => p.y)) * scale));
  const y1 = Math.min(dst.height, Math.ceil(Math.max(...corners.map((p) => p.y)) * scale));
  const max = dst.depth === 16 ? 65535 : 255;
  const d = dst.data;
  const border = n / 8;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      // Output pixel centre -> input pixel coordinates -> template coordinates.
      const p = applyAffine(toAligned, { x: (x + 0.5) / scale - 0.5, y: (y + 0.5) / scale - 0.5 });
      if (p.x < 0 || p.y < 0 || p.x > n - 1 || p.y > n - 1) continue;
      const w = squareMask(p.x, p.y, n, border) * strength;
      if (w <= 0) continue;
      const i = (y * dst.width + x) * 3;
      for (let c = 0; c < 3; c++) {
        const face = ((bilinear(restored, n, n, 1, n, c * n * n, p.x, p.y) + 1) / 2) * max;
        const v = d[i + c]! * (1 - w) + face * w + 0.5;
        d[i + c] = Math.min(max, Math.max(0, v));
      }
    }
  }
}
