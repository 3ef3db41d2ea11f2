import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ClearShotError } from '../errors/index.js';

/** node:util parseArgs, with its errors turned into BAD_PARAMETER (exit code 2). */
export function parseOptions<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (err) {
    throw new ClearShotError('BAD_PARAMETER', (err as Error).message);
  }
}
