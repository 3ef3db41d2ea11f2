import { ClearShotError } from '../../errors/index.js';

/**
 * Parser for ncnn's text `.param` graph format.
 *
 * Layout: a magic line (7767517), a "layer_count blob_count" line, then one line per
 * layer: `Type name bottom_count top_count bottom... top... key=value...`. A key below
 * -23300 marks an array: `-233KK=n,v1,...,vn` is param KK with n values.
 */
export const NCNN_PARAM_MAGIC = 7767517;

export type ParamValue = number | number[];

export interface NcnnLayer {
  readonly type: string;
  readonly name: string;
  readonly bottoms: readonly string[];
  readonly tops: readonly string[];
  readonly params: ReadonlyMap<number, ParamValue>;
  /** 1-based line number in the .param file, for error messages. */
  readonly line: number;
}

export interface NcnnGraph {
  readonly layers: readonly NcnnLayer[];
  readonly blobCount: number;
}

const ARRAY_KEY_BASE = -23300;

function fail(line: number, what: string): never {
  throw new ClearShotError('MODEL_CONVERSION', `ncnn param line ${line}: ${what}`);
}

function parseNumber(text: string, line: number): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value)) fail(line, `expected a number but received ${JSON.stringify(text)}`);
  return value;
}

export function parseNcnnParam(text: string): NcnnGraph {
  const lines = text.split(/\r?\n/);
  const magic = Number((lines[0] ?? '').trim());
  if (magic !== NCNN_PARAM_MAGIC) fail(1, `expected magic ${NCNN_PARAM_MAGIC} but received ${JSON.stringify(lines[0] ?? '')}`);
  const counts = (lines[1] ?? '').trim().split(/\s+/).map((t) => parseNumber(t, 2));
  const [layerCount, blobCount] = counts;
  if (counts.length !== 2 || layerCount === undefined || blobCount === undefined) fail(2, 'expected "layer_count blob_count"');

  const layers: NcnnLayer[] = [];
  for (let i = 2; i < lines.length; i++) {
    const raw = (lines[i] ?? '').trim();
    if (raw === '') continue;
    const lineNo = i + 1;
    const tokens = raw.split(/\s+/);
    const [type, name, bc, tc] = tokens;
    if (type === undefined || name === undefined || bc === undefined || tc === undefined) fail(lineNo, 'truncated layer line');
    const bottomCount = parseNumber(bc, lineNo);
    const topCount = parseNumber(tc, lineNo);
    const bottoms = tokens.slice(4, 4 + bottomCount);
    const tops = tokens.slice(4 + bottomCount, 4 + bottomCount + topCount);
    if (bottoms.length !== bottomCount || tops.length !== topCount) fail(lineNo, `layer ${name} lists fewer blobs than it declares`);
    const params = new Map<number, ParamValue>();
    for (const token of tokens.slice(4 + bottomCount + topCount)) {
      const eq = token.indexOf('=');
      if (eq <= 0) fail(lineNo, `malformed param ${JSON.stringify(token)}`);
      const key = parseNumber(token.slice(0, eq), lineNo);
      const value = token.slice(eq + 1);
      if (key <= ARRAY_KEY_BASE) {
        const values = value.split(',').map((v) => parseNumber(v, lineNo));
        const [n, ...items] = values;
        if (n !== items.length) fail(lineNo, `array param ${key} declares ${n} values but has ${items.length}`);
        params.set(ARRAY_KEY_BASE - key, items);
      } else {
        params.set(key, parseNumber(value, lineNo));
      }
    }
    layers.push({ type, name, bottoms, tops, params, line: lineNo });
  }
  if (layers.length !== layerCount) fail(2, `declares ${layerCount} layers but ${layers.length} follow`);
  return { layers, blobCount };
}

/** A scalar param with a default; an array where a scalar belongs is an error. */
export function intParam(layer: NcnnLayer, key: number, fallback: number): number {
  const value = layer.params.get(key);
  if (value === undefined) return fallback;
  if (Array.isArray(value)) fail(layer.line, `layer ${layer.name}: param ${key} must be a scalar`);
  return value;
}

export function arrayParam(layer: NcnnLayer, key: number): number[] {
  const value = layer.params.get(key);
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}
