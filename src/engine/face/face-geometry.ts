/**
 * Geometry of face alignment and blending: five landmarks from the 68-point set, the
 * FFHQ template that GFPGAN/CodeFormer-style models expect, a least-squares similarity
 * transform between them, and the feathered masks faces are pasted back with.
 */
export interface Point {
  readonly x: number;
  readonly y: number;
}

/** 2x3 affine matrix [a, b, tx, c, d, ty]: x' = a x + b y + tx, y' = c x + d y + ty. */
export type Affine = readonly [number, number, number, number, number, number];

/**
 * The FFHQ 5-point template for a 512 x 512 aligned face (left eye, right eye, nose
 * tip, left and right mouth corner), as used by GFPGAN and CodeFormer (facexlib).
 */
export const FFHQ_TEMPLATE_512: readonly Point[] = [
  { x: 192.98138, y: 239.94708 },
  { x: 318.90277, y: 240.1936 },
  { x: 256.63416, y: 314.01935 },
  { x: 201.26117, y: 371.41043 },
  { x: 313.08905, y: 371.15118 },
];

function mean(points: readonly Point[]): Point {
  let x = 0;
  let y = 0;
  for (const p of points) {
    x += p.x;
    y += p.y;
  }
  return { x: x / points.length, y: y / points.length };
}

/** Eye centres, nose tip and mouth corners from the 68 iBUG landmarks (image left first). */
export function fivePoints(landmarks68: readonly Point[]): Point[] {
  if (landmarks68.length !== 68) throw new Error(`expected 68 landmarks, received ${landmarks68.length}`);
  return [mean(landmarks68.slice(36, 42)), mean(landmarks68.slice(42, 48)), landmarks68[30]!, landmarks68[48]!, landmarks68[54]!];
}

/**
 * The similarity transform (rotation, uniform scale, translation; no reflection)
 * that maps `from` onto `to` with the least squared error (Umeyama 1991, 2-D case).
 */
export function similarityTransform(from: readonly Point[], to: readonly Point[]): Affine {
  if (from.length !== to.length || from.length < 2) throw new Error('similarityTransform needs two matching sets of at least 2 points');
  const mf = mean(from);
  const mt = mean(to);
  // For a 2-D similarity [a -b; b a], the least-squares solution is closed form.
  let num1 = 0;
  let num2 = 0;
  let den = 0;
  for (let i = 0; i < from.length; i++) {
    const fx = from[i]!.x - mf.x;
    const fy = from[i]!.y - mf.y;
    const tx = to[i]!.x - mt.x;
    const ty = to[i]!.y - mt.y;
    num1 += fx * tx + fy * ty;
    num2 += fx * ty - fy * tx;
    den += fx * fx + fy * fy;
  }
  if (den === 0) throw new Error('similarityTransform: the source points coincide');
  const a = num1 / den;
  const b = num2 / den;
  return [a, -b, mt.x - a * mf.x + b * mf.y, b, a, mt.y - b * mf.x - a * mf.y];
}

export function invertAffine(m: Affine): Affine {
  const [a, b, tx, c, d, ty] = m;
  const det = a * d - b * c;
  if (det === 0) throw new Error('invertAffine: singular matrix');
  const ia = d / det;
  const ib = -b / det;
  const ic = -c / det;
  const id = a / det;
  return [ia, ib, -(ia * tx + ib * ty), ic, id, -(ic * tx + id * ty)];
}

export function applyAffine(m: Affine, p: Point): Point {
  return { x: m[0] * p.x + m[1] * p.y + m[2], y: m[3] * p.x + m[4] * p.y + m[5] };
}

/** Smooth step from 0 (t <= 0) to 1 (t >= 1) with zero slope at both ends. */
export function smoothstep(t: number): number {
  if (t <= 0) return 0;
  if (t >= 1) return 1;
  return t * t * (3 - 2 * t);
}

/**
 * Weight of an elliptical face mask at (x, y): 1 inside the inner ellipse, falling
 * smoothly to 0 at the outer one (radii x (1 + feather)). Used to paste a restored
 * face back without a visible seam.
 */
export function ellipseMask(x: number, y: number, cx: number, cy: number, rx: number, ry: number, feather: number): number {
  const dx = (x - cx) / rx;
  const dy = (y - cy) / ry;
  const r = Math.sqrt(dx * dx + dy * dy);
  return 1 - smoothstep((r - 1) / feather);
}

/**
 * Weight of the aligned-crop mask at template coordinates (u, v) in a `size`-pixel
 * square: 1 in the middle, falling smoothly to 0 over `border` pixels at each edge.
 */
export function squareMask(u: number, v: number, size: number, border: number): number {
  const edge = Math.min(u, v, size - 1 - u, size - 1 - v);
  return smoothstep(edge / border);
}
