import { isIPv4, isIPv6 } from 'node:net';

/**
 * Which addresses an untrusted URL may reach: public unicast only. Refused: loopback,
 * private (RFC 1918, IPv6 ULA), link-local (incl. the 169.254.169.254 cloud metadata
 * address), CGNAT (incl. 100.100.100.200), multicast, broadcast, unspecified,
 * documentation/benchmark/reserved ranges, and IPv6 forms that embed a refused IPv4
 * address (IPv4-mapped, IPv4-compatible, NAT64, 6to4) and IPv4-translated ::ffff:0:0:0/96.
 */
type Range = readonly [prefix: bigint, bits: number];

function v4ToBigint(ip: string): bigint {
  return ip.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

/** Parses an IPv6 address (with an optional dotted IPv4 tail) into 128 bits. */
export function v6ToBigint(ip: string): bigint {
  let text = ip.split('%')[0]!.toLowerCase();
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (tail) {
    const v4 = v4ToBigint(tail[1]!);
    text = `${text.slice(0, -tail[1]!.length)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = rest ? rest.split(':') : [];
  const missing = 8 - left.length - right.length;
  const groups = rest === undefined ? left : [...left, ...new Array<string>(missing).fill('0'), ...right];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g || '0', 16)), 0n);
}

const V4_BLOCKED: readonly Range[] = (
  [
    ['0.0.0.0', 8], // "this network", unspecified
    ['10.0.0.0', 8], // private
    ['100.64.0.0', 10], // CGNAT (Alibaba metadata 100.100.100.200)
    ['127.0.0.0', 8], // loopback
    ['169.254.0.0', 16], // link-local, cloud metadata 169.254.169.254
    ['172.16.0.0', 12], // private
    ['192.0.0.0', 24], // IETF protocol assignments
    ['192.0.2.0', 24], // TEST-NET-1
    ['192.88.99.0', 24], // 6to4 relay anycast
    ['192.168.0.0', 16], // private
    ['198.18.0.0', 15], // benchmarking
    ['198.51.100.0', 24], // TEST-NET-2
    ['203.0.113.0', 24], // TEST-NET-3
    ['224.0.0.0', 4], // multicast
    ['240.0.0.0', 4], // reserved, broadcast
  ] as const
).map(([ip, bits]) => [v4ToBigint(ip), bits] as const);

const V6_BLOCKED: readonly Range[] = (
  [
    ['::', 128], // unspecified
    ['::1', 128], // loopback
    ['64:ff9b:1::', 48], // local-use NAT64
    ['100::', 64], // discard-only
    ['2001::', 23], // IETF protocol assignments (incl. Teredo 2001::/32)
    ['2001:db8::', 32], // documentation
    ['::ffff:0:0:0', 96], // IPv4-translated (SIIT, RFC 2765): never a public destination
    ['fc00::', 7], // unique local (incl. AWS metadata fd00:ec2::254)
    ['fe80::', 10], // link-local
    ['fec0::', 10], // deprecated site-local
    ['ff00::', 8], // multicast
  ] as const
).map(([ip, bits]) => [v6ToBigint(ip), bits] as const);

function inRange(value: bigint, width: number, [prefix, bits]: Range): boolean {
  const shift = BigInt(width - bits);
  return value >> shift === prefix >> shift;
}

function v4Blocked(value: bigint): boolean {
  return V4_BLOCKED.some((r) => inRange(value, 32, r));
}

/** True when `ip` (v4 or v6 text) must not be reached by a server-side fetch. */
export function isBlockedAddress(ip: string): boolean {
  if (isIPv4(ip)) return v4Blocked(v4ToBigint(ip));
  if (!isIPv6(ip)) return true;
  const v = v6ToBigint(ip);
  const low32 = v & 0xffffffffn;
  // IPv4-mapped ::ffff:0:0/96, IPv4-compatible ::/96, NAT64 64:ff9b::/96: judge the IPv4 inside.
  if (v >> 32n === 0xffffn || v >> 32n === 0n || v >> 32n === v6ToBigint('64:ff9b::') >> 32n) return v4Blocked(low32);
  // 6to4 2002::/16 carries an IPv4 address in bits 16-47.
  if (v >> 112n === 0x2002n) return v4Blocked((v >> 80n) & 0xffffffffn);
  return V6_BLOCKED.some((r) => inRange(v, 128, r));
}
