import type { Logger } from '@outpost/telemetry';
import type { Redis } from 'ioredis';
import { failOpen } from './fail-open.ts';
import { addressId, INGEST_KEY_PREFIX, userId } from './redis-keys.ts';

/**
 * Failed AUTH attempts per client address and per user name, shared by every ingest process. Each
 * counter expires `windowMs` after its latest failure, so memory stays bounded and a client that
 * stops guessing is forgiven. Redis trouble reads as "no failures" (see failOpen).
 */
export class AuthFailureCounter {
  readonly #redis: Redis;
  readonly #windowMs: number;
  readonly #logger: Logger;

  constructor(redis: Redis, windowMs: number, logger: Logger) {
    this.#redis = redis;
    this.#windowMs = windowMs;
    this.#logger = logger;
  }

  async failures(address: string, user: string): Promise<{ address: number; user: number }> {
    return failOpen(
      async () => {
        const [byAddress, byUser] = await this.#redis.mget(this.#addressKey(address), this.#userKey(user));
        return { address: Number(byAddress ?? 0), user: Number(byUser ?? 0) };
      },
      { address: 0, user: 0 },
      (error) => this.#logger.warn({ err: error }, 'AUTH failure counters unavailable: not throttling'),
    );
  }

  async recordFailure(address: string, user: string): Promise<void> {
    const keys = [this.#addressKey(address), this.#userKey(user)];
    await failOpen(
      async () => {
        const multi = this.#redis.multi();
        for (const key of keys) multi.incr(key).pexpire(key, this.#windowMs);
        await multi.exec();
      },
      undefined,
      (error) => this.#logger.warn({ err: error }, 'AUTH failure not counted: Redis unavailable'),
    );
  }

  #addressKey(address: string): string {
    return `${INGEST_KEY_PREFIX}auth-failures:address:${addressId(address)}`;
  }

  #userKey(user: string): string {
    return `${INGEST_KEY_PREFIX}auth-failures:user:${userId(user)}`;
  }
}
