import type { RateLimit } from '@outpost/config';
import { exceedsRateLimit, rateWindowSlots } from '@outpost/core';
import type { Logger } from '@outpost/telemetry';
import type { Redis } from 'ioredis';
import { failOpen } from './fail-open.ts';
import { addressId, INGEST_KEY_PREFIX, userId } from './redis-keys.ts';

/** Whose messages are counted: the authenticated user, the client address, or both. */
export interface RateSubjects {
  user?: string;
  address?: string;
}

export interface RateLimits {
  perUser?: RateLimit;
  perAddress?: RateLimit;
}

interface Counter {
  kind: 'user' | 'address';
  id: string;
  limit: RateLimit;
}

/**
 * Message rate limits shared by every ingest process: a sliding-window counter per subject (two
 * fixed-window keys, each expiring after two windows). Each MAIL transaction counts, refused ones
 * included, so a client hammering past its limit stays refused. Redis trouble admits (failOpen).
 */
export class MessageRateLimiter {
  readonly #redis: Redis;
  readonly #limits: RateLimits;
  readonly #logger: Logger;
  readonly #now: () => number;

  constructor(redis: Redis, limits: RateLimits, logger: Logger, now: () => number = Date.now) {
    this.#redis = redis;
    this.#limits = limits;
    this.#logger = logger;
    this.#now = now;
  }

  /** Counts one message for each subject; resolves to the subject whose limit it exceeds, if any. */
  async count(subjects: RateSubjects): Promise<'user' | 'address' | undefined> {
    const counters: Counter[] = [];
    if (subjects.user !== undefined && this.#limits.perUser) {
      counters.push({ kind: 'user', id: userId(subjects.user), limit: this.#limits.perUser });
    }
    if (subjects.address !== undefined && this.#limits.perAddress) {
      counters.push({ kind: 'address', id: addressId(subjects.address), limit: this.#limits.perAddress });
    }
    if (counters.length === 0) return undefined;
    return failOpen(
      () => this.#count(counters),
      undefined,
      (error) => this.#logger.warn({ err: error }, 'rate limit counters unavailable: not limiting'),
    );
  }

  async #count(counters: Counter[]): Promise<'user' | 'address' | undefined> {
    const now = this.#now();
    const multi = this.#redis.multi();
    const slots = counters.map((counter) => {
      const slot = rateWindowSlots(now, counter.limit.windowMs);
      const key = (index: number) => `${INGEST_KEY_PREFIX}rate:${counter.kind}:${counter.id}:${index}`;
      multi
        .incr(key(slot.current))
        .pexpire(key(slot.current), 2 * counter.limit.windowMs)
        .get(key(slot.previous));
      return slot;
    });
    const results = await multi.exec();
    if (!results) throw new Error('rate limit transaction aborted');
    for (const [index, counter] of counters.entries()) {
      const [current, , previous] = results.slice(index * 3, index * 3 + 3).map(([error, value]) => {
        if (error) throw error;
        return Number(value ?? 0);
      });
      if (
        exceedsRateLimit(counter.limit, { current: current!, previous: previous! }, slots[index]!.elapsed)
      ) {
        return counter.kind;
      }
    }
    return undefined;
  }
}
