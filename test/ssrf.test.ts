import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { isBlockedAddress } from '../src/net/ip-policy.js';
import { fetchImage, type FetchLimits } from '../src/net/url-fetcher.js';
import { ClearShotError } from '../src/errors/index.js';
import { startTestServer, stopTestServer, type TestServer } from './helpers/server.js';
import { createJson, json } from './helpers/client.js';
import { photo } from './helpers/images.js';

describe('address policy', () => {
  const blocked = [
    '127.0.0.1',
    '127.255.255.254',
    '0.0.0.0',
    '10.0.0.1',
    '172.16.5.4',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '100.100.100.200',
    '224.0.0.1',
    '255.255.255.255',
    '198.18.0.1',
    '::1',
    '::',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:10.0.0.1',
    '::ffff:169.254.169.254',
    // IPv4-translated ::ffff:0:0:0/96 (issue 13)
    '::ffff:0:127.0.0.1',
    '::ffff:0:7f00:1',
    '::ffff:0:10.0.0.1',
    '::ffff:0:a9fe:a9fe',
    '::ffff:0:8.8.8.8',
    '::127.0.0.1',
    '64:ff9b::7f00:1',
    '2002:7f00:1::1',
    'fe80::1',
    'fc00::1',
    'fd00:ec2::254',
    'ff02::1',
    '2001:db8::1',
    '2001::1',
    'not-an-ip',
  ];
  const allowed = ['93.184.216.34', '8.8.8.8', '1.1.1.1', '172.15.0.1', '172.32.0.1', '100.63.255.255', '::ffff:8.8.8.8', '2606:4700:4700::1111', '2a00:1450:4001::1', '64:ff9b::808:808', '2002:808:808::1'];
  for (const ip of blocked) it(`refuses ${ip}`, () => assert.equal(isBlockedAddress(ip), true));
  for (const ip of allowed) it(`allows ${ip}`, () => assert.equal(isBlockedAddress(ip), false));
});

describe('fetcher: every hop checked, connection pinned', () => {
  let origin: Server;
  let port: number;
  const hostsSeen: string[] = [];
  let png: Buffer;
  before(async () => {
    png = await photo(16, 16);
    origin = createServer((req, res) => {
      hostsSeen.push(req.headers.host ?? '');
      if (req.url === '/image.png') {
        res.writeHead(200, { 'content-type': 'image/png' });
        res.end(png);
      } else if (req.url === '/gzip') {
        // A server that compresses whatever it is asked (we ask for identity).
        res.writeHead(200, { 'content-type': 'image/png', 'content-encoding': 'gzip', 'x-asked': String(req.headers['accept-encoding']) });
        res.end(gzipSync(png));
      } else if (req.url === '/gzip-bomb') {
        res.writeHead(200, { 'content-type': 'image/png', 'content-encoding': 'gzip' });
        res.end(gzipSync(Buffer.alloc(30 * 2 ** 20)));
      } else if (req.url === '/bad-gzip') {
        res.writeHead(200, { 'content-type': 'image/png', 'content-encoding': 'gzip' });
        res.end(png);
      } else if (req.url === '/to-private') {
        // A public-looking host redirecting to a private one.
        res.writeHead(302, { location: `http://private.test:${port}/image.png` });
        res.end();
      } else if (req.url === '/loop') {
        res.writeHead(302, { location: '/loop' });
        res.end();
      } else if (req.url === '/big') {
        res.writeHead(200, { 'content-type': 'image/png' });
        const chunk = Buffer.alloc(1024 * 1024);
        let sent = 0;
        const send = () => {
          while (sent < 30 && res.write(chunk)) sent++;
          if (sent < 30) res.once('drain', send);
          else res.end();
        };
        send();
      } else if (req.url === '/slow') {
        res.writeHead(200, { 'content-type': 'image/png' });
        res.write('x');
        // never ends
      } else if (req.url === '/slow-unsized') {
        // No Content-Length and no chunking: the body ends when the connection closes
        // (HTTP/1.0 style). The first bytes of a real image, then nothing.
        req.socket.write('HTTP/1.1 200 OK\r\ncontent-type: image/png\r\nconnection: close\r\n\r\n');
        req.socket.write(png.subarray(0, 100));
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
    port = (origin.address() as AddressInfo).port;
  });
  after(() => {
    origin.closeAllConnections();
    origin.close();
  });

  // A test world: "public.test" is a public host (served by our loopback origin), and the
  // policy treats only 127.0.0.2 as private. "private.test" resolves there.
  const limits: FetchLimits = { timeoutMs: 2000, maxBytes: 20 * 2 ** 20, maxRedirects: 5, maxUrlLength: 512, allowPrivate: false };
  const deps = {
    resolve: async (host: string) => {
      if (host === 'public.test') return [{ address: '127.0.0.1', family: 4 }];
      if (host === 'private.test') return [{ address: '127.0.0.2', family: 4 }];
      if (host === 'mixed.test')
        return [
          { address: '127.0.0.1', family: 4 },
          { address: '127.0.0.2', family: 4 },
        ];
      throw new Error('NXDOMAIN');
    },
    isBlocked: (ip: string) => ip === '127.0.0.2',
  };
  const code = async (p: Promise<unknown>) => {
    try {
      await p;
      return 'ok';
    } catch (e) {
      return e instanceof ClearShotError ? `${e.code}: ${e.message}` : String(e);
    }
  };

  it('downloads from an allowed host, connecting to the checked address with the original Host', async () => {
    const r = await fetchImage(`http://public.test:${port}/image.png`, limits, deps);
    assert.equal(r.contentType, 'image/png');
    assert.ok(r.bytes.length > 0);
    assert.equal(hostsSeen.at(-1), `public.test:${port}`);
  });

  it('asks for an uncompressed body, and undoes a compressed one within the size cap', async () => {
    const r = await fetchImage(`http://public.test:${port}/gzip`, limits, deps);
    assert.deepEqual(Buffer.from(r.bytes), png);
    assert.match(await code(fetchImage(`http://public.test:${port}/gzip-bomb`, limits, deps)), /^DOWNLOAD_FAILED: .*larger than 20 MB/);
    assert.match(await code(fetchImage(`http://public.test:${port}/bad-gzip`, limits, deps)), /^DOWNLOAD_FAILED: .*gzip body could not be decompressed/);
  });

  it('re-checks the address after a redirect', async () => {
    assert.match(await code(fetchImage(`http://public.test:${port}/to-private`, limits, deps)), /^URL_FORBIDDEN: image_url is not allowed: private\.test resolves to a private or reserved address/);
  });

  it('refuses a host with any private address among its records', async () => {
    assert.match(await code(fetchImage(`http://mixed.test:${port}/image.png`, limits, deps)), /^URL_FORBIDDEN/);
  });

  it('limits redirects, size and time', async () => {
    assert.match(await code(fetchImage(`http://public.test:${port}/loop`, limits, deps)), /more than 5 redirects/);
    assert.match(await code(fetchImage(`http://public.test:${port}/big`, limits, deps)), /larger than 20 MB/);
    assert.match(await code(fetchImage(`http://public.test:${port}/slow`, { ...limits, timeoutMs: 500 }, deps)), /no complete answer within 0.5 s/);
    // The deadline cutting a close-delimited body is not its end: no truncated image.
    assert.match(await code(fetchImage(`http://public.test:${port}/slow-unsized`, { ...limits, timeoutMs: 500 }, deps)), /^DOWNLOAD_FAILED: .*no complete answer within 0.5 s/);
    assert.match(await code(fetchImage(`http://public.test:${port}/missing`, limits, deps)), /server answered HTTP 404/);
    assert.match(await code(fetchImage('http://nowhere.test/x.png', limits, deps)), /cannot resolve nowhere\.test/);
  });

  it('with the real policy, loopback in any spelling is refused before connecting', async () => {
    for (const url of [`http://127.0.0.1:${port}/image.png`, `http://[::1]:${port}/image.png`, `http://[::ffff:127.0.0.1]:${port}/image.png`, `http://localhost:${port}/image.png`, 'http://169.254.169.254/latest/meta-data/', 'http://10.0.0.1/x.png']) {
      const before = hostsSeen.length;
      assert.match(await code(fetchImage(url, limits)), /^URL_FORBIDDEN/, url);
      assert.equal(hostsSeen.length, before, `${url} must not be contacted`);
    }
  });
});

describe('SSRF through the API (state -3)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => stopTestServer(server));

  it('private, loopback, link-local and metadata addresses fail the task with -3', async () => {
    for (const url of ['http://127.0.0.1/a.png', 'http://[::1]/a.png', 'http://10.0.0.1/a.png', 'http://169.254.169.254/latest/meta-data/', 'http://[::ffff:127.0.0.1]/a.png', 'http://localhost/a.png']) {
      const r = await json(await createJson(server, { image_url: url, sync: 1 }));
      assert.equal(r.body.data.state, -3, url);
      assert.match(r.body.data.state_detail as string, /not allowed: .* resolves to a private or reserved address/, url);
    }
  });

  it('CLEARSHOT_ALLOW_PRIVATE_URLS=1 lets a local URL through (for local testing)', async () => {
    const png = await photo(20, 20);
    const origin = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'image/png' });
      res.end(png);
    });
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
    const open = await startTestServer({ CLEARSHOT_ALLOW_PRIVATE_URLS: '1' });
    try {
      const r = await json(await createJson(open, { image_url: `http://127.0.0.1:${(origin.address() as AddressInfo).port}/p.png`, sync: 1, scale_factor: 2 }));
      assert.equal(r.body.data.state, 1, JSON.stringify(r.body));
      assert.deepEqual([r.body.data.image_width, r.body.data.credits], [40, 2]);
    } finally {
      await open.stop();
      origin.close();
    }
  });
});
