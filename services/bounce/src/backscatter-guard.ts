import { redisScript } from '@outpost/queue';
import type { Redis } from 'ioredis';
import { dsnKeys } from './bounce-keys.ts';

const HOUR_MS = 3_600_000;

/** INCR, and start the hour with the first DSN: the counter lives one hour from then. */
const COUNT = redisScript(`
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return count
`);

/**
 * Backscatter guard: mail with a forged sender makes us bounce to an innocent address; at most
 * `limit` DSNs per sender address per hour go out, the rest are recorded instead (0 = no limit).
 * Counts this DSN and answers whether it may go.
 */
export async function mayNotifySender(redis: Redis, sender: string, limit: number): Promise<boolean> {
  if (limit <= 0) return true;
  const count = Number(await COUNT.run(redis, [dsnKeys.senderRate(sender)], [String(HOUR_MS)]));
  return count <= limit;
}
