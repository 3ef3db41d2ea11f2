import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** Repository root, whether this runs from test/ (sources) or dist/test/ (compiled). */
export const REPO_ROOT = (() => {
  const here = fileURLToPath(new URL('.', import.meta.url));
  return here.includes('/dist/') ? join(here, '..', '..', '..') : join(here, '..', '..');
})();

export function fixture(...parts: string[]): string {
  return join(REPO_ROOT, 'test', 'fixtures', ...parts);
}

/** Shared data directory: converted models are content-addressed, so reuse is safe. */
export const TEST_DATA_DIR = join(REPO_ROOT, 'data');
