import { ClearShotError } from '../../errors/index.js';

/** The one shape of "invalid image" errors (state -7): "invalid image file: <reason>". */
export function invalidImage(detail: string, cause?: unknown): ClearShotError {
  return new ClearShotError('INVALID_IMAGE', `invalid image file: ${detail}`, { cause });
}
