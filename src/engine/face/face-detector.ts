import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ClearShotError } from '../../errors/index.js';
import type { Raster } from '../types.js';
import type { Point } from './face-geometry.js';

/**
 * Face detection with 68-point landmarks (issue 7): face-api's SSD MobileNet v1
 * detector and 68-point landmark net, whose weights ship inside the npm package
 * `@vladmandic/face-api` (MIT), run on TensorFlow.js's WebAssembly backend
 * (`@tensorflow/tfjs-backend-wasm`, its .wasm files ship in the package). Nothing is
 * downloaded. Chosen over the package's Tiny Face Detector by recall on group photos
 * (docs/BENCHMARKS.md, "Face detection"); `@tensorflow/tfjs-node` is not usable here
 * (its install downloads a native library).
 *
 * TensorFlow.js is loaded on first use, inside the engine worker thread that needs
 * it, so services that never see `type=face` never pay for it.
 */
export interface DetectedFace {
  /** Box in the pixels of the image given to {@link FaceDetector.detect}. */
  readonly box: { readonly x: number; readonly y: number; readonly width: number; readonly height: number };
  readonly score: number;
  /** The 68 landmarks (iBUG 300-W order), same pixel space as `box`. */
  readonly landmarks: readonly Point[];
}

export interface FaceDetector {
  /** Faces in an 8-bit RGB raster, largest first. */
  detect(image: Raster): Promise<DetectedFace[]>;
}

/** Minimum detector confidence; 0.5 kept every face of the group photos and no false one. */
const MIN_SCORE = 0.5;

/**
 * Two checks on every detection (issue 12: the SSD detector also fires on animals, a
 * cat at 0.93). First the 68 landmarks: a human face's mouth is at least about half as
 * wide as the distance between the eye centres, and sits at least about 0.8 of that
 * distance below them; on a cat the landmark net often puts a narrow mouth (0.33 eye
 * distances) close under the eyes (0.67), but not at every scale, so a second opinion
 * follows (see VERIFY_CROP). Measured on the group photos (22 faces: mouth 0.53-1.02,
 * eyes-to-mouth 0.80-2.17) and photos without people (docs/BENCHMARKS.md, "Face detection").
 */
export const MIN_MOUTH_WIDTH = 0.45;
export const MIN_EYES_TO_MOUTH = 0.72;

/** True when the landmarks have a human face's proportions (see MIN_MOUTH_WIDTH). */
export function humanProportions(landmarks: readonly Point[]): boolean {
  if (landmarks.length !== 68) return false;
  const mean = (from: number, to: number) => {
    let x = 0;
    let y = 0;
    for (let i = from; i < to; i++) {
      x += landmarks[i]!.x;
      y += landmarks[i]!.y;
    }
    return { x: x / (to - from), y: y / (to - from) };
  };
  const left = mean(36, 42);
  const right = mean(42, 48);
  const mouth = mean(48, 68);
  const eyes = Math.hypot(right.x - left.x, right.y - left.y);
  if (!(eyes > 0)) return false;
  const mouthWidth = Math.hypot(landmarks[54]!.x - landmarks[48]!.x, landmarks[54]!.y - landmarks[48]!.y);
  const eyesToMouth = Math.hypot(mouth.x - (left.x + right.x) / 2, mouth.y - (left.y + right.y) / 2);
  return mouthWidth >= MIN_MOUTH_WIDTH * eyes && eyesToMouth >= MIN_EYES_TO_MOUTH * eyes;
}

/** The subset of face-api's API that ClearShot uses. */
interface FaceApi {
  tf: {
    setBackend(name: string): Promise<boolean>;
    ready(): Promise<void>;
    getBackend(): string;
    tensor3d(data: Uint8Array, shape: [number, number, number], dtype: 'int32'): { dispose(): void };
  };
  nets: Record<'ssdMobilenetv1' | 'faceLandmark68Net' | 'tinyFaceDetector', { loadFromDisk(dir: string): Promise<void> }>;
  SsdMobilenetv1Options: new (o: { minConfidence: number; maxResults: number }) => unknown;
  TinyFaceDetectorOptions: new (o: { inputSize: number; scoreThreshold: number }) => unknown;
  detectAllFaces(input: unknown, options: unknown): PromiseLike<Array<{ score: number }>> & {
    withFaceLandmarks(): Promise<Array<{ detection: { box: { x: number; y: number; width: number; height: number }; score: number }; landmarks: { positions: Array<{ x: number; y: number }> } }>>;
  };
}

/**
 * The second opinion (issue 12): face-api's Tiny Face Detector, a network trained
 * apart from the SSD, on square crops 2, 2.5 and 3 times the detected box (grey-padded
 * at image borders, up to 320 px): a detection passes when one of them scores 0.1. Every
 * face of the group photos passed at 480-1920 px wide (one profile face only at 3x); the
 * cat (chelsea.jpg) scored 0.01-0.10 at every framing (docs/BENCHMARKS.md, "Face detection").
 * A dog's face still passes both checks.
 */
/** Crop sides tried, in face-box sides: the Tiny detector's answer depends on the framing. */
const VERIFY_CROPS = [2, 2.5, 3];
const VERIFY_SIZE = 320;
const VERIFY_MIN_SCORE = 0.1;

/**
 * Side of the verification crop: the crop's own size rounded up to the detector's
 * 32-px grid, between 128 and 320, so that small faces are not blown up past what the
 * Tiny detector recognises.
 */
function verifySize(side: number): number {
  return Math.min(VERIFY_SIZE, Math.max(128, Math.ceil(side / 32) * 32));
}

/** `size` x `size` RGB crop centred on the box, `factor` x its long side, grey outside the image, bilinear. */
function verifyCrop(image: Raster, box: DetectedFace['box'], factor: number, size: number): Uint8Array {
  const side = Math.max(box.width, box.height) * factor;
  const x0 = box.x + box.width / 2 - side / 2;
  const y0 = box.y + box.height / 2 - side / 2;
  const out = new Uint8Array(size * size * 3).fill(128);
  const src = image.data as Uint8Array;
  const k = side / size;
  const w = image.width;
  for (let y = 0; y < size; y++) {
    const fy = y0 + (y + 0.5) * k - 0.5;
    if (fy < 0 || fy > image.height - 1) continue;
    const ya = Math.floor(fy);
    const yb = Math.min(image.height - 1, ya + 1);
    const ty = fy - ya;
    for (let x = 0; x < size; x++) {
      const fx = x0 + (x + 0.5) * k - 0.5;
      if (fx < 0 || fx > w - 1) continue;
      const xa = Math.floor(fx);
      const xb = Math.min(w - 1, xa + 1);
      const tx = fx - xa;
      const oi = (y * size + x) * 3;
      for (let c = 0; c < 3; c++) {
        const top = src[(ya * w + xa) * 3 + c]! * (1 - tx) + src[(ya * w + xb) * 3 + c]! * tx;
        const bottom = src[(yb * w + xa) * 3 + c]! * (1 - tx) + src[(yb * w + xb) * 3 + c]! * tx;
        out[oi + c] = Math.round(top * (1 - ty) + bottom * ty);
      }
    }
  }
  return out;
}

let loading: Promise<FaceApi> | undefined;

async function load(): Promise<FaceApi> {
  const require = createRequire(import.meta.url);
  let api: FaceApi;
  let modelDir: string;
  try {
    api = require('@vladmandic/face-api/dist/face-api.node-wasm.js') as FaceApi;
    modelDir = join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
    const wasm = require('@tensorflow/tfjs-backend-wasm') as { setWasmPaths(prefix: string): void };
    // NOTE: a plain directory prefix, so Emscripten reads the .wasm with fs; passing
    // usePlatformFetch makes Node's fetch reject the file path (tfjs 4.22).
    wasm.setWasmPaths(`${dirname(require.resolve('@tensorflow/tfjs-backend-wasm'))}/`);
  } catch (err) {
    throw new ClearShotError('MODEL_FAILURE', 'the face models (@vladmandic/face-api, @tensorflow/tfjs-backend-wasm) are not installed; run npm install', { cause: err });
  }
  if (!(await api.tf.setBackend('wasm'))) throw new ClearShotError('MODEL_FAILURE', 'the TensorFlow.js WebAssembly backend did not start');
  await api.tf.ready();
  await api.nets.ssdMobilenetv1.loadFromDisk(modelDir);
  await api.nets.faceLandmark68Net.loadFromDisk(modelDir);
  await api.nets.tinyFaceDetector.loadFromDisk(modelDir);
  return api;
}

function faceApi(): Promise<FaceApi> {
  loading ??= load().catch((err: unknown) => {
    loading = undefined;
    throw err;
  });
  return loading;
}

/** Best Tiny Face Detector score over the verification crops of a detection (stops at the first that passes). */
async function secondOpinion(api: FaceApi, image: Raster, box: DetectedFace['box']): Promise<number> {
  let best = 0;
  for (const factor of VERIFY_CROPS) {
    const size = verifySize(Math.max(box.width, box.height) * factor);
    const crop = api.tf.tensor3d(verifyCrop(image, box, factor, size), [size, size, 3], 'int32');
    try {
      const faces = await api.detectAllFaces(crop, new api.TinyFaceDetectorOptions({ inputSize: size, scoreThreshold: VERIFY_MIN_SCORE / 2 }));
      best = faces.reduce((b, f) => Math.max(b, f.score), best);
    } finally {
      crop.dispose();
    }
    if (best >= VERIFY_MIN_SCORE) break;
  }
  return best;
}

/** `verify: false` keeps every detection (benchmarks measure what the two checks remove). */
export function openFaceDetector(options: { readonly verify?: boolean } = {}): FaceDetector {
  const check = options.verify ?? true;
  return {
    async detect(image) {
      if (image.channels !== 3 || image.depth !== 8) throw new ClearShotError('INTERNAL', 'face detection expects 8-bit RGB');
      const api = await faceApi();
      const tensor = api.tf.tensor3d(image.data as Uint8Array, [image.height, image.width, 3], 'int32');
      let found;
      try {
        found = (await api.detectAllFaces(tensor, new api.SsdMobilenetv1Options({ minConfidence: MIN_SCORE, maxResults: 100 })).withFaceLandmarks()).map((f) => ({
          box: { x: f.detection.box.x, y: f.detection.box.y, width: f.detection.box.width, height: f.detection.box.height },
          score: f.detection.score,
          landmarks: f.landmarks.positions.map((p) => ({ x: p.x, y: p.y })),
        }));
      } finally {
        tensor.dispose();
      }
      const kept: DetectedFace[] = [];
      for (const f of found) {
        if (check && !(humanProportions(f.landmarks) && (await secondOpinion(api, image, f.box)) >= VERIFY_MIN_SCORE)) continue;
        kept.push(f);
      }
      return kept.sort((a, b) => b.box.width * b.box.height - a.box.width * a.box.height);
    },
  };
}
