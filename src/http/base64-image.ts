import { ClearShotError } from '../errors/index.js';

/**
 * The `image_base64` field: an image as base64 text, raw or as a data URI
 * (`data:image/png;base64,...`). Whitespace (line-wrapped base64) is ignored; the
 * standard and the URL-safe alphabets are accepted, padding is optional.
 *
 * The size limit applies to the decoded bytes and is checked from the text's length
 * before anything is decoded, so an oversized field costs no decoding at all.
 */
const DATA_URI = /^data:([^,]*?),/i;

/** Longest text that can decode to at most `maxBytes` (plus room for a data URI prefix and line breaks). */
export function base64TextLimit(maxBytes: number): number {
  const chars = Math.ceil(maxBytes / 3) * 4;
  // Line-wrapped base64 (76 columns, CRLF) adds ~2.6%; a data URI prefix is short.
  return Math.ceil(chars * 1.03) + 1024;
}

export function decodeBase64Image(text: string, maxBytes: number, field = 'image_base64'): Uint8Array {
  let body = text.trim();
  const uri = DATA_URI.exec(body.slice(0, 256));
  if (uri) {
    const params = uri[1]!.split(';').map((p) => p.trim().toLowerCase());
    if (!params.includes('base64')) throw new ClearShotError('BAD_PARAMETER', `${field} is a data URI without ;base64: expected data:<type>;base64,<data>`);
    body = body.slice(uri[0].length);
  } else if (/^data:/i.test(body)) {
    throw new ClearShotError('BAD_PARAMETER', `${field} is a data URI without a comma: expected data:<type>;base64,<data>`);
  }
  if (/\s/.test(body)) body = body.replace(/\s+/g, '');
  // Checked before decoding: the decoded size follows from the length alone.
  const padding = body.endsWith('==') ? 2 : body.endsWith('=') ? 1 : 0;
  const decodedLength = Math.floor(((body.length - padding) * 3) / 4);
  if (decodedLength > maxBytes) {
    throw new ClearShotError('FILE_TOO_LARGE', `${field} decodes to more than the size limit (${Math.round(maxBytes / 2 ** 20)} MB)`);
  }
  if (body.length === 0) throw new ClearShotError('BAD_PARAMETER', `${field} is empty`);
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(body) || (body.length - padding) % 4 === 1 || (padding > 0 && body.length % 4 !== 0)) {
    throw new ClearShotError('BAD_PARAMETER', `${field} is not valid base64`);
  }
  if (/[+/]/.test(body) && /[-_]/.test(body)) throw new ClearShotError('BAD_PARAMETER', `${field} is not valid base64 (mixes the standard and URL-safe alphabets)`);
  return new Uint8Array(Buffer.from(body, /[-_]/.test(body) ? 'base64url' : 'base64'));
}
