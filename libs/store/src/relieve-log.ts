import { redisScript } from '@outpost/queue';
import type { Redis } from 'ioredis';
import { logKeys } from './keys.ts';

/**
 * Drops the oldest records of one batch until `wanted` bytes are dropped, with the bookkeeping of
 * the log's own size trimming (the record, its size entry, the byte count), atomically. Redis above
 * maxmemory refuses DECRBY (it may grow memory), but not inside a script that has already written:
 * ZREM comes first for that reason, and only records this call removed from the time index are
 * counted, so that two processes relieving at once never count a record twice.
 *
 * KEYS: records, sizes, bytes, then each record's key; ARGV: wanted, then the ids in KEYS' order.
 */
const DROP_RECORDS = redisScript(`
local wanted = tonumber(ARGV[1])
local dropped, bytes = 0, 0
for i = 2, #ARGV do
  if bytes >= wanted then break end
  local id = ARGV[i]
  if redis.call('ZREM', KEYS[1], id) == 1 then
    bytes = bytes + (tonumber(redis.call('HGET', KEYS[2], id)) or 0)
    redis.call('DEL', KEYS[i + 2])
    redis.call('HDEL', KEYS[2], id)
    dropped = dropped + 1
  end
end
local left
if bytes > 0 then left = redis.call('DECRBY', KEYS[3], bytes) else left = tonumber(redis.call('GET', KEYS[3]) or '0') end
return {dropped, bytes, left}
`);

export interface LogRelief {
  records: number;
  /** The log's byte count after the last batch (undefined when there was nothing to drop). */
  left?: number;
  /** By the log's own count (the records' text). */
  bytes: number;
}

/** The most record ids one script call is given. */
const MAX_BATCH = 1_000;

/**
 * Drops the oldest delivery-log records until the log's byte count is down by `bytes`, or the log
 * is empty: the log's size trimming on write, and memory relief at Redis's limit. It uses only what
 * Redis allows above maxmemory under noeviction, so it can free memory when Redis refuses everything
 * else. Index entries of dropped records are left to the age trimming (reads skip them).
 *
 * `batchSize` is how many ids the first call looks at; when they were not enough, the next batch is
 * twice as large, so that a large excess takes few round trips.
 */
export async function relieveLog(redis: Redis, bytes: number, batchSize = 100): Promise<LogRelief> {
  const relief: LogRelief = { records: 0, bytes: 0 };
  let batch = batchSize;
  while (relief.bytes < bytes) {
    const ids = await redis.zrange(logKeys.records, '0', String(batch - 1));
    if (ids.length === 0) break;
    const keys = [logKeys.records, logKeys.sizes, logKeys.bytes, ...ids.map(logKeys.record)];
    const wanted = String(bytes - relief.bytes);
    const [records, freed, left] = (await DROP_RECORDS.run(redis, keys, [wanted, ...ids])) as [
      number,
      number,
      number,
    ];
    relief.records += records;
    relief.bytes += freed;
    relief.left = left;
    batch = Math.max(batch, Math.min(batch * 2, MAX_BATCH));
  }
  return relief;
}
