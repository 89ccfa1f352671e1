import type { CachedMtaStsPolicy, MtaStsMode } from '@outpost/core';
import { QUEUE_PREFIX } from '@outpost/queue';
import type { Redis } from 'ioredis';

/**
 * MTA-STS policies cached in Redis, shared by every worker and kept across restarts (RFC 8461 §5.1:
 * a policy applies for max_age, so forgetting it on a restart would drop the protection it gives
 * against a downgraded TXT lookup or fetch). Each key expires with its policy; a failed fetch is
 * remembered per policy id so it is not retried for five minutes (§3.3).
 */
export function createPolicyCache(redis: Redis) {
  const policyKey = (domain: string) => `${QUEUE_PREFIX}:mta-sts:policy:${domain.toLowerCase()}`;
  const failureKey = (domain: string) => `${QUEUE_PREFIX}:mta-sts:fetch-failed:${domain.toLowerCase()}`;
  return {
    async get(domain: string): Promise<CachedMtaStsPolicy | undefined> {
      const text = await redis.get(policyKey(domain));
      return text ? parseCached(text) : undefined;
    },
    async put(domain: string, cached: CachedMtaStsPolicy, now: number): Promise<void> {
      const ttl = cached.expiresAt - now;
      if (ttl <= 0) return;
      await redis.set(policyKey(domain), JSON.stringify(cached), 'PX', ttl);
    },
    async recentFailure(domain: string): Promise<{ id: string } | undefined> {
      const id = await redis.get(failureKey(domain));
      return id ? { id } : undefined;
    },
    async noteFailure(domain: string, id: string, forMs: number): Promise<void> {
      await redis.set(failureKey(domain), id, 'PX', forMs);
    },
  };
}

export type PolicyCache = ReturnType<typeof createPolicyCache>;

const MODES: readonly MtaStsMode[] = ['enforce', 'testing', 'none'];

/** A cached entry as written by put(); anything else (another version, a corrupt value) is ignored. */
function parseCached(text: string): CachedMtaStsPolicy | undefined {
  try {
    const value = JSON.parse(text) as CachedMtaStsPolicy;
    const { policy } = value;
    const valid =
      typeof value.fetchedAt === 'number' &&
      typeof value.expiresAt === 'number' &&
      typeof policy?.id === 'string' &&
      MODES.includes(policy.mode) &&
      typeof policy.maxAgeSeconds === 'number' &&
      Array.isArray(policy.mx) &&
      policy.mx.every((mx) => typeof mx === 'string');
    return valid ? value : undefined;
  } catch {
    return undefined;
  }
}
