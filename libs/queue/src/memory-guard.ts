import type { HighWaterMark } from '@outpost/config';
import type { Redis } from 'ioredis';
import { readRedisMemory } from './redis-memory.ts';

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
 * What a message of `size` bytes takes in Redis once queued, generously: the body, the message and
 * delivery job hashes, BullMQ's event entries and the allocator's rounding (a 2 KB message measured
 * about 5.8 KB with compact job hashes, 6.9 KB without).
 */
export function queuedFootprint(size: number): number {
  return Math.ceil(size * 1.5) + 4_096;
}

/**
 * Redis runs noeviction, so a full Redis refuses every write, BullMQ's own included: its scripts
 * then cannot even move a job to active, and delivery could not drain the queue that filled it.
 * Ingest stops taking new mail above a high-water mark, below the hard limit, leaving headroom for
 * the work that drains the queue. INFO is polled so the check on the hot path is a field read; the
 * writes made since the last poll are counted here (reserved before they are made), so that a burst
 * between two polls cannot carry Redis past the mark.
 */
export class MemoryGuard {
  #state: MemoryState = { usedBytes: 0, limitBytes: undefined, full: false };
  /** Bytes reserved by writes that the last INFO did not see yet. */
  #pending = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #redis: Redis;
  readonly #mark: HighWaterMark;

  constructor(redis: Redis, mark: HighWaterMark) {
    this.#redis = redis;
    this.#mark = mark;
  }

  /** The last INFO figures, with the writes made since counted as used. */
  get state(): MemoryState {
    const usedBytes = this.#state.usedBytes + this.#pending;
    const { limitBytes } = this.#state;
    return { usedBytes, limitBytes, full: limitBytes !== undefined && usedBytes >= limitBytes };
  }

  /**
   * Reserves room for a write of about `bytes`; false (nothing reserved) when it would carry Redis
   * past the high-water mark. A write that then fails gives its room back with release().
   */
  tryReserve(bytes: number): boolean {
    const { usedBytes, limitBytes } = this.state;
    if (limitBytes !== undefined && usedBytes + bytes > limitBytes) return false;
    this.#pending += bytes;
    return true;
  }

  release(bytes: number): void {
    this.#pending = Math.max(0, this.#pending - bytes);
  }

  async refresh(): Promise<MemoryState> {
    // Writes reserved during this round trip may or may not be in the figure: keep counting them.
    const seen = this.#pending;
    const { usedBytes, maxmemory } = await readRedisMemory(this.#redis);
    const limitBytes = highWaterBytes(this.#mark, maxmemory);
    this.#pending = Math.max(0, this.#pending - seen);
    this.#state = { usedBytes, limitBytes, full: limitBytes !== undefined && usedBytes >= limitBytes };
    return this.state;
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
