import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClearShotError } from '../../src/errors/index.js';
import { parseCreate, type RawCreate } from '../../src/http/create-params.js';

/** parseCreate (src/http/create-params.ts): every field's refusal, the source rule, the defaults. */

const DEFAULTS: Parameters<typeof parseCreate>[1] = { defaultModel: 'fast', maxUrlLength: 512, maxUploadBytes: 1024 };
const FILE = new Uint8Array([0xff, 0xd8, 0xff, 1, 2, 3]);

/** `file` null: no image_file part. */
function parse(fields: Record<string, unknown>, file: Uint8Array | null = FILE, defaults = DEFAULTS) {
  const raw: RawCreate = file === null ? { fields } : { fields, file };
  return parseCreate(raw, defaults);
}

/** The refusal parseCreate throws, as [code, http status, message]. */
function refusal(fields: Record<string, unknown>, file?: Uint8Array | null, defaults = DEFAULTS): [string, number, string] {
  try {
    parse(fields, file === undefined ? FILE : file, defaults);
  } catch (err) {
    assert.ok(err instanceof ClearShotError, `a ClearShotError, not ${String(err)}`);
    return [err.code, err.httpStatus, err.message];
  }
  assert.fail(`accepted ${JSON.stringify(fields)}`);
}

/** Asserts a 400 BAD_PARAMETER whose message names `field` (and shows `shown`, when given). */
function assertFieldRefused(fields: Record<string, unknown>, field: string, shown?: string, file?: Uint8Array | null) {
  const [code, status, message] = refusal(fields, file);
  assert.deepEqual([code, status], ['BAD_PARAMETER', 400], message);
  assert.ok(message.includes(field), `${JSON.stringify(message)} names ${field}`);
  if (shown !== undefined) assert.ok(message.includes(shown), `${JSON.stringify(message)} shows ${shown}`);
}

describe('parseCreate', () => {
  it('defaults: url result, async, clean, auto scale, the configured model, no format, no GPS', () => {
    const { request, source } = parse({});
    assert.deepEqual(request, { returnType: 1, sync: false, type: 'clean', scale: undefined, model: 'fast', format: undefined, keepGps: false });
    assert.equal(source.kind, 'file');
    assert.deepEqual(source.kind === 'file' && [...source.bytes], [...FILE]);
    assert.equal(parse({}, FILE, { ...DEFAULTS, defaultModel: 'quality' }).request.model, 'quality');
  });

  it('reads every field, from text or JSON numbers, trimming blanks', () => {
    const { request } = parse({
      sync: 1,
      type: ' face ',
      scale_factor: '4',
      return_type: 2,
      model: 'quality',
      format: 'PNG',
      keep_gps: '1',
      strength: '0.25',
      face_strength: 1,
      fix_face_only: '1',
      callback_url: 'https://example.com/hook',
    });
    assert.deepEqual(request, {
      returnType: 2,
      sync: true,
      type: 'face',
      scale: 4,
      model: 'quality',
      format: 'png',
      keepGps: true,
      strength: 0.25,
      faceStrength: 1,
      fixFaceOnly: true,
      callbackUrl: 'https://example.com/hook',
    });
  });

  it('an empty field means its default', () => {
    const { request } = parse({ sync: '', scale_factor: ' ', format: '', strength: '', model: '' });
    assert.deepEqual([request.sync, request.scale, request.format, request.strength, request.model], [false, undefined, undefined, undefined, 'fast']);
  });

  it('refuses every field out of range with a 400 that names it', () => {
    assertFieldRefused({ sync: '2' }, 'sync', '"2"');
    assertFieldRefused({ sync: 'yes' }, 'sync');
    assertFieldRefused({ type: 'portrait' }, 'type', '"portrait"');
    assertFieldRefused({ scale_factor: '3' }, 'scale_factor', '"3"');
    assertFieldRefused({ scale_factor: '2.0' }, 'scale_factor');
    assertFieldRefused({ return_type: '4' }, 'return_type', '"4"');
    assertFieldRefused({ model: 'slow' }, 'model', '"slow"');
    assertFieldRefused({ format: 'gif' }, 'format', '"gif"');
    assertFieldRefused({ keep_gps: 'true' }, 'keep_gps');
    assertFieldRefused({ strength: '1.5' }, 'strength', '"1.5"');
    assertFieldRefused({ strength: '-0.1' }, 'strength');
    assertFieldRefused({ strength: '1e-1' }, 'strength');
    assertFieldRefused({ strength: 'NaN' }, 'strength');
    assertFieldRefused({ face_strength: 'auto' }, 'face_strength', '"auto"');
    assertFieldRefused({ face_strength: '2' }, 'face_strength');
    assertFieldRefused({ fix_face_only: 'x' }, 'fix_face_only');
    assertFieldRefused({ callback_url: 'ftp://example.com/x' }, 'callback_url');
    assertFieldRefused({ callback_url: 'not a url' }, 'callback_url');
    assertFieldRefused({ image_url: 'ftp://example.com/a.jpg' }, 'image_url', undefined, null);
    assertFieldRefused({ image_url: 'http://user:pw@example.com/a.jpg' }, 'image_url', undefined, null);
    assertFieldRefused({ image_url: 'not a url' }, 'image_url', undefined, null);
    assertFieldRefused({ image_base64: '@@@@' }, 'image_base64', undefined, null);
  });

  it('refuses a repeated field or a non-scalar value without echoing it', () => {
    const [code, status, message] = refusal({ type: ['clean', 'face'] });
    assert.deepEqual([code, status], ['BAD_PARAMETER', 400]);
    assert.match(message, /one value for type but received 2 values/);
    assertFieldRefused({ sync: { a: 1 } }, 'sync');
  });

  it('image_url: as long as the configured limit, not one character more', () => {
    const base = 'http://example.com/';
    const ok = base + 'a'.repeat(DEFAULTS.maxUrlLength - base.length);
    const { source } = parse({ image_url: ok }, null);
    assert.deepEqual(source, { kind: 'url', url: ok });
    assertFieldRefused({ image_url: ok + 'a' }, 'image_url', String(DEFAULTS.maxUrlLength), null);
  });

  it('image_base64: decoded to bytes; over the upload limit is a 413', () => {
    const { source } = parse({ image_base64: `data:image/jpeg;base64,${Buffer.from(FILE).toString('base64')}` }, null);
    assert.deepEqual(source.kind === 'file' && [...source.bytes], [...FILE]);
    const [code, status] = refusal({ image_base64: Buffer.alloc(2048).toString('base64') }, null);
    assert.deepEqual([code, status], ['FILE_TOO_LARGE', 413]);
  });

  it('exactly one source: none, two or three are refused, each named', () => {
    assert.match(refusal({}, null)[2], /one of image_url, image_file or image_base64 is required/);
    assert.match(refusal({}, new Uint8Array(0))[2], /image_file is empty/);
    const b64 = Buffer.from(FILE).toString('base64');
    assert.match(refusal({ image_url: 'http://example.com/a.jpg' })[2], /not image_url and image_file/);
    assert.match(refusal({ image_url: 'http://example.com/a.jpg', image_base64: b64 }, null)[2], /not image_url and image_base64/);
    assert.match(refusal({ image_base64: b64 })[2], /not image_file and image_base64/);
    assert.match(refusal({ image_url: 'http://example.com/a.jpg', image_base64: b64 })[2], /not image_url and image_file and image_base64/);
    assert.match(refusal({ image_file: 'photo.jpg' }, null)[2], /image_file must be sent as a file part/);
    assert.equal(refusal({}, null)[1], 400);
  });

  it('return_type 3 (binary) needs sync=1', () => {
    assertFieldRefused({ return_type: '3' }, 'return_type 3');
    assertFieldRefused({ return_type: 3, sync: 0 }, 'sync=1');
    const { request } = parse({ return_type: '3', sync: '1' });
    assert.deepEqual([request.returnType, request.sync], [3, true]);
  });

  it('strength: auto, empty or absent = automatic; 0 to 1 in any plain decimal spelling', () => {
    for (const auto of [undefined, '', 'auto', 'AUTO', ' Auto ']) {
      const { request } = parse(auto === undefined ? {} : { strength: auto });
      assert.equal(request.strength, undefined, String(auto));
      assert.equal('strength' in request, false, 'absent, not undefined-valued');
    }
    const cases: Array<[unknown, number]> = [['0', 0], ['1', 1], ['.5', 0.5], ['0.', 0], ['+0.75', 0.75], [' 0.25 ', 0.25], [0.3, 0.3], ['1.000', 1]];
    for (const [given, want] of cases) assert.equal(parse({ strength: given }).request.strength, want, String(given));
  });

  it('format aliases: jpg/jpeg, tif/tiff, any case', () => {
    const cases: Array<[string, string]> = [['jpg', 'jpeg'], ['JPEG', 'jpeg'], ['Jpg', 'jpeg'], ['png', 'png'], ['webp', 'webp'], ['WEBP', 'webp'], ['tif', 'tiff'], ['TIFF', 'tiff']];
    for (const [given, want] of cases) assert.equal(parse({ format: given }).request.format, want, given);
  });

  it('scale_factor: 1, 2, 4 or empty (auto)', () => {
    assert.deepEqual(['1', '2', '4', ''].map((s) => parse({ scale_factor: s }).request.scale), [1, 2, 4, undefined]);
    assert.equal(parse({ scale_factor: 2 }).request.scale, 2, 'a JSON number');
  });
});
