import { QUEUE_PREFIX } from '@outpost/queue';
import type { Redis } from 'ioredis';

/**
 * Hosts whose STARTTLS handshake failed are remembered (cluster-wide, for a day by default) so the
 * next attempt goes in plaintext instead of failing the same way until the message expires.
 */
export function createTlsMemory(redis: Redis, rememberMs: number) {
  const key = (host: string) => `${QUEUE_PREFIX}:tls-broken:${host.toLowerCase()}`;
  return {
    async isBroken(host: string): Promise<boolean> {
      try {
        return (await redis.exists(key(host))) === 1;
      } catch {
        return false;
      }
    },
    async markBroken(host: string): Promise<void> {
      await redis.set(key(host), String(Date.now()), 'PX', rememberMs).catch(() => {});
    },
  };
}
