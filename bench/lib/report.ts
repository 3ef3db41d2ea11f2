import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../test/helpers/paths.js';

export const BENCHMARKS_MD = join(REPO_ROOT, 'docs', 'BENCHMARKS.md');

/**
 * Replaces the section between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->` in
 * docs/BENCHMARKS.md (appending it if absent), so each suite can be re-run alone.
 */
export function writeSection(name: string, markdown: string): void {
  const begin = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  let doc = existsSync(BENCHMARKS_MD) ? readFileSync(BENCHMARKS_MD, 'utf8') : '# Benchmarks\n';
  const block = `${begin}\n${markdown.trim()}\n${end}`;
  const start = doc.indexOf(begin);
  const stop = doc.indexOf(end);
  if (start >= 0 && stop > start) doc = doc.slice(0, start) + block + doc.slice(stop + end.length);
  else doc = `${doc.trimEnd()}\n\n${block}\n`;
  writeFileSync(BENCHMARKS_MD, doc);
}
