import type { Raster } from '../types.js';

/**
 * Wraps a raster in a minimal uncompressed little-endian TIFF, optionally tagged with
 * an ICC profile.
 *
 * Why: sharp cannot attach an ICC profile to raw pixels without converting them from
 * sRGB. Fed through this carrier with `keepIccProfile()`, the encoder embeds the
 * source's own profile and leaves the pixel values untouched, so wide-gamut (P3,
 * Adobe RGB) inputs keep their colours exactly instead of being clipped to sRGB.
 */
const SHORT = 3;
const LONG = 4;
const UNDEFINED = 7;

interface Entry {
  tag: number;
  type: number;
  values: number[] | Uint8Array;
}

export function rasterToTiff(raster: Raster, icc?: Uint8Array): Uint8Array {
  const { width, height, channels, depth } = raster;
  const bytesPerSample = depth / 8;
  const pixelBytes = width * height * channels * bytesPerSample;
  const gray = channels <= 2;
  const alpha = channels === 2 || channels === 4;

  const entries: Entry[] = [
    { tag: 256, type: LONG, values: [width] },
    { tag: 257, type: LONG, values: [height] },
    { tag: 258, type: SHORT, values: new Array<number>(channels).fill(depth) },
    { tag: 259, type: SHORT, values: [1] }, // no compression
    { tag: 262, type: SHORT, values: [gray ? 1 : 2] }, // BlackIsZero or RGB
    { tag: 273, type: LONG, values: [0] }, // strip offset, patched below
    { tag: 277, type: SHORT, values: [channels] },
    { tag: 278, type: LONG, values: [height] },
    { tag: 279, type: LONG, values: [pixelBytes] },
    { tag: 284, type: SHORT, values: [1] }, // chunky
  ];
  if (alpha) entries.push({ tag: 338, type: SHORT, values: [2] }); // unassociated alpha
  if (icc && icc.length > 0) entries.push({ tag: 34675, type: UNDEFINED, values: icc });

  const typeSize = (t: number) => (t === SHORT ? 2 : t === LONG ? 4 : 1);
  const ifdSize = 2 + entries.length * 12 + 4;
  // Out-of-line values follow the IFD, each word-aligned; pixels come last.
  let extra = 0;
  const extraOffsets = entries.map((e) => {
    const size = e.values.length * typeSize(e.type);
    if (size <= 4) return -1;
    const at = extra;
    extra += size + (size & 1);
    return at;
  });
  const headerSize = 8;
  const extraStart = headerSize + ifdSize;
  const pixelStart = extraStart + extra + ((extraStart + extra) & 1);
  const out = new Uint8Array(pixelStart + pixelBytes);
  const view = new DataView(out.buffer);

  out.set([0x49, 0x49, 0x2a, 0x00]);
  view.setUint32(4, headerSize, true);
  view.setUint16(headerSize, entries.length, true);
  entries.forEach((e, i) => {
    if (e.tag === 273) e.values = [pixelStart];
    const at = headerSize + 2 + i * 12;
    view.setUint16(at, e.tag, true);
    view.setUint16(at + 2, e.type, true);
    view.setUint32(at + 4, e.values.length, true);
    const size = e.values.length * typeSize(e.type);
    const target = size <= 4 ? at + 8 : extraStart + extraOffsets[i]!;
    if (size > 4) view.setUint32(at + 8, target, true);
    if (e.values instanceof Uint8Array) out.set(e.values, target);
    else e.values.forEach((v, k) => (e.type === SHORT ? view.setUint16(target + k * 2, v, true) : view.setUint32(target + k * 4, v, true)));
  });
  view.setUint32(headerSize + 2 + entries.length * 12, 0, true); // no next IFD

  const src = raster.data;
  out.set(new Uint8Array(src.buffer, src.byteOffset, src.byteLength), pixelStart);
  return out;
}
