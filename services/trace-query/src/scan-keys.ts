import type { Redis } from 'ioredis';

/** The variable part of every key that starts with `prefix` (SCAN: never blocks Redis). */
export async function scanKeySuffixes(redis: Redis, prefix: string): Promise<string[]> {
  // MATCH is a glob: escape its special characters in the fixed part.
  const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
  const found = new Set<string>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    cursor = next;
    for (const key of keys) found.add(key.slice(prefix.length));
  } while (cursor !== '0');
  return [...found];
}
