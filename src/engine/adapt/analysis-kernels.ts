/**
 * The input analysis's sweeps over the luma plane (adapt/analysis.ts), each over a range
 * of rows (or 16-row noise blocks), so that the fusion's crew of threads
 * (adapt/fusion-crew.ts) can share them. Every kernel writes only its own rows' partial
 * sums, and the caller adds the rows in order: the figures do not depend on the number of
 * threads. A call is plain data (a message to a helper thread; its arrays shared memory).
 */

/** Per-row partial sums of the gradient sweep: the slots of row y start at y * GRADIENT_SLOTS. */
export const GRADIENT_SLOTS = 6;
/** Slots: steps across columns on / off the 8-px block grid; sharpness along the row (all steps, steps the blur removed); steps to the row above on / off the grid. */
export const G_BORDER_X = 0;
export const G_INNER_X = 1;
export const G_SHARP_F = 2;
export const G_SHARP_V = 3;
export const G_BORDER_Y = 4;
export const G_INNER_Y = 5;

/** Rows at which the vertical sharpness sweep restarts its running column sums (bands are multiples of it). */
export const SHARP_CHUNK = 64;

/** Side of the noise estimator's blocks. */
export const NOISE_BLOCK = 16;

/** Half-width of the sharpness estimator's box (9 taps). */
const R = 4;

export type AnalysisCall =
  /** Rows: blocking and horizontal sharpness steps, and blocking steps to the row above. */
  | { readonly kind: 'gradients'; readonly luma: Float32Array; readonly width: number; readonly rows: Float64Array }
  /** Rows (bands of whole SHARP_CHUNK-row chunks): vertical sharpness steps, two slots per row. */
  | { readonly kind: 'sharp-columns'; readonly luma: Float32Array; readonly width: number; readonly height: number; readonly rows: Float64Array }
  /** 16-row block rows: each noise block's sum of absolute Laplacian responses. */
  | { readonly kind: 'noise'; readonly luma: Float32Array; readonly width: number; readonly bw: number; readonly sums: Float64Array };

export function runAnalysisKernel(call: AnalysisCall, lo: number, hi: number): void {
  switch (call.kind) {
    case 'gradients':
      return gradientRows(call.luma, call.width, call.rows, lo, hi);
    case 'sharp-columns':
      for (let c = lo; c < hi; c += SHARP_CHUNK) sharpColumns(call.luma, call.width, call.height, call.rows, c, Math.min(hi, c + SHARP_CHUNK));
      return;
    case 'noise':
      return noiseBlockRows(call.luma, call.width, call.bw, call.sums, lo, hi);
  }
}

/**
 * Rows [lo, hi): steps |l[x] - l[x-1]| on the JPEG grid (x = 8, 16, ...) and off it; the
 * sharpness of the row (Crete-Roffet: how much of each step a 9-tap box keeps); the steps
 * to the row above, on the grid (rows 8, 16, ...) or off it.
 */
function gradientRows(luma: Float32Array, width: number, rows: Float64Array, lo: number, hi: number): void {
  const blurred = new Float32Array(width);
  const headEnd = Math.min(width, R + 1); // x <= R: the dropped sample is the first one
  const bodyEnd = Math.max(headEnd, width - R - 1); // from here the added sample is the last one
  for (let y = lo; y < hi; y++) {
    const row = y * width;
    const last = row + width - 1;
    // The 9-tap box along the row (edge samples repeated), as a running sum.
    let acc = 0;
    for (let k = -R; k <= R; k++) acc += luma[row + Math.min(width - 1, Math.max(0, k))]!;
    let x = 0;
    for (; x < headEnd; x++) {
      blurred[x] = acc / 9;
      acc += luma[row + Math.min(width - 1, x + R + 1)]! - luma[row]!;
    }
    for (; x < bodyEnd; x++) {
      blurred[x] = acc / 9;
      acc += luma[row + x + R + 1]! - luma[row + x - R]!;
    }
    for (; x < width; x++) {
      blurred[x] = acc / 9;
      acc += luma[last]! - luma[row + Math.max(0, x - R)]!;
    }
    let border = 0;
    let inner = 0;
    let sumF = 0;
    let sumV = 0;
    for (x = 1; x < width; x++) {
      const dF = Math.abs(luma[row + x]! - luma[row + x - 1]!);
      if ((x & 7) === 0) border += dF;
      else inner += dF;
      sumF += dF;
      sumV += Math.max(0, dF - Math.abs(blurred[x]! - blurred[x - 1]!));
    }
    let borderY = 0;
    let innerY = 0;
    if (y > 0) {
      const above = row - width;
      let s = 0;
      for (x = 0; x < width; x++) s += Math.abs(luma[row + x]! - luma[above + x]!);
      if ((y & 7) === 0) borderY = s;
      else innerY = s;
    }
    const o = y * GRADIENT_SLOTS;
    rows[o + G_BORDER_X] = border;
    rows[o + G_INNER_X] = inner;
    rows[o + G_SHARP_F] = sumF;
    rows[o + G_SHARP_V] = sumV;
    rows[o + G_BORDER_Y] = borderY;
    rows[o + G_INNER_Y] = innerY;
  }
}

/** The 9-row box (edge rows repeated) of every column at row `y`, summed afresh into `sums`. */
function columnBox(luma: Float32Array, width: number, height: number, y: number, sums: Float32Array): void {
  sums.fill(0);
  for (let k = -R; k <= R; k++) {
    const row = Math.min(height - 1, Math.max(0, y + k)) * width;
    for (let x = 0; x < width; x++) sums[x]! += luma[row + x]!;
  }
}

/**
 * Rows [lo, hi) of one chunk: the vertical steps and how much of each the 9-row box keeps
 * (slots 2y, 2y + 1: all steps, steps the blur removed). The column sums run down the chunk
 * from a fresh sum at its first row (and the row above it), so a chunk's figures do not
 * depend on the chunks before it.
 */
function sharpColumns(luma: Float32Array, width: number, height: number, rows: Float64Array, lo: number, hi: number): void {
  const sums = new Float32Array(width);
  const previous = new Float32Array(width);
  let start = lo;
  if (lo === 0) {
    columnBox(luma, width, height, 0, sums);
    for (let x = 0; x < width; x++) {
      previous[x] = sums[x]! / 9;
      sums[x]! += luma[Math.min(height - 1, R + 1) * width + x]! - luma[x]!;
    }
    rows[0] = 0;
    rows[1] = 0;
    start = 1;
  } else {
    columnBox(luma, width, height, lo - 1, sums);
    for (let x = 0; x < width; x++) previous[x] = sums[x]! / 9;
    columnBox(luma, width, height, lo, sums);
  }
  for (let y = start; y < hi; y++) {
    const row = y * width;
    const above = row - width;
    const add = Math.min(height - 1, y + R + 1) * width;
    const drop = Math.max(0, y - R) * width;
    let sumF = 0;
    let sumV = 0;
    for (let x = 0; x < width; x++) {
      const b = sums[x]! / 9;
      const dF = Math.abs(luma[row + x]! - luma[above + x]!);
      sumF += dF;
      sumV += Math.max(0, dF - Math.abs(b - previous[x]!));
      previous[x] = b;
      sums[x]! += luma[add + x]! - luma[drop + x]!;
    }
    rows[2 * y] = sumF;
    rows[2 * y + 1] = sumV;
  }
}

/**
 * Block rows [lo, hi) of the noise estimator (Immerkaer's mask, which cancels linear
 * structure): each 16x16 block's sum of absolute responses, its pixels in row order.
 */
function noiseBlockRows(luma: Float32Array, width: number, bw: number, sums: Float64Array, lo: number, hi: number): void {
  for (let y = 1 + lo * NOISE_BLOCK; y <= hi * NOISE_BLOCK; y++) {
    const row = y * width;
    const by = Math.floor((y - 1) / NOISE_BLOCK) * bw;
    for (let bx = 0; bx < bw; bx++) {
      let s = sums[by + bx]!;
      const end = row + 1 + (bx + 1) * NOISE_BLOCK;
      for (let i = end - NOISE_BLOCK; i < end; i++) {
        const v =
          luma[i - width - 1]! - 2 * luma[i - width]! + luma[i - width + 1]! -
          2 * luma[i - 1]! + 4 * luma[i]! - 2 * luma[i + 1]! +
          luma[i + width - 1]! - 2 * luma[i + width]! + luma[i + width + 1]!;
        s += Math.abs(v);
      }
      sums[by + bx] = s;
    }
  }
}
