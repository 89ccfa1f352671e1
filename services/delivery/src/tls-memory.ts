import { QUEUE_PREFIX } from '@outpost/queue';
import type { Redis } from 'ioredis';

/**
 * What this process last read is trusted this long: the question is asked before every
 * transaction, pooled connections included. A host another worker marked meanwhile costs at most
 * one more failed STARTTLS here, after which this worker marks it too.
 */
const LOCAL_ANSWER_MS = 5_000;

/**
 * Hosts whose STARTTLS handshake failed are remembered (cluster-wide, for a day by default) so the
 * next attempt goes in plaintext instead of failing the same way until the message expires.
 */
export function createTlsMemory(redis: Redis, rememberMs: number, clock: () => number = Date.now) {
  const key = (host: string) => `${QUEUE_PREFIX}:tls-broken:${host.toLowerCase()}`;
  const answers = new Map<string, { broken: boolean; until: number }>();
  // Never past the memory itself (tests and operators set it to seconds).
  const trustMs = Math.min(LOCAL_ANSWER_MS, rememberMs);
  const remember = (host: string, broken: boolean) => {
    // Bounded: a worker that met very many hosts starts over.
    if (answers.size >= 10_000) answers.clear();
    answers.set(host.toLowerCase(), { broken, until: clock() + trustMs });
  };
  return {
    async isBroken(host: string): Promise<boolean> {
      const known = answers.get(host.toLowerCase());
      if (known && known.until > clock()) return known.broken;
      try {
        const broken = (await redis.exists(key(host))) === 1;
        remember(host, broken);
        return broken;
      } catch {
        return false;
      }
    },
    async markBroken(host: string): Promise<void> {
      remember(host, true);
      await redis.set(key(host), String(Date.now()), 'PX', rememberMs).catch(() => {});
    },
  };
}
