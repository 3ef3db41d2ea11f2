import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Embedded mode needs no configuration: when CLEARSHOT_URL_SECRET is unset, a random
 * secret is created once and kept in a file, so result URLs survive restarts.
 */
export async function loadOrCreateSecret(path: string): Promise<string> {
  try {
    const text = (await readFile(path, 'utf8')).trim();
    if (text.length >= 32) return text;
  } catch {
    // first start
  }
  const secret = randomBytes(32).toString('hex');
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${secret}\n`, { mode: 0o600, flag: 'wx' }).catch(async () => undefined);
  // Another process may have won the race: use whatever is on disk.
  return (await readFile(path, 'utf8')).trim();
}
