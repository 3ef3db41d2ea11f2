import { badArgument } from '../errors/index.js';
import { FORMAT_CHOICES, formatByName } from './image/formats.js';
import { PRECISIONS, SCALE_FACTORS, type OutputFormat, type Precision, type ScaleFactor } from './types.js';

/**
 * Reading the fields of an {@link EnhanceJob} from text, for every front end (API form
 * fields, CLI flags): one rule and one message per field. `name` is the field as the
 * caller spells it (`scale_factor`, `--scale`); undefined text means "not given".
 */

/**
 * 1, 2 or 4; undefined for auto, which the API spells as an empty field (`auto: 'empty'`)
 * and the CLI as the word `auto` (`auto: 'word'`).
 */
export function parseScaleText(name: string, raw: string | undefined, auto: 'empty' | 'word'): ScaleFactor | undefined {
  if (raw === undefined || (auto === 'word' && raw === 'auto')) return undefined;
  const scale = SCALE_FACTORS.find((f) => String(f) === raw);
  if (scale === undefined) throw badArgument(name, `${SCALE_FACTORS.join(', ')} or ${auto === 'word' ? 'auto' : 'empty (auto)'}`, raw);
  return scale;
}

/** A number in [0, 1] written plainly (no exponent, no sign but +); `auto` = undefined when allowed. */
export function parseUnitText(name: string, raw: string | undefined, allowAuto: boolean): number | undefined {
  if (raw === undefined || (allowAuto && raw.toLowerCase() === 'auto')) return undefined;
  const n = Number(raw);
  if (!/^[+]?(\d+\.?\d*|\.\d+)$/.test(raw) || !(n >= 0 && n <= 1)) throw badArgument(name, allowAuto ? 'a number from 0 to 1 or auto' : 'a number from 0 to 1', raw);
  return n;
}

/** An output format by any of its names (image/formats.ts). */
export function parseFormatName(name: string, raw: string | undefined): OutputFormat | undefined {
  if (raw === undefined) return undefined;
  const format = formatByName(raw);
  if (!format) throw badArgument(name, FORMAT_CHOICES, raw);
  return format;
}

/** `fp32` or `int8` forces the fast network's precision; `auto` (or nothing) = the engine's choice (undefined). */
export function parsePrecisionText(name: string, raw: string | undefined): Precision | undefined {
  if (raw === undefined || raw === 'auto') return undefined;
  const precision = PRECISIONS.find((p) => p === raw);
  if (precision === undefined) throw badArgument(name, `auto, ${PRECISIONS.join(' or ')}`, raw);
  return precision;
}
