import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ClearShotError } from '../../errors/index.js';

/**
 * The package root: the nearest folder above this module holding a package.json (the
 * repository from `src/` or `dist/src/`, or the installed package). Files that ship with
 * the package live under it: `models/` (our own trained networks) and
 * `test/fixtures/photos` (the int8 calibration and check photos).
 */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new ClearShotError('MODEL_FAILURE', 'cannot find the package root (the folder holding package.json, models/ and test/fixtures/photos)');
    dir = up;
  }
  return dir;
}
