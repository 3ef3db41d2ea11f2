import { extensionOf, formatByExtension } from '../engine/image/formats.js';
import type { OutputFormat } from '../engine/types.js';

/**
 * The layout of blob keys, built and parsed only here: an uploaded input is kept as
 * `inputs/<task id>` until its task settles; a result as `results/<task id>.<ext>`,
 * whose last part (`<task id>.<ext>`) is the file name of its signed URL.
 */
const INPUTS = 'inputs/';
const RESULTS = 'results/';
const RESULT_NAME = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.([a-z]+)$/;

export function inputKey(taskId: string): string {
  return `${INPUTS}${taskId}`;
}

export function resultKey(taskId: string, format: OutputFormat): string {
  return `${RESULTS}${taskId}.${extensionOf(format)}`;
}

/** The file name of a result key, as its URL shows it. */
export function resultFileName(key: string): string {
  if (!key.startsWith(RESULTS)) throw new Error(`not a result key: ${key}`);
  return key.slice(RESULTS.length);
}

/** A result URL's file name back to its key and format; undefined when it names no result. */
export function parseResultFileName(name: string): { key: string; taskId: string; format: OutputFormat } | undefined {
  const m = RESULT_NAME.exec(name);
  const format = m ? formatByExtension(m[2]!) : undefined;
  if (!m || !format) return undefined;
  return { key: `${RESULTS}${name}`, taskId: m[1]!, format };
}
