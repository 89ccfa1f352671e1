import { isIPv4, isIPv6 } from 'node:net';

/**
 * The identity counters (rate limits, AUTH failures) are kept under for a client address. An IPv6
 * client usually holds a whole /64 and can pick a fresh address per connection, so IPv6 addresses
 * count per /64; IPv4 addresses (including IPv4-mapped ::ffff:a.b.c.d) count one by one.
 */
export function clientKey(address: string): string {
  const plain = address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
  if (isIPv4(plain)) return plain;
  const unzoned = plain.replace(/%.*$/, '');
  if (!isIPv6(unzoned)) return plain;
  return `${ipv6Groups(unzoned).slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address, as short lower-case hex. */
function ipv6Groups(address: string): string[] {
  const [head = '', tail] = address.split('::');
  const split = (part: string) =>
    part === ''
      ? []
      : part.split(':').flatMap((group) => (group.includes('.') ? ipv4Groups(group) : [group]));
  const headGroups = split(head);
  const tailGroups = tail === undefined ? [] : split(tail);
  const zeros = Array<string>(8 - headGroups.length - tailGroups.length).fill('0');
  return [...headGroups, ...zeros, ...tailGroups].map((group) => Number.parseInt(group, 16).toString(16));
}

/** An embedded IPv4 address (::ffff:1.2.3.4, 64:ff9b::1.2.3.4) as its two groups. */
function ipv4Groups(dotted: string): string[] {
  const [a = 0, b = 0, c = 0, d = 0] = dotted.split('.').map(Number);
  return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
}
