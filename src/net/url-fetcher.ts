import { lookup as dnsLookup } from 'node:dns/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import type { Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { ClearShotError } from '../errors/index.js';
import { isBlockedAddress } from './ip-policy.js';

/**
 * Downloads an untrusted image URL without letting it reach private networks.
 *
 * Every hop (the URL and each redirect) is resolved, every address it resolves to is
 * checked, and the connection is pinned to the checked address through the socket's
 * `lookup` hook, so DNS cannot answer differently between the check and the connect
 * (no rebinding window). TLS still verifies the certificate against the host name.
 * One deadline covers every hop and the body; the body is counted while it streams
 * and abandoned past the size cap.
 */
/** Longest image_url accepted (the contract's limit). */
export const MAX_URL_LENGTH = 512;
/** Redirects followed for one image_url. */
export const MAX_REDIRECTS = 5;

export interface FetchLimits {
  /** Whole download, all redirects included (contract: 10 s). */
  readonly timeoutMs: number;
  /** Body size cap (contract: 20 MB). */
  readonly maxBytes: number;
  readonly maxRedirects: number;
  /** Longest URL accepted (contract: 512 characters). */
  readonly maxUrlLength: number;
  /** Disables the private-address guard (CLEARSHOT_ALLOW_PRIVATE_URLS, for local testing). */
  readonly allowPrivate: boolean;
}

export interface FetchDeps {
  /** Resolves a host name to addresses (default: the system resolver, all records). */
  readonly resolve?: (host: string) => Promise<Array<{ address: string; family: number }>>;
  /** Address policy (default: isBlockedAddress). */
  readonly isBlocked?: (address: string) => boolean;
}

export interface Fetched {
  readonly bytes: Uint8Array;
  readonly contentType?: string | undefined;
  readonly finalUrl: string;
}

const forbidden = (detail: string) => new ClearShotError('URL_FORBIDDEN', `image_url is not allowed: ${detail}`);
const failed = (detail: string, cause?: unknown) => new ClearShotError('DOWNLOAD_FAILED', `failed to download image_url: ${detail}`, { cause });

/** Checks a URL's syntax and scheme (cheap, done when a task is created). */
export function checkUrlSyntax(raw: string, maxLength: number): URL {
  if (raw.length > maxLength) throw new ClearShotError('BAD_PARAMETER', `image_url is longer than ${maxLength} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ClearShotError('BAD_PARAMETER', 'image_url is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ClearShotError('BAD_PARAMETER', 'image_url must be an http or https URL');
  if (url.username || url.password) throw new ClearShotError('BAD_PARAMETER', 'image_url must not contain credentials');
  return url;
}

async function pickAddress(url: URL, limits: FetchLimits, deps: FetchDeps): Promise<{ address: string; family: number }> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const resolve = deps.resolve ?? ((h: string) => dnsLookup(h, { all: true, verbatim: true }));
  let addresses: Array<{ address: string; family: number }>;
  if (isIP(host)) {
    addresses = [{ address: host, family: isIP(host) }];
  } else {
    try {
      addresses = await resolve(host);
    } catch (err) {
      throw failed(`cannot resolve ${host}`, err);
    }
    if (addresses.length === 0) throw failed(`cannot resolve ${host}`);
  }
  if (!limits.allowPrivate) {
    const isBlocked = deps.isBlocked ?? isBlockedAddress;
    // All of them: a host that also resolves to a private address is refused outright.
    const bad = addresses.find((a) => isBlocked(a.address));
    if (bad) throw forbidden(`${host} resolves to a private or reserved address`);
  }
  return addresses[0]!;
}

function get(url: URL, pinned: { address: string; family: number }, signal: AbortSignal): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = request(
      url,
      {
        method: 'GET',
        signal,
        // identity: we read raw bytes, and a compressed body would pass for a corrupt image.
        headers: { 'user-agent': 'ClearShot/1.0 (+image enhancement)', accept: 'image/*,*/*;q=0.5', 'accept-encoding': 'identity' },
        // Pin the connection to the address that passed the policy check.
        lookup: (_host, options, callback) => {
          if ((options as { all?: boolean }).all) (callback as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [pinned]);
          else callback(null, pinned.address, pinned.family);
        },
      },
      resolve,
    );
    req.on('error', reject);
    req.end();
  });
}

async function readBody(res: IncomingMessage, maxBytes: number, signal: AbortSignal): Promise<Uint8Array> {
  const declared = Number(res.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    res.destroy();
    throw failed(`the image is larger than ${Math.round(maxBytes / 2 ** 20)} MB`);
  }
  // Some servers compress whatever they are asked: undo it, the cap applying to the
  // decompressed bytes (a compression bomb stops at the cap like any large body).
  const encoding = String(res.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  const decoders: Record<string, () => Transform> = { gzip: createGunzip, 'x-gzip': createGunzip, deflate: createInflate, br: createBrotliDecompress };
  if (encoding !== 'identity' && encoding !== '' && !decoders[encoding]) {
    res.destroy();
    throw failed(`unsupported Content-Encoding ${JSON.stringify(encoding)}`);
  }
  const body: AsyncIterable<unknown> = decoders[encoding] ? res.pipe(decoders[encoding]()) : res;
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of body) {
      total += (chunk as Buffer).length;
      if (total > maxBytes) {
        res.destroy();
        throw failed(`the image is larger than ${Math.round(maxBytes / 2 ** 20)} MB`);
      }
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    if (err instanceof ClearShotError || !decoders[encoding]) throw err;
    signal.throwIfAborted();
    throw failed(`the ${encoding} body could not be decompressed`, err);
  }
  // A body without Content-Length ends when the connection closes, and the deadline
  // closing it looks exactly like that end (res.complete is true): without this check a
  // slow server's first bytes would pass for the whole image.
  signal.throwIfAborted();
  return Buffer.concat(chunks);
}

export async function fetchImage(raw: string, limits: FetchLimits, deps: FetchDeps = {}, outer?: AbortSignal): Promise<Fetched> {
  let url = checkUrlSyntax(raw, limits.maxUrlLength);
  const deadline = AbortSignal.timeout(limits.timeoutMs);
  const signal = outer ? AbortSignal.any([deadline, outer]) : deadline;
  try {
    for (let hop = 0; ; hop++) {
      const pinned = await pickAddress(url, limits, deps);
      const res = await get(url, pinned, signal);
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        if (hop >= limits.maxRedirects) throw failed(`more than ${limits.maxRedirects} redirects`);
        let next: URL;
        try {
          next = new URL(res.headers.location, url);
        } catch {
          throw failed('a redirect points to an invalid URL');
        }
        url = checkUrlSyntax(next.href, Math.max(limits.maxUrlLength, 2048));
        continue;
      }
      if (status < 200 || status >= 300) {
        res.resume();
        throw failed(`the server answered HTTP ${status}`);
      }
      const bytes = await readBody(res, limits.maxBytes, signal);
      return { bytes, contentType: res.headers['content-type'], finalUrl: url.href };
    }
  } catch (err) {
    if (err instanceof ClearShotError) {
      // A redirect into a bad scheme is a download failure, not a bad parameter.
      throw err.code === 'BAD_PARAMETER' ? failed(err.message.replace(/^image_url /, 'a redirect ')) : err;
    }
    if (deadline.aborted) throw failed(`no complete answer within ${limits.timeoutMs / 1000} s`, err);
    if (outer?.aborted) throw outer.reason instanceof ClearShotError ? outer.reason : new ClearShotError('CANCELLED');
    throw failed((err as Error).message, err);
  }
}
