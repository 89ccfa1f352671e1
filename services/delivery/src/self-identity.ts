import { networkInterfaces } from 'node:os';

/**
 * Our own non-loopback addresses: an MX resolving to one of them would make us deliver to
 * ourselves (RFC 5321 §5.1 loop). Loopback is left out: on loopback the private-address rule
 * already applies, and tests run their receivers there.
 */
export function ownAddresses(extra: readonly string[] = []): Set<string> {
  const addresses = new Set(extra);
  for (const entries of Object.values(networkInterfaces())) {
    for (const entry of entries ?? []) if (!entry.internal) addresses.add(entry.address);
  }
  return addresses;
}
