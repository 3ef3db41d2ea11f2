import { ENHANCE_KINDS, MODEL_NAMES, type EnhanceKind, type ModelName, type OutputFormat, type ScaleFactor } from '../engine/types.js';
import { parseFormatName, parsePrecisionText, parseScaleText, parseUnitText } from '../engine/job-fields.js';
import { ClearShotError, badArgument } from '../errors/index.js';
import { checkUrlSyntax } from '../net/url-fetcher.js';
import { decodeBase64Image } from './base64-image.js';
import { checkCallbackSyntax } from '../webhooks/callback-url.js';
import type { CreateSource } from '../tasks/task-service.js';
import type { ReturnType, TaskRequest } from '../tasks/task.js';

/**
 * Validates the fields of POST /api/tasks/visual/scale, whatever the body encoding
 * (multipart, urlencoded, JSON), into a task request. Every refusal is a 400 whose
 * message names the field, in sharp's "expected X for NAME but received Y" shape.
 */
export interface RawCreate {
  /** Text fields (numbers allowed, from JSON). */
  readonly fields: Readonly<Record<string, unknown>>;
  /** The image_file part, when one was uploaded. */
  readonly file?: Uint8Array | undefined;
}

function text(fields: RawCreate['fields'], name: string): string | undefined {
  const v = fields[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  // A repeated field (which may be a whole image_base64): named, not echoed.
  if (Array.isArray(v)) throw new ClearShotError('BAD_PARAMETER', `expected one value for ${name} but received ${v.length} values (the field is repeated)`);
  if (typeof v !== 'string') throw badArgument(name, 'a string or number', JSON.stringify(v));
  const t = v.trim();
  return t === '' ? undefined : t;
}

function choice<T extends string | number>(fields: RawCreate['fields'], name: string, allowed: readonly T[], fallback: T, describe: string): T {
  const raw = text(fields, name);
  if (raw === undefined) return fallback;
  const found = allowed.find((a) => String(a) === raw);
  if (found === undefined) throw badArgument(name, describe, raw);
  return found;
}

export function parseCreate(
  raw: RawCreate,
  limits: { readonly defaultModel: ModelName; readonly maxUrlLength: number; readonly maxUploadBytes: number },
): { request: TaskRequest; source: CreateSource } {
  const { fields, file } = raw;
  const url = text(fields, 'image_url');
  if (typeof fields.image_file === 'string' && fields.image_file.trim() !== '') {
    throw new ClearShotError('BAD_PARAMETER', 'image_file must be sent as a file part of a multipart/form-data body');
  }
  const base64 = text(fields, 'image_base64');
  const hasFile = file !== undefined && file.length > 0;
  const given = [url !== undefined && 'image_url', hasFile && 'image_file', base64 !== undefined && 'image_base64'].filter((n): n is string => typeof n === 'string');
  if (given.length > 1) throw new ClearShotError('BAD_PARAMETER', `send exactly one of image_url, image_file and image_base64, not ${given.join(' and ')}`);
  if (given.length === 0) {
    throw new ClearShotError('BAD_PARAMETER', file !== undefined ? 'image_file is empty' : 'one of image_url, image_file or image_base64 is required');
  }

  const sync = choice(fields, 'sync', [0, 1] as const, 0, '0 or 1') === 1;
  const type = choice<EnhanceKind>(fields, 'type', ENHANCE_KINDS, 'clean', 'clean or face');
  const scale: ScaleFactor | undefined = parseScaleText('scale_factor', text(fields, 'scale_factor'), 'empty');
  const returnType = choice<ReturnType>(fields, 'return_type', [1, 2, 3] as const, 1, '1 (url), 2 (base64) or 3 (binary)');
  if (returnType === 3 && !sync) throw new ClearShotError('BAD_PARAMETER', 'return_type 3 (binary) is only available with sync=1');

  // Extensions (README, "API extensions").
  const model = choice<ModelName>(fields, 'model', MODEL_NAMES, limits.defaultModel, MODEL_NAMES.join(' or '));
  const format: OutputFormat | undefined = parseFormatName('format', text(fields, 'format'));
  const keepGps = choice(fields, 'keep_gps', [0, 1] as const, 0, '0 or 1') === 1;
  const strength = parseUnitText('strength', text(fields, 'strength'), true);
  const faceStrength = parseUnitText('face_strength', text(fields, 'face_strength'), false);
  const fixFaceOnly = choice(fields, 'fix_face_only', [0, 1] as const, 0, '0 or 1') === 1;
  const precision = parsePrecisionText('precision', text(fields, 'precision'));

  const callbackUrl = text(fields, 'callback_url');
  if (callbackUrl !== undefined) checkCallbackSyntax(callbackUrl);

  const request: TaskRequest = {
    returnType,
    sync,
    type,
    scale,
    model,
    format,
    keepGps,
    ...(strength !== undefined ? { strength } : {}),
    ...(faceStrength !== undefined ? { faceStrength } : {}),
    ...(fixFaceOnly ? { fixFaceOnly } : {}),
    ...(precision !== undefined ? { precision } : {}),
    ...(callbackUrl !== undefined ? { callbackUrl } : {}),
  };
  if (url !== undefined) {
    checkUrlSyntax(url, limits.maxUrlLength);
    return { request, source: { kind: 'url', url } };
  }
  if (base64 !== undefined) return { request, source: { kind: 'file', bytes: decodeBase64Image(base64, limits.maxUploadBytes) } };
  return { request, source: { kind: 'file', bytes: file! } };
}
