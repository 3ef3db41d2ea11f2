import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { BlobStore } from '../../src/storage/blob-store.js';

/** One conformance suite for the blob store port (local files, S3). */
export function blobConformance(name: string, open: () => Promise<{ blobs: BlobStore; cleanup: () => Promise<void> }>): void {
  describe(`blob store conformance: ${name}`, () => {
    let blobs: BlobStore;
    let cleanup: () => Promise<void>;
    before(async () => {
      ({ blobs, cleanup } = await open());
    });
    after(() => cleanup());

    it('stores, reads back byte for byte, overwrites and deletes', async () => {
      const data = randomBytes(300_000);
      await blobs.put('results/a.png', data, 'image/png');
      assert.deepEqual(Buffer.from((await blobs.get('results/a.png'))!), data);
      await blobs.put('results/a.png', Buffer.from('second'), 'image/png');
      assert.equal(Buffer.from((await blobs.get('results/a.png'))!).toString(), 'second');
      await blobs.delete('results/a.png');
      assert.equal(await blobs.get('results/a.png'), undefined);
    });

    it('a missing object reads as undefined and deletes without error', async () => {
      assert.equal(await blobs.get('inputs/never-written'), undefined);
      await blobs.delete('inputs/never-written');
    });

    it('keeps an empty object and nested keys apart', async () => {
      await blobs.put('inputs/empty', new Uint8Array(0), 'application/octet-stream');
      await blobs.put('inputs/x/y', Buffer.from('nested'), 'application/octet-stream');
      assert.equal((await blobs.get('inputs/empty'))?.length, 0);
      assert.equal(Buffer.from((await blobs.get('inputs/x/y'))!).toString(), 'nested');
    });
  });
}
