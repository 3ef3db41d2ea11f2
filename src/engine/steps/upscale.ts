import { crewFor } from '../adapt/fusion-crew.js';
import { fuseGated, fusionFor } from '../adapt/fusion.js';
import { resizeRaster } from '../image/raster.js';
import { runTiled } from '../tile-runner.js';
import { DECODE_END, type EnhanceContext, type RestorePlan } from './context.js';

/**
 * 2x and 4x (and 1x with CLEARSHOT_RESTORE_1X=upscaler): the x4 network on the input
 * (pre-shrunk by the plan), its output resized to the target, then fused with the
 * classical image (Lanczos; the input itself at 1x) so that it cannot repaint real
 * texture; at 2x/4x its change is first held back where it disagrees with the input
 * (adapt/fusion.ts). `fix_face_only` keeps the network's output for the face step.
 */
export async function upscaleAndFuse(c: EnhanceContext, plan: Extract<RestorePlan, { kind: 'upscale' }>): Promise<void> {
  const rgb = c.need('rgb');
  const scale = c.need('scale');
  const { strength } = c.need('restoration');
  const { output, model } = plan;
  const useNetwork = strength > 0 || c.faceMode;
  // The classical image; not made when the network's output is used as it is.
  const needsClassical = !useNetwork || c.fixFaceOnly || strength < 1;
  // Started before the network runs and awaited after it: libvips resizes on its own
  // thread while ONNX Runtime holds this one.
  const classicalPending = needsClassical ? resizeRaster(rgb, output.width, output.height) : undefined;
  if (!useNetwork) {
    c.output = await classicalPending;
    c.notes.push('strength 0: the input resized with a classical filter (Lanczos), no network');
    return;
  }
  // A failed resize must not go unhandled while the network runs: awaited below.
  classicalPending?.catch(() => undefined);
  const session = await c.deps.session(model.name, scale);
  if (session.precision === 'int8') c.notes.push('network run in int8 (precision)');
  c.lap('load');
  const netInput = await resizeRaster(rgb, plan.scale.netInput.width, plan.scale.netInput.height);
  c.lap('prepare');
  const tuning = c.deps.tuning;
  // A cancelled or failed run leaves no libvips work behind it (the job's end is what lets
  // the engine pool end a worker: engine-pool.ts).
  const net = await runTiled(session, netInput, model.netScale, {
    tileSize: tuning?.tileSize ?? model.tileSize,
    overlap: tuning?.overlap ?? model.overlap,
    signal: c.options.signal,
    onTile: (f) => c.report(DECODE_END + f * (c.networkEnd - DECODE_END)),
    // Fused as it is (4x) by the fusion's helper threads: where they can read it.
    sharedOutput: plan.scale.netOutput.width === output.width && plan.scale.netOutput.height === output.height && crewFor(output.width * output.height).size > 1,
  }).catch(async (err: unknown) => {
    await classicalPending?.catch(() => undefined);
    throw err;
  });
  c.lap('inference');
  const classical = await classicalPending;
  const netOut = await resizeRaster(net, output.width, output.height);
  const fused = !c.fixFaceOnly && classical !== undefined;
  // Outside face mode nothing reads the network's output after the fusion: it takes the result.
  c.output = fused ? fuseGated(classical, netOut, rgb, scale, fusionFor(scale, strength), { overwriteNet: !c.faceMode }) : netOut;
  if (c.faceMode) c.faceSource = { netInput, netScale: model.netScale, netOut, classical, fused };
  c.lap('fusion');
}
