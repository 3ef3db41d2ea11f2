import { allocSharedRaster, crewFor, isShared } from '../adapt/fusion-crew.js';
import { fuse, fusionFor } from '../adapt/fusion.js';
import { allocRaster } from '../image/raster.js';
import type { ModelSession } from '../models/onnx-session.js';
import type { RestoreModelSpec } from '../models/restore-model.js';
import { runTiled } from '../tile-runner.js';
import type { Raster } from '../types.js';
import { DECODE_END, type EnhanceContext, type RestorePlan } from './context.js';

/** The fidelity face network's factor (face/face-stage.ts reads faces from the restored photo through it). */
const FIDELITY_SCALE = 4;

/**
 * 1x: the restoration network on the photo at its own size, in tiles, no pre-shrink. Its
 * residual (output - input) is then scaled per pixel by the fusion (adapt/fusion.ts, the
 * same as at 2x/4x, without the gate): by `strength` where the change stays within what
 * the input's own defects explain (noise, JPEG error), by less where it is much larger,
 * and its lowest frequencies are taken out. Strength 0 is the input, 1 the network's
 * output as it is. The guard matters on good photos: a blind network cannot always tell
 * a photo's depth of field from blur, and sharpened a soft edge of a clean macro shot by
 * 40 levels (docs/BENCHMARKS.md, "Restoration network").
 */
export async function restoreWithNetwork(c: EnhanceContext, plan: Extract<RestorePlan, { kind: 'restore' }>): Promise<void> {
  const rgb = c.need('rgb');
  const { strength } = c.need('restoration');
  if (strength <= 0 && !c.faceMode) {
    c.output = rgb;
    c.notes.push('strength 0: the input as it is, no network');
    return;
  }
  const restorer = c.deps.restorer;
  if (!restorer) throw new Error('restore plan without a restoration network');
  const session = await restorer();
  if (session.precision === 'int8') c.notes.push('network run in int8 (precision)');
  c.lap('load');
  const net = await runRestoration(session, rgb, plan.model, {
    signal: c.options.signal,
    onTile: (f) => c.report(DECODE_END + f * (c.networkEnd - DECODE_END)),
    // Fused by the fusion's helper threads: where they can read it.
    sharedOutput: !c.fixFaceOnly && crewFor(rgb.width * rgb.height).size > 1,
  });
  c.lap('inference');
  // fix_face_only: the faces' surroundings inside their masks come from the network's
  // output as is; everything else is the input (face step).
  c.output = c.fixFaceOnly ? net : fuse(rgb, net, fusionFor(1, strength), { overwriteNet: !c.faceMode });
  if (c.faceMode) c.faceSource = { netInput: net, netScale: FIDELITY_SCALE, netOut: net, classical: rgb, fused: false };
  c.lap('blend');
}

export interface RestorationRunOptions {
  readonly signal?: AbortSignal | undefined;
  readonly onTile?: ((fraction: number) => void) | undefined;
  /** Overrides of the spec's tiling (seam benchmark, tests). */
  readonly tileSize?: number | undefined;
  readonly overlap?: number | undefined;
  /** The output in shared memory (tile-runner.ts), for the fusion's helper threads. */
  readonly sharedOutput?: boolean | undefined;
}

/**
 * The network's output (strength 1) for an RGB raster of any size: the image is padded
 * by edge replication to a multiple of the network's factor, run in tiles whose every
 * corner sits on that grid (the JPEG grid keeps the phase the network was trained on),
 * and cropped back.
 */
export async function runRestoration(session: ModelSession, rgb: Raster, spec: RestoreModelSpec, o: RestorationRunOptions = {}): Promise<Raster> {
  const m = spec.multiple;
  const padded = padToMultiple(rgb, m);
  const out = await runTiled(session, padded, 1, {
    tileSize: o.tileSize ?? spec.tileSize,
    overlap: o.overlap ?? spec.overlap,
    align: m,
    signal: o.signal,
    onTile: o.onTile,
    sharedOutput: o.sharedOutput,
  });
  return padded === rgb ? out : cropTo(out, rgb.width, rgb.height);
}

/** `src` extended by edge replication to the next multiple of `m` on each axis (itself when it already is one). */
export function padToMultiple(src: Raster, m: number): Raster {
  const w = Math.ceil(src.width / m) * m;
  const h = Math.ceil(src.height / m) * m;
  if (w === src.width && h === src.height) return src;
  const ch = src.channels;
  const out = allocRaster(w, h, ch, src.depth);
  const rowIn = src.width * ch;
  const rowOut = w * ch;
  for (let y = 0; y < h; y++) {
    const sy = Math.min(y, src.height - 1);
    const d = y * rowOut;
    out.data.set(src.data.subarray(sy * rowIn, sy * rowIn + rowIn), d);
    const last = d + rowIn - ch;
    for (let x = src.width; x < w; x++) for (let k = 0; k < ch; k++) out.data[d + x * ch + k] = out.data[last + k]!;
  }
  return out;
}

/** The top-left `width` x `height` of `src`, in shared memory when `src` is. */
function cropTo(src: Raster, width: number, height: number): Raster {
  const out = (isShared(src.data) ? allocSharedRaster : allocRaster)(width, height, src.channels, src.depth);
  const row = width * src.channels;
  for (let y = 0; y < height; y++) out.data.set(src.data.subarray(y * src.width * src.channels, y * src.width * src.channels + row), y * row);
  return out;
}
