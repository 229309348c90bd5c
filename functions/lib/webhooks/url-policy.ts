/**
 * Which callback URLs we will call. A callback is a request our servers make to an address a caller
 * chose, so an address inside our network (loopback, private, link-local: the instance metadata
 * service lives at 169.254.169.254) is refused, at creation for IP literals and again at connection
 * time for whatever a hostname resolves to (DNS can change between the two). The local stack allows
 * private addresses (ALLOW_PRIVATE_CALLBACKS=true) because its test receivers listen on loopback.
 */
import { BlockList, isIP } from 'node:net';

const blocked = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  blocked.addSubnet(network, prefix, 'ipv4');
}
// Ranges that embed or translate to an IPv4 address (IPv4-compatible ::/96, NAT64 64:ff9b::/96 and the
// local-use 64:ff9b:1::/48, 6to4 2002::/16) are refused whole: a gateway may turn them into a private
// IPv4 address the v4 list above would have refused.
for (const [network, prefix] of [
  ['::', 96],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  ['2002::', 16],
  ['2001:db8::', 32],
] as const) {
  blocked.addSubnet(network, prefix, 'ipv6');
}

/** True for loopback, private, link-local, shared, reserved and multicast addresses (v4, v6, v4-mapped). */
export function isPrivateAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '');
  const family = isIP(bare);
  if (family === 4) return blocked.check(bare, 'ipv4');
  if (family === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
    if (mapped?.[1]) return blocked.check(mapped[1], 'ipv4');
    return blocked.check(bare, 'ipv6');
  }
  return true;
}

const MAX_CALLBACK_URL_LENGTH = 2048;

/** Why a callback URL is refused (a stable code), or undefined when it is acceptable. */
export function callbackUrlProblem(raw: string, allowPrivate: boolean): string | undefined {
  if (raw.length > MAX_CALLBACK_URL_LENGTH) return 'CALLBACK_URL_TOO_LONG';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'CALLBACK_URL_INVALID';
  }
  if (url.protocol !== 'https:' && !(allowPrivate && url.protocol === 'http:'))
    return 'CALLBACK_URL_NOT_HTTPS';
  if (url.username || url.password) return 'CALLBACK_URL_HAS_CREDENTIALS';
  if (url.hash) return 'CALLBACK_URL_INVALID';
  if (allowPrivate) return undefined;
  const host = url.hostname.toLowerCase().replace(/\.$/, '');
  if (host === 'localhost' || host.endsWith('.localhost') || host.endsWith('.internal')) {
    return 'CALLBACK_URL_PRIVATE';
  }
  const literal = host.replace(/^\[|\]$/g, '');
  if (isIP(literal) && isPrivateAddress(literal)) return 'CALLBACK_URL_PRIVATE';
  // Numeric forms that are not dotted quads (http://2130706433/) resolve to loopback on some stacks.
  if (/^[0-9.x]+$/i.test(host) && !isIP(host)) return 'CALLBACK_URL_PRIVATE';
  return undefined;
}
