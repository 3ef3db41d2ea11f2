import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { detect as detectFaces } from '../src/engine/face/face-stage.js';
import { openFaceDetector, type DetectedFace } from '../src/engine/face/face-detector.js';
import { LocalEngine } from '../src/engine/local-engine.js';
import { DEFAULT_FACE_STRENGTH } from '../src/engine/types.js';
import type { Raster } from '../src/engine/types.js';
import { psnr, readRaster, ssim } from '../test/helpers/image-metrics.js';
import { fixture, REPO_ROOT, TEST_DATA_DIR } from '../test/helpers/paths.js';
import { CORPUS, CORPUS_DIR, corpusOriginals } from './lib/photos.js';
import { fmt, median, table } from './lib/stats.js';

/**
 * Face benchmark (issue 7): restoration quality inside the face boxes, detection
 * recall, and the cost of face mode. Portraits with ground truth: the 22 faces of the
 * six group photos in @vladmandic/face-api's demo folder (1920 px wide) and the
 * astronaut (public domain). Each face's neighbourhood is degraded two ways:
 * x4 (bicubic down x4 + JPEG q60) and x1 (Gaussian blur 1.5 px + JPEG q60), then
 * restored by each method and scored against the original inside the face box.
 */
const require = createRequire(import.meta.url);
const FACE_API_DIR = dirname(require.resolve('@vladmandic/face-api/package.json'));
const GROUPS: Array<[string, number]> = [
  ['sample1.jpg', 3],
  ['sample2.jpg', 3],
  ['sample3.jpg', 3],
  ['sample4.jpg', 4],
  ['sample5.jpg', 5],
  ['sample6.jpg', 4],
];

async function rgb(input: string | Buffer): Promise<Raster> {
  const { data, info } = await sharp(input).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, channels: 3, depth: 8, data: new Uint8Array(data) };
}

function region(r: Raster, box: Box): Raster {
  const data = new Uint8Array(box.width * box.height * 3);
  for (let y = 0; y < box.height; y++) data.set(r.data.subarray(((box.y + y) * r.width + box.x) * 3, ((box.y + y) * r.width + box.x + box.width) * 3), y * box.width * 3);
  return { width: box.width, height: box.height, channels: 3, depth: 8, data };
}

interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Identity embeddings: face-api's face-recognition net (ResNet-34, 128-d), not used by face mode itself. */
interface Recognizer {
  embed(face: Raster): Promise<Float32Array>;
}

async function openRecognizer(): Promise<Recognizer> {
  // Loads TensorFlow.js through the detector first (backend and wasm paths).
  await openFaceDetector().detect({ width: 16, height: 16, channels: 3, depth: 8, data: new Uint8Array(768) });
  const api = require('@vladmandic/face-api/dist/face-api.node-wasm.js') as {
    tf: { tensor3d(d: Uint8Array, s: number[], t: string): { dispose(): void } };
    nets: { faceRecognitionNet: { loadFromDisk(dir: string): Promise<void> } };
    computeFaceDescriptor(t: unknown): Promise<Float32Array>;
  };
  await api.nets.faceRecognitionNet.loadFromDisk(join(FACE_API_DIR, 'model'));
  return {
    async embed(face) {
      const t = api.tf.tensor3d(face.data as Uint8Array, [face.height, face.width, 3], 'int32');
      try {
        return await api.computeFaceDescriptor(t);
      } finally {
        t.dispose();
      }
    },
  };
}

function cosine(a: Float32Array, b: Float32Array): number {
  let s = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    s += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return s / Math.sqrt(na * nb);
}

interface Portrait {
  name: string;
  /** Ground-truth neighbourhood (PNG) and the face box inside it. */
  gt: Buffer;
  size: number;
  face: Box;
}

export async function portraits(): Promise<Portrait[]> {
  const detector = openFaceDetector();
  const out: Portrait[] = [];
  const sources = [...GROUPS.map(([f]) => join(FACE_API_DIR, 'demo', f)), fixture('photos', 'astronaut.jpg')];
  for (const file of sources) {
    const bytes = await readFile(file);
    const image = await rgb(bytes);
    let i = 0;
    for (const f of await detector.detect(image)) {
      // A square 1.6x the face, a multiple of 8 px so that x4 degradation is exact.
      const size = Math.min(image.width, image.height, Math.round((1.6 * Math.max(f.box.width, f.box.height)) / 8) * 8);
      const left = Math.max(0, Math.min(image.width - size, Math.round(f.box.x + f.box.width / 2 - size / 2)));
      const top = Math.max(0, Math.min(image.height - size, Math.round(f.box.y + f.box.height / 2 - size / 2)));
      const x = Math.max(0, Math.round(f.box.x) - left);
      const y = Math.max(0, Math.round(f.box.y) - top);
      const face = { x, y, width: Math.min(size - x, Math.round(f.box.width)), height: Math.min(size - y, Math.round(f.box.height)) };
      const gt = await sharp(bytes).extract({ left, top, width: size, height: size }).png().toBuffer();
      out.push({ name: `${file.split('/').pop()}#${++i}`, gt, size, face });
    }
  }
  return out;
}

export async function degrade(gt: Buffer, size: number, kind: 'x4' | 'x1' | 'q75'): Promise<Buffer> {
  if (kind === 'q75') return sharp(gt).jpeg({ quality: 75 }).toBuffer();
  if (kind === 'x4') return sharp(gt).resize(size / 4, size / 4, { kernel: 'cubic' }).jpeg({ quality: 60 }).toBuffer();
  return sharp(gt).blur(1.5).jpeg({ quality: 60 }).toBuffer();
}

interface Scores {
  psnr: number[];
  ssim: number[];
  id: number[];
}

const METHODS = ['Lanczos', 'clean fast', 'clean quality', `face (fast, strength ${DEFAULT_FACE_STRENGTH})`, 'face, strength 0.2', 'face, strength 0.5', 'face, fidelity net only (1.0)'] as const;
/** The mild case (a phone JPEG of a good face): is face mode at least as good as clean? Fewer methods, to keep the run short. */
const MILD_METHODS: readonly Method[] = ['Lanczos', 'clean fast', `face (fast, strength ${DEFAULT_FACE_STRENGTH})`];
const FACE_DEFAULT = `face (fast, strength ${DEFAULT_FACE_STRENGTH})` as const;
type Method = (typeof METHODS)[number];

export async function face(): Promise<string> {
  const recognizer = await openRecognizer();
  const base = { dataDir: TEST_DATA_DIR, threads: 0 } as const;
  const fast = await LocalEngine.open({ ...base, preload: ['fast'] });
  const quality = await LocalEngine.open({ ...base, preload: ['quality'] });
  const strengths: Record<string, LocalEngine> = {};
  for (const s of [0.2, 0.5, 1]) strengths[s] = await LocalEngine.open({ ...base, preload: ['fast'], face: { strength: s } });
  const all = await portraits();
  const results: Record<string, Record<Method, Scores>> = {};
  const detected: Record<string, number> = { x4: 0, x1: 0, q75: 0 };
  const crops: Buffer[] = [];
  try {
    for (const kind of ['x4', 'x1', 'q75'] as const) {
      const scale = kind === 'x4' ? 4 : 1;
      const methods = kind === 'q75' ? MILD_METHODS : METHODS;
      const per = (results[kind] = Object.fromEntries(METHODS.map((m) => [m, { psnr: [], ssim: [], id: [] }])) as unknown as Record<Method, Scores>);
      for (const p of all) {
        const input = await degrade(p.gt, p.size, kind);
        const outs: Partial<Record<Method, Buffer | Uint8Array>> = {};
        const want = (m: Method) => methods.includes(m);
        outs['Lanczos'] = await sharp(input).resize(p.size, p.size, { kernel: 'lanczos3' }).png().toBuffer();
        outs['clean fast'] = (await fast.enhance(input, { scale, format: 'png' })).data;
        if (want('clean quality')) outs['clean quality'] = (await quality.enhance(input, { scale, model: 'quality', format: 'png' })).data;
        const f = await fast.enhance(input, { kind: 'face', scale, format: 'png' });
        if ((f.faces?.enhanced ?? 0) > 0) detected[kind]!++;
        outs[FACE_DEFAULT] = f.data;
        if (want('face, strength 0.2')) outs['face, strength 0.2'] = (await strengths[0.2]!.enhance(input, { kind: 'face', scale, format: 'png' })).data;
        if (want('face, strength 0.5')) outs['face, strength 0.5'] = (await strengths[0.5]!.enhance(input, { kind: 'face', scale, format: 'png' })).data;
        if (want('face, fidelity net only (1.0)')) outs['face, fidelity net only (1.0)'] = (await strengths[1]!.enhance(input, { kind: 'face', scale, format: 'png' })).data;
        const truth = await rgb(p.gt);
        const gtFace = region(truth, p.face);
        const gtId = await recognizer.embed(gtFace);
        for (const m of methods) {
          const got = region(await rgb(Buffer.from(outs[m]!)), p.face);
          per[m].psnr.push(psnr(got, gtFace));
          per[m].ssim.push(ssim(got, gtFace));
          per[m].id.push(cosine(await recognizer.embed(got), gtId));
        }
        if (kind === 'x4' && crops.length < 3 && p.face.width > 150) crops.push(await sideBySide(input, p, [outs['Lanczos']!, outs['clean fast']!, outs[FACE_DEFAULT]!]));
      }
    }
  } finally {
    await Promise.all([fast, quality, ...Object.values(strengths)].map((e) => e.close()));
  }
  const rows: Array<Array<string | number>> = [];
  for (const [kind, per] of Object.entries(results)) {
    for (const m of METHODS) {
      const s = per[m];
      if (s.psnr.length === 0) continue;
      const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
      rows.push([kind, m, fmt(mean(s.psnr), 2), fmt(mean(s.ssim), 4), fmt(mean(s.id), 4), fmt(median(s.id), 4)]);
    }
  }
  if (crops.length) {
    await sharp({ create: { width: 5 * 260, height: crops.length * CROP_ROW, channels: 3, background: '#ffffff' } })
      .composite(crops.map((c, i) => ({ input: c, left: 0, top: i * CROP_ROW })))
      .png()
      .toFile(join(REPO_ROOT, 'docs', 'images', 'face-side-by-side.png'));
  }
  const cost = await faceCost();
  return [
    '## Face enhancement',
    '',
    `Restoration inside the face box against the original, ${all.length} faces (the 22 faces of the six group photos in \`@vladmandic/face-api\`'s demo folder, and the astronaut).`,
    'Degradations: **x4** = bicubic down x4 + JPEG q60, enhanced at scale 4; **x1** = Gaussian blur 1.5 px + JPEG q60 at full size, enhanced at scale 1; **q75** = JPEG q75 only (a good face from a phone), at scale 1, three methods (does face mode keep a good face as good as the clean path?).',
    'Identity = cosine similarity of face embeddings (face-api\'s ResNet-34 face-recognition net, 128-d; it plays no part in face mode) between the output\'s and the original\'s face; PSNR over RGB, SSIM over luma, both inside the face box.',
    `Face mode found the face in ${detected.x4}/${all.length} x4 inputs, ${detected.x1}/${all.length} x1 inputs and ${detected.q75}/${all.length} q75 inputs (where it finds none its output is the clean one).`,
    '',
    table(['degradation', 'method', 'PSNR dB', 'SSIM', 'identity (mean)', 'identity (median)'], rows),
    '',
    '![Face side by side: input, Lanczos, clean fast, face, original](images/face-side-by-side.png)',
    '',
    '`docs/images/face-side-by-side.png`, left to right: the x4 input (enlarged), Lanczos, clean fast, face mode, the original.',
    '',
    cost,
    '',
    'Reproduce: `npm run bench -- face`.',
  ].join('\n');
}

const CROP_ROW = 260;

/** One row: input (nearest), Lanczos, clean, face, truth, each 256 px. */
async function sideBySide(input: Buffer, p: Portrait, outs: Array<Buffer | Uint8Array>): Promise<Buffer> {
  const tile = (b: Buffer | Uint8Array, kernel: 'nearest' | 'lanczos3' = 'lanczos3') => sharp(b).resize(256, 256, { kernel }).png().toBuffer();
  const tiles = [await tile(input, 'nearest'), ...(await Promise.all(outs.map((o) => tile(o)))), await tile(p.gt)];
  return sharp({ create: { width: tiles.length * 260, height: CROP_ROW, channels: 3, background: '#ffffff' } })
    .composite(tiles.map((t, i) => ({ input: t, left: i * 260 + 2, top: 2 })))
    .png()
    .toBuffer();
}

/**
 * Faces found / present on the group photos at full size and shrunk (smaller faces),
 * and time per image: the detector face mode uses (SSD MobileNet v1) next to the
 * package's other one (Tiny Face Detector), the alternative considered.
 */
export async function faceDetection(): Promise<string> {
  const detector = openFaceDetector();
  await detector.detect({ width: 16, height: 16, channels: 3, depth: 8, data: new Uint8Array(768) });
  const api = require('@vladmandic/face-api/dist/face-api.node-wasm.js') as {
    tf: { tensor3d(d: Uint8Array, s: number[], t: string): { dispose(): void } };
    nets: { tinyFaceDetector: { loadFromDisk(dir: string): Promise<void> } };
    TinyFaceDetectorOptions: new (o: { inputSize: number; scoreThreshold: number }) => unknown;
    detectAllFaces(t: unknown, o: unknown): { withFaceLandmarks(): Promise<unknown[]> };
  };
  await api.nets.tinyFaceDetector.loadFromDisk(join(FACE_API_DIR, 'model'));
  const tiny = async (image: Raster): Promise<number> => {
    const t = api.tf.tensor3d(image.data as Uint8Array, [image.height, image.width, 3], 'int32');
    try {
      return (await api.detectAllFaces(t, new api.TinyFaceDetectorOptions({ inputSize: 608, scoreThreshold: 0.5 })).withFaceLandmarks()).length;
    } finally {
      t.dispose();
    }
  };
  const detectors: Array<[string, (image: Raster) => Promise<number>]> = [
    ['SSD MobileNet v1 (used)', async (image) => (await detector.detect(image)).length],
    ['Tiny Face Detector, 608 px', tiny],
  ];
  const rows: Array<Array<string | number>> = [];
  for (const [label, run] of detectors) {
    for (const width of [1920, 960, 480]) {
      let found = 0;
      let present = 0;
      let extra = 0;
      const times: number[] = [];
      const faceSizes: number[] = [];
      for (const [file, count] of GROUPS) {
        const image = await rgb(await sharp(join(FACE_API_DIR, 'demo', file)).resize(width).png().toBuffer());
        let n = 0;
        for (let i = 0; i < 3; i++) {
          const t = performance.now();
          n = await run(image);
          times.push(performance.now() - t);
        }
        present += count;
        found += Math.min(count, n);
        extra += Math.max(0, n - count);
        if (label.includes('used')) faceSizes.push(...(await detector.detect(image)).map((f) => f.box.width));
      }
      rows.push([label, `${width} px wide`, faceSizes.length ? `${fmt(median(faceSizes), 0)} px` : '', `${found}/${present}`, extra, `${fmt(median(times), 0)} ms`]);
    }
  }
  // False positives: photos without people, through the face step's three detector passes.

  const unfiltered = openFaceDetector({ verify: false });
  const noPeople: Array<[string, string]> = [
    ['chelsea.jpg (cat)', fixture('photos', 'chelsea.jpg')],
    ['coffee.jpg', fixture('photos', 'coffee.jpg')],
    ...(await corpusOriginals()).map(({ photo, file }) => [photo.name, file] as [string, string]),
  ];
  const dogs = join(CORPUS_DIR, CORPUS.find((p) => p.pkg === 'lomiri-wallpapers-16.04')!.pkg, 'usr/share/backgrounds/friends_by_Aitzol_Berasategi.jpg');
  noPeople.push(['friends (two dogs)', dogs]);
  const fpRows: Array<Array<string | number>> = [];
  let before = 0;
  let after = 0;
  for (const [label, file] of noPeople) {
    const image = await rgb(await sharp(file).resize(1920, 1920, { fit: 'inside', withoutEnlargement: true }).png().toBuffer());
    const b = (await detectFaces(unfiltered, image, image, 1)).length;
    const a = (await detectFaces(detector, image, image, 1)).length;
    before += b;
    after += a;
    if (a || b) fpRows.push([label, b, a]);
  }
  fpRows.push([`all ${noPeople.length} photos without people`, before, after]);
  return [
    '## Face detection',
    '',
    'Detectors with 68-point landmarks from `@vladmandic/face-api` (TensorFlow.js wasm backend), minimum score 0.5, on its six group photos (22 faces counted by hand; several tilted or looking down), at full size and shrunk. Time per image (detection + landmarks): median of 3 runs each.',
    '',
    table(['detector', 'image size', 'median face width', 'found / present', 'extra detections', 'time per image'], rows),
    '',
    'False detections on photos without people (the cat and coffee fixtures, the adaptive-enhancement corpus, and a photo of two dogs from lomiri-wallpapers-16.04, CC-BY-4.0), through the face step\'s three detector passes, before and after the two checks on every detection (src/engine/face/face-detector.ts): human landmark proportions (the mouth at least 0.45 eye distances wide and 0.72 below the eyes) and a second opinion from the Tiny Face Detector on a crop twice the box, at 320 px (score at least 0.1). Photos with none in either column are not listed:',
    '',
    table(['photo', 'detections without the checks', 'with the checks (used)'], fpRows),
    '',
    'Reproduce: `npm run bench -- facedetect`.',
  ].join('\n');
}

/** Extra time of face mode over clean, per face, on the group photos at 1x. */
export async function faceCost(): Promise<string> {
  const engine = await LocalEngine.open({ dataDir: TEST_DATA_DIR, threads: 0, preload: ['fast'] });
  const rows: Array<Array<string | number>> = [];
  const perFace: number[] = [];
  try {
    // Warm up: TensorFlow.js, the detector and the fidelity network load on first use.
    await engine.enhance(await sharp(fixture('photos', 'astronaut.jpg')).resize(128).jpeg().toBuffer(), { kind: 'face', scale: 2 });
    for (const [file] of GROUPS.slice(0, 3)) {
      const bytes = await sharp(join(FACE_API_DIR, 'demo', file)).resize(960).jpeg({ quality: 85 }).toBuffer();
      const t0 = performance.now();
      await engine.enhance(bytes, { scale: 2 });
      const clean = performance.now() - t0;
      const t1 = performance.now();
      const f = await engine.enhance(bytes, { kind: 'face', scale: 2 });
      const withFaces = performance.now() - t1;
      const n = f.faces?.enhanced ?? 0;
      perFace.push((withFaces - clean) / Math.max(1, n));
      rows.push([file, n, `${fmt(clean / 1000, 2)} s`, `${fmt(withFaces / 1000, 2)} s`, `${fmt((withFaces - clean) / 1000 / Math.max(1, n), 2)} s`]);
    }
  } finally {
    await engine.close();
  }
  return [
    '### Cost of face mode',
    '',
    'Group photos shrunk to 960 px wide, enhanced at 2x (-> 1920 px) with `fast`, clean then face, after a warm-up (models loaded).',
    '',
    table(['image', 'faces', 'clean', 'face', 'extra per face'], rows),
    '',
    `Median extra time per face: ${fmt(median(perFace) / 1000, 2)} s (detection once per image, plus the fidelity network on each face's neighbourhood).`,
  ].join('\n');
}
