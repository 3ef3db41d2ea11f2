import { cropRaster, resizeRaster } from '../image/raster.js';
import type { ModelSession } from '../models/onnx-session.js';
import { runTiled, throwIfAborted } from '../tile-runner.js';
import type { FaceReport, Raster } from '../types.js';
import type { DetectedFace, FaceDetector } from './face-detector.js';
import { ellipseMask, FFHQ_TEMPLATE_512, fivePoints, similarityTransform } from './face-geometry.js';
import { alignFace, pasteAlignedFace, type AlignedFaceModel } from './face-restore.js';

/**
 * The face step of the pipeline (`type=face`, issue 7), run after the clean network:
 * detect up to {@link MAX_FACES} faces on the input, restore each one and blend it
 * into the clean output with a feathered mask. Pixels outside every mask are the
 * clean result, untouched.
 *
 * Restoration, by default: the fidelity network (a PSNR-trained RDN) on the same
 * network input the clean path saw, mixed with the clean (GAN) result at `strength`
 * inside the mask. The mix beat both of its parts and Lanczos on face-region SSIM
 * and identity similarity (docs/BENCHMARKS.md, "Face enhancement"): the GAN invents
 * texture that warps small faces, the fidelity net keeps their shape but stays soft.
 * NOTE: unlike GFPGAN-style pipelines the built-in path does not warp the face to a
 * canonical crop: the network is translation-equivariant, and two extra resamplings
 * (warp and unwarp) measurably cost detail. A user's aligned model
 * (CLEARSHOT_FACE_MODEL) gets the FFHQ-aligned 512 x 512 crop it was trained on.
 */
export const MAX_FACES = 10;

/** Longest edge the detector sees; larger inputs are shrunk for detection only. */
const DETECT_MAX_EDGE = 2048;

/**
 * Longest edge of a face neighbourhood given to the fidelity network, context
 * included: one tile, so no seams, at most ~50 GMAC (about half a second on 2 cores)
 * and ~400 MB of activations per face (384 px needed 0.9 GB more). Only large faces at
 * scale 1 or 2 are shrunk to fit, and their output is smaller than the network's anyway.
 */
const FIDELITY_MAX_EDGE = 256;

/**
 * Long edge of the image in the padded detector passes. The SSD sees a 512 px square
 * whatever it is given, so a larger copy only costs memory (the 68-point landmarks of a
 * face large enough for these passes stay well sampled).
 */
const PADDED_DETECT_EDGE = 512;

export interface FaceStageDeps {
  readonly detector: FaceDetector;
  /** The built-in fidelity network (x4), loaded on first use. */
  fidelity(): Promise<ModelSession>;
  /** A user's aligned restoration model, when configured. */
  readonly aligned?: AlignedFaceModel | undefined;
  /** Weight of the restored face inside the mask, 0-1. */
  readonly strength: number;
}

export interface FaceStageInput {
  /** The decoded image (RGB, any depth), at input resolution. */
  readonly input: Raster;
  /** What the clean network saw (RGB), and its x4 factor. */
  readonly netInput: Raster;
  readonly netScale: number;
  /** The clean result at output size (RGB); faces are blended into it in place. */
  readonly output: Raster;
  readonly scale: number;
  readonly signal?: AbortSignal | undefined;
  readonly onProgress?: ((fraction: number) => void) | undefined;
}

function to8bit(src: Raster): Raster {
  if (src.depth === 8) return src;
  // (v + 128) / 257 rounds 16-bit to the nearest 8-bit level.
  const out = new Uint8Array(src.data.length);
  for (let i = 0; i < out.length; i++) out[i] = (src.data[i]! + 128) / 257;
  return { ...src, depth: 8, data: out };
}

/** Adds a grey border of `pad` pixels on every side of an 8-bit RGB raster. */
function padRaster(src: Raster, pad: number): Raster {
  const width = src.width + 2 * pad;
  const height = src.height + 2 * pad;
  const data = new Uint8Array(width * height * 3).fill(128);
  for (let y = 0; y < src.height; y++) data.set(src.data.subarray(y * src.width * 3, (y + 1) * src.width * 3), ((y + pad) * width + pad) * 3);
  return { width, height, channels: 3, depth: 8, data };
}

/** Detections on `image` shrunk to `maxEdge` and padded by `padFactor` x its long edge, in `image`'s pixels / `unit`. */
async function detectOn(detector: FaceDetector, image: Raster, maxEdge: number, padFactor: number, unit: number): Promise<DetectedFace[]> {
  let view = to8bit(image);
  const long = Math.max(view.width, view.height);
  const k = long > maxEdge ? long / maxEdge : 1;
  if (k > 1) view = await resizeRaster(view, Math.max(1, Math.round(view.width / k)), Math.max(1, Math.round(view.height / k)), 'cubic');
  const pad = Math.round(Math.max(view.width, view.height) * padFactor);
  if (pad > 0) view = padRaster(view, pad);
  const f = k / unit;
  return (await detector.detect(view)).map((d) => ({
    score: d.score,
    box: { x: (d.box.x - pad) * f, y: (d.box.y - pad) * f, width: d.box.width * f, height: d.box.height * f },
    landmarks: d.landmarks.map((p) => ({ x: (p.x - pad) * f, y: (p.y - pad) * f })),
  }));
}

function iou(a: DetectedFace['box'], b: DetectedFace['box']): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  return inter / (a.width * a.height + b.width * b.height - inter);
}

/** Keeps the best-scoring of overlapping detections, largest first. */
function mergeDetections(all: DetectedFace[]): DetectedFace[] {
  const kept: DetectedFace[] = [];
  for (const d of [...all].sort((a, b) => b.score - a.score)) if (!kept.some((k) => iou(k.box, d.box) > 0.3)) kept.push(d);
  return kept.sort((a, b) => b.box.width * b.box.height - a.box.width * a.box.height);
}

/**
 * Faces in input pixels. The SSD detector sees a 512 px square, and misses faces that
 * fill the frame (tight portraits, avatars) as often as faces too small in it, so it
 * runs twice: on the image as it is, and shrunk inside a grey border as wide as the
 * image, for large faces. When neither finds a face, a third try on the clean
 * network's output (sharper and free of JPEG blocks) catches heavily degraded
 * portraits. Measured on 23 tight degraded portraits (docs/BENCHMARKS.md, "Face
 * enhancement"): the plain pass alone found 2 of the x4 ones, all three passes 21.
 */
export async function detect(detector: FaceDetector, input: Raster, output: Raster, scale: number): Promise<DetectedFace[]> {
  const found = mergeDetections([...(await detectOn(detector, input, DETECT_MAX_EDGE, 0, 1)), ...(await detectOn(detector, input, PADDED_DETECT_EDGE, 1, 1))]);
  if (found.length > 0) return found;
  return mergeDetections(await detectOn(detector, output, PADDED_DETECT_EDGE, 1, scale));
}

/** Built-in path: the fidelity network on the face's neighbourhood, blended in place. */
async function restoreWithFidelity(face: DetectedFace, stage: FaceStageInput, session: ModelSession, strength: number): Promise<void> {
  const { input, netInput, netScale, output, scale } = stage;
  const { box } = face;
  const kx = netInput.width / input.width;
  const ky = netInput.height / input.height;
  // Square neighbourhood 1.8x the face, plus context for the network's receptive field.
  const half = 0.9 * Math.max(box.width, box.height);
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  const margin = 12;
  const nx0 = Math.max(0, Math.floor((cx - half) * kx) - margin);
  const ny0 = Math.max(0, Math.floor((cy - half) * ky) - margin);
  const nx1 = Math.min(netInput.width, Math.ceil((cx + half) * kx) + margin);
  const ny1 = Math.min(netInput.height, Math.ceil((cy + half) * ky) + margin);
  if (nx1 - nx0 < 2 || ny1 - ny0 < 2) return;
  let patch = cropRaster(netInput, nx0, ny0, nx1 - nx0, ny1 - ny0);
  const long = Math.max(patch.width, patch.height);
  if (long > FIDELITY_MAX_EDGE) {
    const k = FIDELITY_MAX_EDGE / long;
    patch = await resizeRaster(patch, Math.max(2, Math.round(patch.width * k)), Math.max(2, Math.round(patch.height * k)));
  }
  let fid = await runTiled(session, patch, netScale, { tileSize: FIDELITY_MAX_EDGE, overlap: 0, signal: stage.signal });
  // Network-output pixels -> output pixels, exactly as the clean path's final resize.
  const rx = output.width / (netInput.width * netScale);
  const ry = output.height / (netInput.height * netScale);
  const ox0 = Math.round(nx0 * netScale * rx);
  const oy0 = Math.round(ny0 * netScale * ry);
  const ow = Math.min(output.width - ox0, Math.round((nx1 - nx0) * netScale * rx));
  const oh = Math.min(output.height - oy0, Math.round((ny1 - ny0) * netScale * ry));
  fid = await resizeRaster(fid, ow, oh);

  // Ellipse around the face at output scale: full weight inside, smooth fall-off.
  const ecx = cx * scale;
  const ecy = cy * scale;
  const erx = 0.55 * box.width * scale;
  const ery = 0.6 * box.height * scale;
  const feather = 0.45;
  const max = output.depth === 16 ? 65535 : 255;
  const o = output.data;
  const f = fid.data;
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      const w = ellipseMask(ox0 + x + 0.5, oy0 + y + 0.5, ecx, ecy, erx, ery, feather) * strength;
      if (w <= 0) continue;
      const oi = ((oy0 + y) * output.width + ox0 + x) * 3;
      const fi = (y * ow + x) * 3;
      for (let c = 0; c < 3; c++) {
        const v = o[oi + c]! * (1 - w) + f[fi + c]! * w + 0.5;
        o[oi + c] = v >= max ? max : v;
      }
    }
  }
}

/** User's model: FFHQ-aligned 512 x 512 crop in, restored crop out, pasted back. */
async function restoreAligned(face: DetectedFace, stage: FaceStageInput, model: AlignedFaceModel, strength: number): Promise<void> {
  const toAligned = similarityTransform(fivePoints(face.landmarks), FFHQ_TEMPLATE_512);
  const restored = await model.restore(alignFace(stage.input, toAligned));
  pasteAlignedFace(stage.output, restored, toAligned, stage.scale, strength);
}

export async function enhanceFaces(stage: FaceStageInput, deps: FaceStageDeps): Promise<FaceReport> {
  const found = await detect(deps.detector, stage.input, stage.output, stage.scale);
  throwIfAborted(stage.signal);
  const chosen = found.slice(0, MAX_FACES);
  const session = chosen.length > 0 && !deps.aligned ? await deps.fidelity() : undefined;
  let done = 0;
  for (const face of chosen) {
    throwIfAborted(stage.signal);
    if (deps.aligned) await restoreAligned(face, stage, deps.aligned, deps.strength);
    else await restoreWithFidelity(face, stage, session!, deps.strength);
    stage.onProgress?.(++done / chosen.length);
  }
  const s = stage.scale;
  return {
    detected: found.length,
    enhanced: chosen.length,
    restorer: deps.aligned ? 'model' : 'fidelity',
    boxes: chosen.map((f) => {
      // Clamped to the image: a face cut by the border has its box cut too.
      const x0 = Math.max(0, Math.round(f.box.x * s));
      const y0 = Math.max(0, Math.round(f.box.y * s));
      const x1 = Math.min(stage.output.width, Math.round((f.box.x + f.box.width) * s));
      const y1 = Math.min(stage.output.height, Math.round((f.box.y + f.box.height) * s));
      return { x: x0, y: y0, width: x1 - x0, height: y1 - y0, score: Math.round(f.score * 1000) / 1000 };
    }),
  };
}

/** The ellipse of a face's mask (a report box, output pixels). */
function maskEllipse(b: FaceReport['boxes'][number]): { cx: number; cy: number; rx: number; ry: number } {
  return { cx: b.x + b.width / 2, cy: b.y + b.height / 2, rx: 0.55 * b.width, ry: 0.6 * b.height };
}

/** Where a face's mask can be non-zero: the feathered fall-off reaches past the ellipse, so 2x its radii. */
export function maskSupport(b: FaceReport['boxes'][number]): { x0: number; y0: number; x1: number; y1: number } {
  const { cx, cy, rx, ry } = maskEllipse(b);
  return { x0: cx - 2 * rx, y0: cy - 2 * ry, x1: cx + 2 * rx, y1: cy + 2 * ry };
}

/**
 * Union of the faces' feathered ellipse masks (the same ellipses the fidelity blend
 * uses), per output pixel in [0, 1]; boxes as in the report (output pixels).
 */
export function faceMask(report: FaceReport, width: number, height: number): Float32Array {
  const mask = new Float32Array(width * height);
  for (const b of report.boxes) {
    const { cx, cy, rx, ry } = maskEllipse(b);
    const s = maskSupport(b);
    const x0 = Math.max(0, Math.floor(s.x0));
    const x1 = Math.min(width, Math.ceil(s.x1));
    const y0 = Math.max(0, Math.floor(s.y0));
    const y1 = Math.min(height, Math.ceil(s.y1));
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) {
        const m = ellipseMask(x + 0.5, y + 0.5, cx, cy, rx, ry, 0.45);
        const i = y * width + x;
        if (m > mask[i]!) mask[i] = m;
      }
    }
  }
  return mask;
}
