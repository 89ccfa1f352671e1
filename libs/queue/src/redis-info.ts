import type { Redis } from 'ioredis';

/** Parses the text of INFO into key -> value. */
export function parseRedisInfo(text: string): Record<string, string> {
  const info: Record<string, string> = {};
  for (const line of text.split('\r\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon > 0) info[line.slice(0, colon)] = line.slice(colon + 1);
  }
  return info;
}

export async function readRedisInfo(redis: Redis, section: string): Promise<Record<string, string>> {
  return parseRedisInfo(await redis.info(section));
}

/** "7.0.15" >= "7.2.0" */
export function versionAtLeast(version: string, minimum: string): boolean {
  const a = version.split('.').map(Number);
  const b = minimum.split('.').map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const difference = (a[i] ?? 0) - (b[i] ?? 0);
    if (difference !== 0) return difference > 0;
  }
  return true;
}
