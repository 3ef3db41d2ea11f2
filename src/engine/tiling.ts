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

export function planTiles(width: number, height: number, tileSize: number, overlap: number): Tile[] {
  if (!(tileSize >= 1) || !(overlap >= 0)) throw new RangeError(`bad tiling ${tileSize}/${overlap}`);
  const cols = splitEvenly(width, Math.ceil(width / tileSize));
  const rows = splitEvenly(height, Math.ceil(height / tileSize));
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
