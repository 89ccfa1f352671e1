import type { Redis } from 'ioredis';
import { QUEUE_PREFIX } from './names.ts';

/**
 * The suppression list: addresses that bounced permanently (no such user, by default) are not
 * attempted again for a while; later mail to them is bounced at once with reason "suppressed".
 * One key per address with a TTL (memory stays bounded), plus an index sorted by expiry for listing.
 */
export interface SuppressionEntry {
  address: string;
  category: string;
  enhancedStatus: string;
  diagnostic?: string;
  /** Why it is on the list: "bounce" (automatic) or "operator". */
  source: 'bounce' | 'operator';
  at: number;
  until: number;
}

const INDEX = `${QUEUE_PREFIX}:suppressed`;
/** The key of an address's suppression entry (its JSON, or none). */
export const suppressionKey = (address: string) => `${QUEUE_PREFIX}:suppressed:${address.toLowerCase()}`;
const keyOf = suppressionKey;

export async function suppressAddress(redis: Redis, entry: SuppressionEntry): Promise<void> {
  const ttl = Math.max(1, entry.until - Date.now());
  await redis
    .multi()
    .set(keyOf(entry.address), JSON.stringify({ ...entry, address: entry.address.toLowerCase() }), 'PX', ttl)
    .zadd(INDEX, entry.until, entry.address.toLowerCase())
    .exec();
}

export async function unsuppressAddress(redis: Redis, address: string): Promise<boolean> {
  const [[, removed] = [null, 0]] =
    (await redis.multi().del(keyOf(address)).zrem(INDEX, address.toLowerCase()).exec()) ?? [];
  return Number(removed) > 0;
}

/** The entries, among `addresses`, that are suppressed now. */
export async function findSuppressed(
  redis: Redis,
  addresses: readonly string[],
): Promise<Map<string, SuppressionEntry>> {
  const found = new Map<string, SuppressionEntry>();
  if (addresses.length === 0) return found;
  const values = await redis.mget(addresses.map(keyOf));
  values.forEach((value, index) => {
    if (value) found.set(addresses[index]!, JSON.parse(value) as SuppressionEntry);
  });
  return found;
}

export async function listSuppressed(redis: Redis, limit = 1_000): Promise<SuppressionEntry[]> {
  await redis.zremrangebyscore(INDEX, '-inf', String(Date.now()));
  const addresses = await redis.zrange(INDEX, '0', String(limit - 1));
  return [...(await findSuppressed(redis, addresses)).values()];
}
