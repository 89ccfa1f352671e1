import { controlKeys, redisScript, type SuppressionEntry, suppressionKey } from '@outpost/queue';
import type { Redis } from 'ioredis';

export interface Preflight {
  /** An operator holds the domain or the message: the job waits (status `held`). */
  held: boolean;
  /** Recipients an earlier run of this same attempt sent the final dot for (see sent-marks.ts). */
  sentBefore: Set<string>;
  /** The recipients on the suppression list now, with their entries. */
  suppressed: Map<string, SuppressionEntry>;
  /** The body, when asked for (`bodyKey`): null when it is gone (the message is finished). */
  body?: Buffer | null;
}

// KEYS: 1 paused-domain flag, 2 held-message flag, 3 send mark, 4 body (or the mark again when no
// body is wanted), 5.. the recipients' suppression entries. ARGV: 1 '1' to read the body.
// Returns {held count, marked recipients, body or nil, suppression entry or nil per recipient}.
const JOB_START = redisScript(`
local held = redis.call('EXISTS', KEYS[1]) + redis.call('EXISTS', KEYS[2])
local body = false
if ARGV[1] == '1' then body = redis.call('GET', KEYS[4]) end
local suppressed = {}
for i = 5, #KEYS do suppressed[#suppressed + 1] = redis.call('GET', KEYS[i]) end
return {held, redis.call('SMEMBERS', KEYS[3]), body, suppressed}
`);

/**
 * What a delivery job must know before it starts, read by one script: whether an operator holds it,
 * what an earlier run already sent, which recipients are suppressed and (a solo job's) the body.
 * Five commands in one: on the delivery path each command's client-side cost (its objects, its
 * reply) counted, and an allocation profile of a worker put ioredis first.
 */
export async function preflight(
  redis: Redis,
  job: {
    domain: string;
    messageId: string;
    sentMarkKey: string;
    addresses: readonly string[];
    bodyKey?: string;
  },
): Promise<Preflight> {
  const keys = [
    controlKeys.pausedDomain(job.domain),
    controlKeys.heldMessage(job.messageId),
    job.sentMarkKey,
    job.bodyKey ?? job.sentMarkKey,
    ...job.addresses.map(suppressionKey),
  ];
  const [held, sent, body, entries] = (await JOB_START.runBuffer(redis, keys, [job.bodyKey ? '1' : '0'])) as [
    number,
    Buffer[],
    Buffer | null,
    (Buffer | null)[],
  ];
  const suppressed = new Map<string, SuppressionEntry>();
  entries.forEach((entry, index) => {
    if (!entry) return;
    try {
      suppressed.set(job.addresses[index]!, JSON.parse(entry.toString()) as SuppressionEntry);
    } catch {
      // An unreadable entry suppresses nothing: the list must never stop delivery by accident.
    }
  });
  return {
    held: Number(held) > 0,
    sentBefore: new Set(sent.map((recipient) => recipient.toString())),
    suppressed,
    ...(job.bodyKey && { body }),
  };
}
