import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { ClearShotError } from '../errors/index.js';
import { isBlockedAddress } from '../net/ip-policy.js';

/**
 * callback_url: http or https, at most 512 characters, no credentials, and (unless
 * CLEARSHOT_ALLOW_PRIVATE_URLS) never a private, loopback or otherwise reserved
 * address, the same guard as image_url. Checked when the task is created and again at
 * every delivery (DNS may answer differently later); deliveries connect to the address
 * that passed the check.
 */
export const MAX_CALLBACK_URL = 512;

export type Resolver = (host: string) => Promise<Array<{ address: string; family: number }>>;

export interface CallbackGuard {
  readonly allowPrivate: boolean;
  readonly resolve?: Resolver;
  readonly isBlocked?: (address: string) => boolean;
}

const bad = (detail: string) => new ClearShotError('BAD_PARAMETER', `callback_url ${detail}`);

/** Syntax only (cheap, synchronous): done with the other fields. */
export function checkCallbackSyntax(raw: string): URL {
  if (raw.length > MAX_CALLBACK_URL) throw bad(`is longer than ${MAX_CALLBACK_URL} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw bad('is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw bad('must be an http or https URL');
  if (url.username || url.password) throw bad('must not contain credentials');
  return url;
}

/** Resolves the host and applies the address policy; returns the address to connect to. */
export async function resolveCallback(url: URL, guard: CallbackGuard): Promise<{ address: string; family: number }> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: Array<{ address: string; family: number }>;
  if (isIP(host)) addresses = [{ address: host, family: isIP(host) }];
  else {
    const resolve = guard.resolve ?? ((h: string) => dnsLookup(h, { all: true, verbatim: true }));
    try {
      addresses = await resolve(host);
    } catch {
      addresses = [];
    }
    if (addresses.length === 0) throw new ClearShotError('URL_FORBIDDEN', `callback_url is not allowed: cannot resolve ${host}`);
  }
  if (!guard.allowPrivate) {
    const isBlocked = guard.isBlocked ?? isBlockedAddress;
    if (addresses.some((a) => isBlocked(a.address))) throw new ClearShotError('URL_FORBIDDEN', `callback_url is not allowed: ${host} resolves to a private or reserved address`);
  }
  return addresses[0]!;
}

/** The create-time check: syntax, then the address policy. */
export async function checkCallbackUrl(raw: string, guard: CallbackGuard): Promise<void> {
  await resolveCallback(checkCallbackSyntax(raw), guard);
}
