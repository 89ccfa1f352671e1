import { createHash } from 'node:crypto';
import { clientKey } from '@outpost/core';

/** Every key ingest keeps for itself; the hash tag keeps them in the queue's Redis Cluster slot. */
export const INGEST_KEY_PREFIX = '{outpost}:ingest:';

/** A client address as counters see it (IPv6 per /64). */
export function addressId(address: string): string {
  return clientKey(address);
}

/**
 * A user name as counters see it. Names arrive from the client before they are known to be real,
 * so they are hashed: keys stay short whatever is sent, and no typed-in secret ends up as a key.
 */
export function userId(name: string): string {
  return createHash('sha256').update(name).digest('hex').slice(0, 32);
}
