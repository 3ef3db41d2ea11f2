/**
 * Format detection from the bytes alone (never the file name or declared type).
 *
 * `camera-raw` covers TIFF-based and other camera RAW containers (DNG, CR2, CR3, NEF,
 * ARW, ORF, RW2, RAF): we recognise them to refuse them with a precise message.
 */
export type SourceFormat = 'jpeg' | 'png' | 'webp' | 'tiff' | 'bmp' | 'sgi' | 'gif' | 'camera-raw';

function ascii(bytes: Uint8Array, offset: number, text: string): boolean {
  if (bytes.length < offset + text.length) return false;
  for (let i = 0; i < text.length; i++) if (bytes[offset + i] !== text.charCodeAt(i)) return false;
  return true;
}

function startsWith(bytes: Uint8Array, magic: readonly number[]): boolean {
  return bytes.length >= magic.length && magic.every((b, i) => bytes[i] === b);
}

const DNG_VERSION = 0xc612;
const PHOTOMETRIC = 0x0106;
const SUB_IFDS = 0x014a;
/** PhotometricInterpretation of sensor data: colour filter array, linear raw. */
const RAW_PHOTOMETRIC = new Set([32803, 34892]);

/**
 * True when a TIFF-structured file is a camera RAW: a DNG version tag, a Canon CR2
 * marker, or sensor data (CFA / linear raw) in IFD0 or one of its SubIFDs. NEF, ARW,
 * PEF and SR2 keep a small preview in IFD0 and the sensor data in a SubIFD: read as a
 * plain TIFF they would "succeed" on the preview.
 */
function isTiffRaw(bytes: Uint8Array): boolean {
  if (ascii(bytes, 8, 'CR')) return true; // Canon CR2
  if (bytes.length < 8) return false;
  const little = bytes[0] === 0x49;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (at: number) => (at + 2 <= bytes.length ? view.getUint16(at, little) : 0);
  const u32 = (at: number) => (at + 4 <= bytes.length ? view.getUint32(at, little) : 0);
  /** Visits an IFD's entries (tag, count, value offset); header reads only. */
  const entries = (ifd: number, visit: (tag: number, count: number, at: number) => boolean): boolean => {
    if (ifd < 8 || ifd + 2 > bytes.length) return false;
    const count = u16(ifd);
    for (let i = 0; i < count && ifd + 2 + (i + 1) * 12 <= bytes.length; i++) {
      const at = ifd + 2 + i * 12;
      if (visit(u16(at), u32(at + 4), at + 8)) return true;
    }
    return false;
  };
  const sensor = (tag: number, _count: number, at: number) => tag === DNG_VERSION || (tag === PHOTOMETRIC && RAW_PHOTOMETRIC.has(u16(at)));
  return entries(u32(4), (tag, count, at) => {
    if (sensor(tag, count, at)) return true;
    if (tag !== SUB_IFDS) return false;
    // One offset is stored inline; several are an array elsewhere. At most 8 looked at.
    const list = count === 1 ? at : u32(at);
    for (let i = 0; i < Math.min(count, 8); i++) if (entries(u32(list + 4 * i), sensor)) return true;
    return false;
  });
}

export function sniffFormat(bytes: Uint8Array): SourceFormat | undefined {
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  if (ascii(bytes, 0, 'RIFF') && ascii(bytes, 8, 'WEBP')) return 'webp';
  if (ascii(bytes, 0, 'GIF87a') || ascii(bytes, 0, 'GIF89a')) return 'gif';
  if (ascii(bytes, 0, 'IIRO') || ascii(bytes, 0, 'IIRS') || startsWith(bytes, [0x49, 0x49, 0x55, 0x00])) return 'camera-raw'; // ORF, RW2
  if (ascii(bytes, 0, 'FUJIFILMCCD-RAW')) return 'camera-raw';
  if (ascii(bytes, 4, 'ftypcrx')) return 'camera-raw'; // Canon CR3
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a])) {
    return isTiffRaw(bytes) ? 'camera-raw' : 'tiff';
  }
  if (startsWith(bytes, [0x49, 0x49, 0x2b, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2b])) return 'tiff'; // BigTIFF
  if (ascii(bytes, 0, 'BM') && bytes.length >= 26) return 'bmp';
  if (startsWith(bytes, [0x01, 0xda]) && bytes.length >= 512) return 'sgi';
  return undefined;
}

/**
 * Names a well-known format we recognise but do not read (HEIC/HEIF, AVIF, JPEG XL,
 * JPEG 2000, Photoshop), so the refusal can say what the file is rather than only
 * "not an image". Undefined for anything else.
 */
export function unsupportedFormatName(bytes: Uint8Array): string | undefined {
  if (ascii(bytes, 4, 'ftyp')) {
    // ISO base media file: the major brand (offset 8) says which kind.
    const brand = String.fromCharCode(...bytes.subarray(8, 12));
    if (['avif', 'avis'].includes(brand)) return 'AVIF';
    if (['heic', 'heix', 'heim', 'heis', 'hevc', 'hevx', 'mif1', 'msf1'].includes(brand)) return 'HEIC/HEIF';
    if (brand === 'jxl ') return 'JPEG XL';
    if (brand === 'jp2 ') return 'JPEG 2000';
    return undefined;
  }
  if (startsWith(bytes, [0xff, 0x0a]) || ascii(bytes, 4, 'JXL ')) return 'JPEG XL';
  if (ascii(bytes, 4, 'jP  ') || startsWith(bytes, [0xff, 0x4f, 0xff, 0x51])) return 'JPEG 2000';
  if (ascii(bytes, 0, '8BPS')) return 'Photoshop (PSD)';
  return undefined;
}
