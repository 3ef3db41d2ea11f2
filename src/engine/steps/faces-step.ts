import { ClearShotError } from '../../errors/index.js';
import { DEFAULT_CONSISTENCY, estimateDefect, fuseGated, fusionFor, type FusionOptions } from '../adapt/fusion.js';
import { faceRegionStrength } from '../adapt/policy.js';
import { enhanceFaces, faceMask, maskSupport, MAX_FACES, type FaceStageDeps } from '../face/face-stage.js';
import { cropRaster } from '../image/raster.js';
import type { FaceReport, Raster } from '../types.js';
import { NETWORK_END, type EnhanceContext, type Step } from './context.js';

/**
 * `type=face`: up to 10 faces restored and blended into the result with feathered masks.
 *
 * - After the upscaler's fusion (2x/4x, or 1x with the upscaler) the built-in fidelity
 *   face is restored on the network's output and its region fused with the input again
 *   at the face region's strength; outside the masks the fused photo stays as it is.
 *   (Mixed into the fused photo instead, the fidelity face pulled it below the clean path:
 *   docs/BENCHMARKS.md, "Face enhancement".)
 * - After the 1x restoration network, and with a user's aligned model everywhere, the
 *   restored face is blended into the result at face_strength.
 * - fix_face_only: outside every face mask the result is the classical image.
 */
export const facesStep: Step = {
  name: 'faces',
  async run(c: EnhanceContext) {
    if (!c.faceMode) return;
    const source = c.faceSource;
    if (!source) return; // the network did not run (cannot happen: face mode always runs it)
    if (!c.deps.faces) throw new ClearShotError('INTERNAL', 'this engine was built without the face step');
    const deps: FaceStageDeps = await c.deps.faces();
    const rgb = c.need('rgb');
    const scale = c.need('scale');
    const restoration = c.need('restoration');
    const faceStrength = c.options.faceStrength ?? deps.strength;
    const onProgress = (f: number) => c.report(c.networkEnd + f * (NETWORK_END - c.networkEnd));
    const stage = { input: rgb, netInput: source.netInput, netScale: source.netScale, scale, signal: c.options.signal, onProgress };
    let up = c.need('output');
    let faces: FaceReport;
    const { classical } = source;
    if (source.fused && classical && !deps.aligned) {
      // The defect of the network's whole, ungated change (fuse's own estimate on it),
      // taken before the faces change it.
      const defect = estimateDefect(classical, source.netOut);
      faces = await enhanceFaces({ ...stage, output: source.netOut }, { ...deps, strength: faceStrength });
      // face_strength 0: the faces stay as the clean path made them.
      if (faces.enhanced > 0 && faceStrength > 0) {
        if (up === classical) up = { ...up, data: up.data.slice() } as Raster;
        fuseFaceRegions(up, classical, source.netOut, rgb, scale, faces, { ...fusionFor(scale, faceRegionStrength(restoration, scale)), defect });
      }
    } else {
      if (up === rgb || up === source.netOut) up = { ...up, data: up.data.slice() } as Raster;
      faces = await enhanceFaces({ ...stage, output: up }, { ...deps, strength: faceStrength });
      if (c.fixFaceOnly && classical) up = blendMasked(classical, up, faceMask(faces, up.width, up.height));
    }
    c.output = up;
    c.faces = faces;
    c.notes.push(...faceNotes(faces, c.fixFaceOnly));
  },
};

function faceNotes(faces: FaceReport, fixFaceOnly: boolean): string[] {
  if (faces.detected === 0) return [fixFaceOnly ? 'no face found: fix_face_only returned the input resized with a classical filter' : 'no face found: enhanced as clean'];
  const notes = [`face enhancement: ${faces.enhanced} face${faces.enhanced === 1 ? '' : 's'} restored`];
  if (faces.detected > faces.enhanced) notes.push(`${faces.detected} faces found, the ${faces.enhanced} largest restored (limit ${MAX_FACES}); the rest enhanced as clean`);
  return notes;
}

/**
 * Fuses the face regions again at their own strength and blends the result into `up`
 * (in place) with the faces' feathered masks. Only the rectangle around the masks is
 * fused, with a margin wider than every window of the fusion and the gate, its origin
 * on the 4-pixel grid of the tone low-pass: inside the masks the result is what a fusion
 * of the whole photo gives, at a fraction of the cost.
 */
function fuseFaceRegions(up: Raster, base: Raster, net: Raster, input: Raster, scale: number, faces: FaceReport, o: FusionOptions): void {
  if (faces.boxes.length === 0) return;
  const margin = 3 * o.toneRadius + 2 * o.radius + 4 * scale * DEFAULT_CONSISTENCY.radius + 16;
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = 0;
  let y1 = 0;
  for (const b of faces.boxes) {
    const m = maskSupport(b);
    x0 = Math.min(x0, m.x0);
    y0 = Math.min(y0, m.y0);
    x1 = Math.max(x1, m.x1);
    y1 = Math.max(y1, m.y1);
  }
  const grid = 4; // a multiple of every scale (1, 2, 4) and the tone's block size
  const rx0 = Math.max(0, Math.floor((x0 - margin) / grid) * grid);
  const ry0 = Math.max(0, Math.floor((y0 - margin) / grid) * grid);
  const rx1 = Math.min(up.width, Math.ceil((x1 + margin) / grid) * grid);
  const ry1 = Math.min(up.height, Math.ceil((y1 + margin) / grid) * grid);
  const w = rx1 - rx0;
  const h = ry1 - ry0;
  if (w <= 0 || h <= 0) return;
  const b = cropRaster(base, rx0, ry0, w, h);
  const n = cropRaster(net, rx0, ry0, w, h);
  // The gate compares with the input: its crop covers the same area (sizes stay exact
  // multiples of the scale, as the image's own are).
  const i = scale > 1 ? cropRaster(input, rx0 / scale, ry0 / scale, Math.ceil(w / scale), Math.ceil(h / scale)) : input;
  const fused = fuseGated(b, n, i, scale, o);
  const mask = faceMask({ ...faces, boxes: faces.boxes.map((x) => ({ ...x, x: x.x - rx0, y: x.y - ry0 })) }, w, h);
  blendInto(up, fused, mask, rx0, ry0);
}

/** out = a (1 - m) + b m, per pixel, for two RGB rasters of one shape. */
function blendMasked(a: Raster, b: Raster, mask: Float32Array): Raster {
  const out = { ...a, data: a.data.slice() } as Raster;
  blendInto(out, b, mask, 0, 0);
  return out;
}

/** dst = dst (1 - m) + src m in place, for RGB `src` (and its mask) placed at (`x0`, `y0`) of `dst`. */
function blendInto(dst: Raster, src: Raster, mask: Float32Array, x0: number, y0: number): void {
  const o = dst.data;
  const f = src.data;
  for (let y = 0; y < src.height; y++) {
    for (let x = 0; x < src.width; x++) {
      const m = mask[y * src.width + x]!;
      if (m <= 0) continue;
      const oi = ((y0 + y) * dst.width + x0 + x) * 3;
      const fi = (y * src.width + x) * 3;
      for (let c = 0; c < 3; c++) o[oi + c] = Math.round(o[oi + c]! * (1 - m) + f[fi + c]! * m);
    }
  }
}
