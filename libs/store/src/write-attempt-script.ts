import { redisScript } from '@outpost/queue';
import { entryMember, logKeys } from './keys.ts';
import type { AttemptRecord, RecipientState, RecipientVerdict } from './records.ts';

/**
 * One attempt's record, its indexes and the recipients' states after it, written by one script:
 * atomic as the MULTI it replaces, but one command on the wire instead of 15-20 (the attempt record
 * is written once per delivered message, so each command's client-side cost counted). On a
 * message's first attempt the message's metadata goes with it, and when the attempt finishes the
 * message, the keys that go with it (its body, its send marks) are deleted in the same script.
 *
 * KEYS: 1 log size counter, 2 record, 3 records by time, 4 record sizes, 5 message's attempts,
 *       6 set of index keys, 7 message's recipient states, 8 message's metadata, then D keys to
 *       delete, then the index sorted sets.
 * ARGV: 1 record id, 2 record JSON, 3 its size (as the size counter counts it), 4 ttl ms, 5 time,
 *       6 metadata JSON ('' = leave it), 7 D, 8 E = index entries, then E pairs (KEYS position,
 *       member), then (address, state JSON) pairs.
 * Returns the log's size with this record.
 */
const WRITE_ATTEMPT = redisScript(`
local bytes = redis.call('INCRBY', KEYS[1], ARGV[3])
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[1])
redis.call('HSET', KEYS[4], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[5], ARGV[5], ARGV[1])
redis.call('PEXPIRE', KEYS[5], ARGV[4])
if ARGV[6] ~= '' then
  redis.call('SET', KEYS[8], ARGV[6], 'PX', ARGV[4])
end
local firstIndex = 9 + tonumber(ARGV[7])
local at = 9
for _ = 1, tonumber(ARGV[8]) do
  redis.call('ZADD', KEYS[tonumber(ARGV[at])], ARGV[5], ARGV[at + 1])
  at = at + 2
end
-- unpack() is bounded by Lua's stack: add the index keys in slices.
for first = firstIndex, #KEYS, 500 do
  redis.call('SADD', KEYS[6], unpack(KEYS, first, math.min(first + 499, #KEYS)))
end
if at < #ARGV then
  while at < #ARGV do
    redis.call('HSET', KEYS[7], ARGV[at], ARGV[at + 1])
    at = at + 2
  end
  redis.call('PEXPIRE', KEYS[7], ARGV[4])
end
if firstIndex > 9 then
  redis.call('DEL', unpack(KEYS, 9, firstIndex - 1))
end
return bytes
`);

export interface AttemptWrite {
  keys: string[];
  args: string[];
}

/** What may go with an attempt's record in the same script. */
export interface AttemptWriteExtras {
  /** The message's metadata (its first attempt). */
  meta?: Record<string, unknown>;
  /** Keys that end with this attempt: a finished message's body and send marks. */
  alsoDelete?: readonly string[];
}

/** The script's KEYS and ARGV for one record (pure: see the layout above). */
export function attemptWriteOf(
  record: AttemptRecord,
  states: readonly RecipientState[],
  ttlMs: number,
  extras: AttemptWriteExtras = {},
): AttemptWrite {
  const text = JSON.stringify(record);
  const alsoDelete = extras.alsoDelete ?? [];
  const keys = [
    logKeys.bytes,
    logKeys.record(record.id),
    logKeys.records,
    logKeys.sizes,
    logKeys.messageAttempts(record.messageId),
    logKeys.indexes,
    logKeys.messageRecipients(record.messageId),
    logKeys.messageMeta(record.messageId),
    ...alsoDelete,
  ];
  const positions = new Map<string, number>();
  const entries: string[] = [];
  record.recipients.forEach((recipient, index) => {
    const member = entryMember(record.id, index);
    for (const key of indexKeysOf(record, recipient)) {
      let position = positions.get(key);
      if (position === undefined) {
        keys.push(key);
        position = keys.length; // Lua's KEYS count from 1
        positions.set(key, position);
      }
      entries.push(String(position), member);
    }
  });
  const args = [
    record.id,
    text,
    // The size counter and the sizes hash have always counted UTF-16 code units; trims subtract them.
    String(text.length),
    String(ttlMs),
    String(record.time),
    extras.meta ? JSON.stringify(extras.meta) : '',
    String(alsoDelete.length),
    String(entries.length / 2),
    ...entries,
    ...states.flatMap((state) => [state.address, JSON.stringify(state)]),
  ];
  return { keys, args };
}

/** Runs the write; resolves with the log's size including this record. */
export async function writeAttempt(
  redis: Parameters<typeof WRITE_ATTEMPT.run>[0],
  write: AttemptWrite,
): Promise<number> {
  return Number(await WRITE_ATTEMPT.run(redis, write.keys, write.args));
}

export function indexKeysOf(record: AttemptRecord, recipient: RecipientVerdict): string[] {
  return [
    logKeys.index('all'),
    logKeys.index('status', recipient.status),
    logKeys.index('domain', record.domain),
    logKeys.index('rcpt', recipient.address),
    logKeys.index('cat', recipient.category),
    ...(recipient.replyCode !== undefined ? [logKeys.index('code', String(recipient.replyCode))] : []),
    ...(recipient.status === 'bounced' || recipient.status === 'expired'
      ? [logKeys.index('status', 'failed')]
      : []),
  ];
}
