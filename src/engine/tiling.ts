/**
 * Tile planning for bounded-memory inference.
 *
 * The image is cut into a grid of near-equal inner rectangles no larger than
 * `tileSize`. Each tile is run with `overlap` pixels of real image context on every
 * side (clamped at the image border, where the network's own zero padding applies,
 * exactly as when the whole image is run at once), and only the inner rectangle of
 * the result is kept. With enough context the stitched output matches an untiled run
 * (measured in docs/BENCHMARKS.md, tested in tiling.test.ts).
 */
export interface Rect {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

export interface Tile {
  /** Region of the input this tile is responsible for. */
  readonly inner: Rect;
  /** Region fed to the network: inner plus context, clamped to the image. */
  readonly outer: Rect;
}

/** Splits `length` into `parts` near-equal segments (the first ones take the remainder). */
function splitEvenly(length: number, parts: number): Array<[start: number, size: number]> {
  const out: Array<[number, number]> = [];
  const base = Math.floor(length / parts);
  const extra = length % parts;
  let start = 0;
  for (let i = 0; i < parts; i++) {
    const size = base + (i < extra ? 1 : 0);
    out.push([start, size]);
    start += size;
  }
  return out;
}

/**
 * With `align` > 1 (a network that pixel-unshuffles), every tile's inner and outer corner
 * lies on the `align` grid: the image's sides must be multiples of it, and the overlap is
 * rounded up to one.
 */
export function planTiles(width: number, height: number, tileSize: number, overlap: number, align = 1): Tile[] {
  if (!(tileSize >= 1) || !(overlap >= 0) || !(align >= 1)) throw new RangeError(`bad tiling ${tileSize}/${overlap}/${align}`);
  if (width % align !== 0 || height % align !== 0) throw new RangeError(`a ${width}x${height} image cannot be tiled on a grid of ${align}`);
  const unitTile = Math.max(1, Math.floor(tileSize / align));
  const scaleUp = (parts: Array<[number, number]>) => parts.map(([s, n]): [number, number] => [s * align, n * align]);
  const cols = scaleUp(splitEvenly(width / align, Math.ceil(width / align / unitTile)));
  const rows = scaleUp(splitEvenly(height / align, Math.ceil(height / align / unitTile)));
  overlap = Math.ceil(overlap / align) * align;
  const tiles: Tile[] = [];
  for (const [y, h] of rows) {
    for (const [x, w] of cols) {
      const ox = Math.max(0, x - overlap);
      const oy = Math.max(0, y - overlap);
      const ox2 = Math.min(width, x + w + overlap);
      const oy2 = Math.min(height, y + h + overlap);
      tiles.push({ inner: { x, y, width: w, height: h }, outer: { x: ox, y: oy, width: ox2 - ox, height: oy2 - oy } });
    }
  }
  return tiles;
}

/** Pixels the network processes for a plan, relative to the image area (1 = no overhead). */
export function tilingOverhead(tiles: readonly Tile[]): number {
  let outer = 0;
  let inner = 0;
  for (const t of tiles) {
    outer += t.outer.width * t.outer.height;
    inner += t.inner.width * t.inner.height;
  }
  return inner === 0 ? 1 : outer / inner;
}
