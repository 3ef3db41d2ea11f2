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

/** The subset of face-api's API that ClearShot uses. */
interface FaceApi {
  tf: {
    setBackend(name: string): Promise<boolean>;
    ready(): Promise<void>;
    getBackend(): string;
    tensor3d(data: Uint8Array, shape: [number, number, number], dtype: 'int32'): { dispose(): void };
  };
  nets: Record<'ssdMobilenetv1' | 'faceLandmark68Net', { loadFromDisk(dir: string): Promise<void> }>;
  SsdMobilenetv1Options: new (o: { minConfidence: number; maxResults: number }) => unknown;
  detectAllFaces(input: unknown, options: unknown): {
    withFaceLandmarks(): Promise<Array<{ detection: { box: { x: number; y: number; width: number; height: number }; score: number }; landmarks: { positions: Array<{ x: number; y: number }> } }>>;
  };
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
  return api;
}

function faceApi(): Promise<FaceApi> {
  loading ??= load().catch((err: unknown) => {
    loading = undefined;
    throw err;
  });
  return loading;
}

export function openFaceDetector(): FaceDetector {
  return {
    async detect(image) {
      if (image.channels !== 3 || image.depth !== 8) throw new ClearShotError('INTERNAL', 'face detection expects 8-bit RGB');
      const api = await faceApi();
      const tensor = api.tf.tensor3d(image.data as Uint8Array, [image.height, image.width, 3], 'int32');
      try {
        const found = await api.detectAllFaces(tensor, new api.SsdMobilenetv1Options({ minConfidence: MIN_SCORE, maxResults: 100 })).withFaceLandmarks();
        return found
          .map((f) => ({
            box: { x: f.detection.box.x, y: f.detection.box.y, width: f.detection.box.width, height: f.detection.box.height },
            score: f.detection.score,
            landmarks: f.landmarks.positions.map((p) => ({ x: p.x, y: p.y })),
          }))
          .sort((a, b) => b.box.width * b.box.height - a.box.width * a.box.height);
      } finally {
        tensor.dispose();
      }
    },
  };
}
