import type { HighWaterMark } from '@outpost/config';
import type { Redis } from 'ioredis';
import { readRedisInfo } from './redis-info.ts';

export interface MemoryState {
  usedBytes: number;
  limitBytes: number | undefined;
  full: boolean;
}

/** The byte figure a high-water mark stands for; undefined when a percentage has nothing to apply to. */
export function highWaterBytes(mark: HighWaterMark, maxmemory: number): number | undefined {
  if (mark.kind === 'bytes') return mark.value;
  return maxmemory > 0 ? Math.floor((maxmemory * mark.value) / 100) : undefined;
}

/**
 * Redis runs noeviction, so a full Redis refuses every write, BullMQ's own included, and delivery
 * could no longer even finish jobs. Ingest stops taking new mail above a high-water mark, below the
 * hard limit, leaving headroom for the work that drains the queue. Polls INFO so the check on the hot
 * path is a field read.
 */
export class MemoryGuard {
  #state: MemoryState = { usedBytes: 0, limitBytes: undefined, full: false };
  #timer: NodeJS.Timeout | undefined;
  readonly #redis: Redis;
  readonly #mark: HighWaterMark;

  constructor(redis: Redis, mark: HighWaterMark) {
    this.#redis = redis;
    this.#mark = mark;
  }

  get state(): MemoryState {
    return this.#state;
  }

  async refresh(): Promise<MemoryState> {
    const memory = await readRedisInfo(this.#redis, 'memory');
    const usedBytes = Number(memory.used_memory ?? 0);
    const limitBytes = highWaterBytes(this.#mark, Number(memory.maxmemory ?? 0));
    this.#state = { usedBytes, limitBytes, full: limitBytes !== undefined && usedBytes >= limitBytes };
    return this.#state;
  }

  start(intervalMs = 500): void {
    this.#timer = setInterval(() => {
      this.refresh().catch(() => {
        // Redis unreachable: writes will fail on their own with 451; keep the last known state.
      });
    }, intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
