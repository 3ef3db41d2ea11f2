import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { ClearShotError } from '../errors/index.js';
import type { ModelSession } from './models/onnx-session.js';
import { allocSharedRaster } from './adapt/fusion-crew.js';
import { allocRaster } from './image/raster.js';
import { planTiles, type Tile } from './tiling.js';
import type { Raster } from './types.js';

export interface TileRunOptions {
  readonly tileSize: number;
  readonly overlap: number;
  /** Tile corners on this grid (a network that pixel-unshuffles by it); the image's sides must be multiples. */
  readonly align?: number | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Called after each tile with the share of the work done so far (0-1]. */
  readonly onTile?: ((fraction: number) => void) | undefined;
  /**
   * The output in shared memory, for a caller that fuses it as it is: the fusion's helper
   * threads then read it where it is (adapt/fusion-crew.ts). Not for an output that is
   * resized first (it would only be held longer).
   */
  readonly sharedOutput?: boolean | undefined;
}

/** Throws the abort reason if it is one of ours, else CANCELLED. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (!signal?.aborted) return;
  const reason: unknown = signal.reason;
  if (reason instanceof ClearShotError) throw reason;
  throw new ClearShotError('CANCELLED');
}

/** Copies `rect` of an RGB raster into a planar float tensor in [0, 1]. */
function toTensor(src: Raster, tile: Tile): Float32Array {
  const { x, y, width: w, height: h } = tile.outer;
  const plane = w * h;
  const out = new Float32Array(3 * plane);
  const inv = 1 / (src.depth === 16 ? 65535 : 255);
  const data = src.data;
  for (let row = 0; row < h; row++) {
    let s = ((y + row) * src.width + x) * 3;
    let d = row * w;
    for (let col = 0; col < w; col++, s += 3, d++) {
      out[d] = data[s]! * inv;
      out[d + plane] = data[s + 1]! * inv;
      out[d + 2 * plane] = data[s + 2]! * inv;
    }
  }
  return out;
}

/** Writes the inner part of a planar network output into the interleaved destination. */
function fromTensor(net: Float32Array, tile: Tile, scale: number, dst: Raster): void {
  const ow = tile.outer.width * scale;
  const plane = ow * tile.outer.height * scale;
  const offX = (tile.inner.x - tile.outer.x) * scale;
  const offY = (tile.inner.y - tile.outer.y) * scale;
  const w = tile.inner.width * scale;
  const h = tile.inner.height * scale;
  const max = dst.depth === 16 ? 65535 : 255;
  const data = dst.data;
  for (let row = 0; row < h; row++) {
    let s = (offY + row) * ow + offX;
    let d = ((tile.inner.y * scale + row) * dst.width + tile.inner.x * scale) * 3;
    for (let col = 0; col < w; col++, s++, d += 3) {
      // Round to nearest and clamp: the network may overshoot [0, 1] slightly. (Math.min/max
      // stay in float registers; a ternary with integer constants was 2.5x slower: fusion.ts.)
      const r = net[s]! * max + 0.5;
      const g = net[s + plane]! * max + 0.5;
      const b = net[s + 2 * plane]! * max + 0.5;
      data[d] = Math.min(max, Math.max(0, r));
      data[d + 1] = Math.min(max, Math.max(0, g));
      data[d + 2] = Math.min(max, Math.max(0, b));
    }
  }
}

/**
 * Runs an RGB raster through a network tile by tile and stitches the result.
 * Memory is bounded by one tile's tensors plus the output raster. Cancellation is
 * checked before every tile; the loop yields to the event loop between tiles so that
 * a worker thread can receive its cancel message.
 */
export async function runTiled(session: ModelSession, src: Raster, scale: number, options: TileRunOptions): Promise<Raster> {
  if (src.channels !== 3) throw new ClearShotError('INTERNAL', `runTiled expects RGB, received ${src.channels} channels`);
  const width = src.width * scale;
  const height = src.height * scale;
  const dst = (options.sharedOutput ? allocSharedRaster : allocRaster)(width, height, 3, src.depth);
  const tiles = planTiles(src.width, src.height, options.tileSize, options.overlap, options.align ?? 1);
  const total = src.width * src.height;
  let done = 0;
  for (const tile of tiles) {
    throwIfAborted(options.signal);
    const out = await session.run(toTensor(src, tile), 3, tile.outer.height, tile.outer.width);
    if (out.channels !== 3 || out.height !== tile.outer.height * scale || out.width !== tile.outer.width * scale) {
      throw new ClearShotError('MODEL_FAILURE', `model output ${out.channels}x${out.height}x${out.width} does not match a x${scale} RGB network`);
    }
    fromTensor(out.data, tile, scale, dst);
    done += tile.inner.width * tile.inner.height;
    options.onTile?.(done / total);
    await yieldToLoop();
  }
  throwIfAborted(options.signal);
  return dst;
}
