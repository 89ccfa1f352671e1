import type { Redis } from 'ioredis';
import { readRedisInfo } from './redis-info.ts';

export interface RedisMemory {
  /** What Redis compares with maxmemory: used_memory less the AOF and replica buffers. */
  usedBytes: number;
  /** 0: no limit. */
  maxmemory: number;
}

/**
 * Redis's memory as Redis itself counts it against maxmemory. The buffers it leaves out grow with a
 * slow replica or a pending AOF write and shrink on their own; counting them would call Redis full
 * (and refuse mail) while Redis still accepts every write.
 */
export async function readRedisMemory(redis: Redis): Promise<RedisMemory> {
  const memory = await readRedisInfo(redis, 'memory');
  const used = Number(memory.used_memory ?? 0) - Number(memory.mem_not_counted_for_evict ?? 0);
  return { usedBytes: used, maxmemory: Number(memory.maxmemory ?? 0) };
}
