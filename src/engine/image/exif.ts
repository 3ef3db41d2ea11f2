/**
 * The EXIF we carry from input to output: capture date and time, camera and lens,
 * exposure settings, author and copyright. Never the orientation (pixels are made
 * upright), never GPS unless the caller asks (`keepGps`), never maker notes,
 * thumbnails or serial numbers.
 *
 * The input is untrusted: every offset is bounds-checked and a malformed block yields
 * no metadata rather than an error, because metadata must never fail a request.
 * Values are returned as the strings sharp's `withExif` (libvips/libexif) parses:
 * ASCII as is, integers in decimal, rationals as "n/d", several values space-separated.
 */
export type ExifTags = Record<'IFD0' | 'IFD2' | 'IFD3', Record<string, string>>;

/** Tag number -> libexif name, per IFD (IFD2 = Exif sub-IFD, IFD3 = GPS). */
const KEEP_IFD0: Readonly<Record<number, string>> = {
  0x010e: 'ImageDescription',
  0x010f: 'Make',
  0x0110: 'Model',
  0x0132: 'DateTime',
  0x013b: 'Artist',
  0x8298: 'Copyright',
};
const KEEP_EXIF: Readonly<Record<number, string>> = {
  0x829a: 'ExposureTime',
  0x829d: 'FNumber',
  0x8822: 'ExposureProgram',
  0x8827: 'ISOSpeedRatings',
  0x9003: 'DateTimeOriginal',
  0x9004: 'DateTimeDigitized',
  0x9010: 'OffsetTime',
  0x9011: 'OffsetTimeOriginal',
  0x9012: 'OffsetTimeDigitized',
  0x9209: 'Flash',
  0x920a: 'FocalLength',
  0x9291: 'SubSecTimeOriginal',
  0xa405: 'FocalLengthIn35mmFilm',
  0xa433: 'LensMake',
  0xa434: 'LensModel',
};
const KEEP_GPS: Readonly<Record<number, string>> = {
  0x0001: 'GPSLatitudeRef',
  0x0002: 'GPSLatitude',
  0x0003: 'GPSLongitudeRef',
  0x0004: 'GPSLongitude',
  0x0006: 'GPSAltitude',
  0x0007: 'GPSTimeStamp',
  0x001d: 'GPSDateStamp',
};
const EXIF_IFD_POINTER = 0x8769;
const GPS_IFD_POINTER = 0x8825;
/** Bytes per component for the types we read (BYTE, ASCII, SHORT, LONG, RATIONAL, -, -, SSHORT?, SLONG, SRATIONAL). */
const TYPE_SIZE: Readonly<Record<number, number>> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 9: 4, 10: 8 };
const MAX_COMPONENTS = 256;

class Reader {
  private readonly view: DataView;
  constructor(
    private readonly bytes: Uint8Array,
    private readonly little: boolean,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  ok(offset: number, size: number): boolean {
    return offset >= 0 && size >= 0 && offset + size <= this.bytes.length;
  }
  u8(o: number): number {
    return this.bytes[o]!;
  }
  u16(o: number): number {
    return this.view.getUint16(o, this.little);
  }
  u32(o: number): number {
    return this.view.getUint32(o, this.little);
  }
  i32(o: number): number {
    return this.view.getInt32(o, this.little);
  }
  ascii(o: number, n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) {
      const c = this.bytes[o + i]!;
      if (c === 0) break;
      s += String.fromCharCode(c);
    }
    return s.trim();
  }
}

function readValue(r: Reader, entry: number, base: number): string | undefined {
  const type = r.u16(entry + 2);
  const count = r.u32(entry + 4);
  const size = TYPE_SIZE[type];
  if (size === undefined || count === 0 || count > (type === 2 ? 4096 : MAX_COMPONENTS)) return undefined;
  const total = size * count;
  const at = total <= 4 ? entry + 8 : base + r.u32(entry + 8);
  if (!r.ok(at, total)) return undefined;
  if (type === 2) return r.ascii(at, count) || undefined;
  const parts: string[] = [];
  for (let i = 0; i < count; i++) {
    const p = at + i * size;
    if (type === 1) parts.push(String(r.u8(p)));
    else if (type === 3) parts.push(String(r.u16(p)));
    else if (type === 4) parts.push(String(r.u32(p)));
    else if (type === 9) parts.push(String(r.i32(p)));
    else if (type === 5) parts.push(`${r.u32(p)}/${r.u32(p + 4) || 1}`);
    else parts.push(`${r.i32(p)}/${r.i32(p + 4) || 1}`);
  }
  return parts.join(' ');
}

function readIfd(r: Reader, base: number, offset: number, keep: Readonly<Record<number, string>>, out: Record<string, string>, pointers?: Map<number, number>): void {
  const at = base + offset;
  if (!r.ok(at, 2)) return;
  const n = r.u16(at);
  if (n > 512 || !r.ok(at + 2, n * 12)) return;
  for (let i = 0; i < n; i++) {
    const entry = at + 2 + i * 12;
    const tag = r.u16(entry);
    if (pointers && (tag === EXIF_IFD_POINTER || tag === GPS_IFD_POINTER)) pointers.set(tag, r.u32(entry + 8));
    const name = keep[tag];
    if (!name) continue;
    const value = readValue(r, entry, base);
    if (value !== undefined) out[name] = value;
  }
}

/**
 * Selects the EXIF to keep from a raw block as sharp's metadata() returns it (with or
 * without the "Exif\0\0" prefix). Returns undefined when there is nothing to keep.
 */
export function pickExif(block: Uint8Array | undefined, keepGps = false): ExifTags | undefined {
  if (!block || block.length < 8) return undefined;
  let base = 0;
  if (block[0] === 0x45 && block[1] === 0x78 && block[2] === 0x69 && block[3] === 0x66) base = 6; // "Exif\0\0"
  if (!(block.length >= base + 8)) return undefined;
  const order = String.fromCharCode(block[base]!, block[base + 1]!);
  if (order !== 'II' && order !== 'MM') return undefined;
  const r = new Reader(block, order === 'II');
  if (r.u16(base + 2) !== 42) return undefined;
  const tags: ExifTags = { IFD0: {}, IFD2: {}, IFD3: {} };
  const pointers = new Map<number, number>();
  try {
    readIfd(r, base, r.u32(base + 4), KEEP_IFD0, tags.IFD0, pointers);
    const exif = pointers.get(EXIF_IFD_POINTER);
    if (exif !== undefined) readIfd(r, base, exif, KEEP_EXIF, tags.IFD2);
    const gps = pointers.get(GPS_IFD_POINTER);
    if (keepGps && gps !== undefined) readIfd(r, base, gps, KEEP_GPS, tags.IFD3);
  } catch {
    return undefined;
  }
  const count = Object.keys(tags.IFD0).length + Object.keys(tags.IFD2).length + Object.keys(tags.IFD3).length;
  return count > 0 ? tags : undefined;
}
