import { redisScript } from '@outpost/queue';
import type { Logger } from '@outpost/telemetry';
import type { Redis } from 'ioredis';

/** At most `limit` requests per `windowMs`; `limit: Infinity` is "unlimited". */
export interface RateLimit {
  limit: number;
  windowMs: number;
}

const UNITS: Record<string, number> = {
  s: 1_000,
  sec: 1_000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** "100/min", "10/s", "5000/h", "20000/d" or "unlimited". */
export function parseRateLimit(text: string): RateLimit | undefined {
  if (text.trim().toLowerCase() === 'unlimited') return { limit: Number.POSITIVE_INFINITY, windowMs: 1_000 };
  const match = text.trim().match(/^(\d{1,9})\/([a-z]+)$/i);
  const windowMs = UNITS[match?.[2]?.toLowerCase() ?? ''];
  if (!match || windowMs === undefined || Number(match[1]) < 1) return undefined;
  return { limit: Number(match[1]), windowMs };
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/**
 * A fixed-window counter per key in Redis, so every ingest process shares it. The window starts
 * with the first request and ends with the key's TTL (Redis's clock, not ours), which is also the
 * Retry-After. INCR and PEXPIRE run in one script: a counter can never be left without a TTL.
 */
const TAKE_SCRIPT = redisScript(`
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
`);

export const RATE_KEY_PREFIX = '{outpost}:ingest:rate:';

export interface RateLimiter {
  take(scope: string, rate: RateLimit): Promise<RateDecision>;
}

export function createRedisRateLimiter(redis: Redis, logger: Logger): RateLimiter {
  return {
    async take(scope, rate) {
      if (!Number.isFinite(rate.limit)) return { allowed: true };
      try {
        const [count, ttl] = (await TAKE_SCRIPT.run(
          redis,
          [`${RATE_KEY_PREFIX}${scope}`],
          [rate.windowMs],
        )) as [number, number];
        if (count <= rate.limit) return { allowed: true };
        return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(ttl / 1_000)) };
      } catch (error) {
        // Fail open: a Redis that cannot count cannot store the message either, and the accept
        // path answers that properly (503/507); refusing here would only hide the real reason.
        logger.debug({ err: error, scope }, 'rate limit check failed; allowing');
        return { allowed: true };
      }
    },
  };
}
