import { resizeRaster } from '../image/raster.js';
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
  const out = new Uint8Array(src.data.length);
  for (let i = 0; i < out.length; i++) out[i] = (src.data[i]! + 128) / 257;
  return { ...src, depth: 8, data: out };
}

async function detect(detector: FaceDetector, input: Raster): Promise<DetectedFace[]> {
  let image = to8bit(input);
  const long = Math.max(image.width, image.height);
  let k = 1;
  if (long > DETECT_MAX_EDGE) {
    k = long / DETECT_MAX_EDGE;
    image = await resizeRaster(image, Math.round(image.width / k), Math.round(image.height / k), 'cubic');
  }
  const faces = await detector.detect(image);
  if (k === 1) return faces;
  return faces.map((f) => ({
    score: f.score,
    box: { x: f.box.x * k, y: f.box.y * k, width: f.box.width * k, height: f.box.height * k },
    landmarks: f.landmarks.map((p) => ({ x: p.x * k, y: p.y * k })),
  }));
}

function crop(src: Raster, x: number, y: number, width: number, height: number): Raster {
  const ch = src.channels;
  const data = src.depth === 16 ? new Uint16Array(width * height * ch) : new Uint8Array(width * height * ch);
  for (let row = 0; row < height; row++) {
    const start = ((y + row) * src.width + x) * ch;
    data.set(src.data.subarray(start, start + width * ch), row * width * ch);
  }
  return { width, height, channels: src.channels, depth: src.depth, data };
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
  let fid = await runTiled(session, crop(netInput, nx0, ny0, nx1 - nx0, ny1 - ny0), netScale, { tileSize: 256, overlap: 16, signal: stage.signal });
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
  const found = await detect(deps.detector, stage.input);
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
    boxes: chosen.map((f) => ({
      x: Math.round(f.box.x * s),
      y: Math.round(f.box.y * s),
      width: Math.round(f.box.width * s),
      height: Math.round(f.box.height * s),
      score: Math.round(f.score * 1000) / 1000,
    })),
  };
}
