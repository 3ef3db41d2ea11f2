import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { decodeImage } from '../src/engine/image/decode.js';
import { ClearShotError } from '../src/errors/index.js';
import { createMultipart, json } from './helpers/client.js';
import { fixture } from './helpers/paths.js';
import { startTestServer, stopTestServer, type TestServer } from './helpers/server.js';

/**
 * Issue 13, item 4: a JPEG whose header is fine but whose scan data is garbage decodes
 * "successfully" with libvips' default tolerance (libjpeg only warns and fills the
 * picture with grey). It must end in state -7 and cost nothing.
 */

/** A real JPEG header claiming `side` x `side`, followed by `scan` as its entropy-coded data. */
async function forgedJpeg(side: number, scan: Uint8Array): Promise<Buffer> {
  const small = Buffer.from(await sharp({ create: { width: 16, height: 16, channels: 3, background: { r: 200, g: 100, b: 50 } } }).jpeg({ quality: 80 }).toBuffer());
  let at = 2;
  for (;;) {
    const marker = small[at + 1]!;
    const length = small.readUInt16BE(at + 2);
    if (marker === 0xc0) {
      small.writeUInt16BE(side, at + 5);
      small.writeUInt16BE(side, at + 7);
    }
    at += 2 + length;
    if (marker === 0xda) break;
  }
  return Buffer.concat([small.subarray(0, at), scan, Buffer.from([0xff, 0xd9])]);
}

const codeOf = async (p: Promise<unknown>) => {
  try {
    await p;
    return 'resolved';
  } catch (err) {
    return err instanceof ClearShotError ? err.code : String(err);
  }
};

describe('corrupt JPEG data is refused', () => {
  it('a 1 KB file claiming 4096x4096 (zero scan data: "premature end of data segment") is INVALID_IMAGE', async () => {
    const evil = await forgedJpeg(4096, new Uint8Array(500));
    assert.ok(evil.length < 1200);
    assert.equal((await sharp(evil).metadata()).width, 4096, 'the header is valid');
    assert.equal(await codeOf(decodeImage(evil)), 'INVALID_IMAGE');
  });

  it('an empty scan and a truncated real photo are INVALID_IMAGE; intact fixtures still decode', async () => {
    assert.equal(await codeOf(decodeImage(await forgedJpeg(512, new Uint8Array(0)))), 'INVALID_IMAGE');
    const photo = await readFile(fixture('photos', 'coffee.jpg'));
    assert.equal(await codeOf(decodeImage(photo.subarray(0, Math.floor(photo.length * 0.7)))), 'INVALID_IMAGE');
    for (const name of ['baseline.jpg', 'progressive.jpg', 'cmyk.jpg', 'gray.jpg']) {
      const d = await decodeImage(await readFile(fixture('formats', 'jpeg', name)));
      assert.ok(d.width > 0, name);
    }
  });
});

describe('over HTTP: state -7, nothing charged', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => stopTestServer(server));

  it('the forged 4096x4096 JPEG ends in state -7 and the balance and ledger do not move', async () => {
    const [key] = await server.service.store.listKeys();
    const ledgerBefore = await server.service.store.ledger(key!.id);
    const r = await json(await createMultipart(server, { sync: '1' }, await forgedJpeg(4096, new Uint8Array(500))));
    assert.equal(r.http, 200);
    assert.equal(r.body.data.state, -7, JSON.stringify(r.body.data));
    assert.match(r.body.data.state_detail as string, /corrupt/);
    const after = (await server.service.store.findById(key!.id))!;
    assert.deepEqual([after.credits, after.held], [key!.credits, 0]);
    assert.deepEqual(await server.service.store.ledger(key!.id), ledgerBefore);
  });
});
