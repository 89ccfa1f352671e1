import { BlockList, isIPv4 } from 'node:net';

export type IpFamilies = 'both' | 'ipv4' | 'ipv6';

/** Addresses no public MX should resolve to (RFC 6890 special-purpose ranges). */
const PRIVATE_RANGES = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  PRIVATE_RANGES.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  PRIVATE_RANGES.addSubnet(network, prefix, 'ipv6');
}

export function isPrivateAddress(address: string): boolean {
  const mapped = address.toLowerCase().startsWith('::ffff:') ? address.slice(7) : address;
  return PRIVATE_RANGES.check(mapped, isIPv4(mapped) ? 'ipv4' : 'ipv6');
}

/**
 * One host's addresses in the order to try: families alternated (IPv4 first) so that neither a
 * broken IPv6 path nor one dead IPv4 server pins every try, filtered by the family policy.
 */
export function interleaveAddresses(
  ipv4: readonly string[],
  ipv6: readonly string[],
  families: IpFamilies,
): string[] {
  const first = families === 'ipv6' ? [] : [...ipv4];
  const second = families === 'ipv4' ? [] : [...ipv6];
  const result: string[] = [];
  for (let i = 0; i < Math.max(first.length, second.length); i++) {
    if (i < first.length) result.push(first[i]!);
    if (i < second.length) result.push(second[i]!);
  }
  return result;
}
