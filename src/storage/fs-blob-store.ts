import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { ClearShotError } from '../errors/index.js';
import type { BlobStore } from './blob-store.js';

/** Blob store on the local file system (embedded default): `<root>/<key>`. */
export class FsBlobStore implements BlobStore {
  private readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  private path(key: string): string {
    const p = resolve(join(this.root, key));
    // Keys are ours, but never let one escape the root.
    if (!p.startsWith(this.root + sep)) throw new ClearShotError('INTERNAL', `bad blob key ${JSON.stringify(key)}`);
    return p;
  }

  async put(key: string, data: Uint8Array): Promise<void> {
    const p = this.path(key);
    const tmp = `${p}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await mkdir(dirname(p), { recursive: true });
      await writeFile(tmp, data);
      await rename(tmp, p);
    } catch (err) {
      // Cleaning up may fail the same way (e.g. ENOTDIR): the storage error is what counts.
      await rm(tmp, { force: true }).catch(() => undefined);
      throw new ClearShotError('STORAGE_FAILED', 'storing a file failed', { cause: err });
    }
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      return await readFile(this.path(key));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new ClearShotError('STORAGE_FAILED', 'reading a file failed', { cause: err });
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }
}
