import { deliveryJobKey, QUEUE_PREFIX, redisScript } from '@outpost/queue';
import type { Redis } from 'ioredis';

/**
 * "The final dot went out" marks. Once the dot is sent the receiver may keep the message whatever
 * happens to the worker next (RFC 1047); if the worker or Redis dies before the outcome is
 * recorded, the job runs again and sends again. Each transaction adds its recipients to the mark of
 * the job's current attempt just before its dot; a run that finds its attempt already marked is a
 * rerun after such a loss, and a delivery to a marked recipient is counted a possible duplicate.
 * A normal retry runs under the next attempt number, so it never sees the mark of the last one.
 *
 * Two runs of one attempt can also overlap: when Redis is away longer than a job lock, the lock
 * lapses under a session still in flight and the job is handed to another run. The mark is then
 * also where they meet: a run whose job lock now holds another run's token does not send its dot,
 * and a run that finds a recipient marked by someone else since its preflight counts the copy.
 */
export const sentMarkKey = (jobId: string, attempt: number) => `${QUEUE_PREFIX}:sent:${jobId}:${attempt}`;

/** BullMQ's lock of a running delivery job: it holds the token of the run that owns the job. */
export const deliveryLockKey = (jobId: string) => `${deliveryJobKey(jobId)}:lock`;

/** Marks outlive any rerun (a stalled job comes back within minutes unless every worker is down). */
const SENT_MARK_TTL_SECONDS = 7 * 86_400;

/** How long a dot may wait for its mark; past it the dot is withheld and the attempt deferred. */
export const SENT_MARK_TIMEOUT_MS = 5_000;

/**
 * KEYS: mark, job lock. ARGV: ttl, this run's lock token ('' = do not check), recipients...
 * Returns -1 when another run holds the lock (nothing marked), else which recipients were already
 * marked (SMISMEMBER flags) before this call added them all.
 */
const MARK = redisScript(`
local holder = redis.call('GET', KEYS[2])
if ARGV[2] ~= '' and holder and holder ~= ARGV[2] then return -1 end
local recipients = {}
for i = 3, #ARGV do recipients[#recipients + 1] = ARGV[i] end
local before = redis.call('SMISMEMBER', KEYS[1], unpack(recipients))
redis.call('SADD', KEYS[1], unpack(recipients))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
return before
`);

/** Another run owns the job now: this one must not send its dot (the owner delivers). */
export class JobTakenOverError extends Error {
  constructor() {
    super('another run of this job holds its lock now (the lock lapsed while Redis was away)');
    this.name = 'JobTakenOverError';
  }
}

export interface SentMark {
  key: string;
  /** The job's lock key and this run's token: checked in the same step as the mark. */
  lock?: { key: string; token: string };
}

/**
 * Adds the recipients to the mark and returns those that were already in it. Rejects when Redis
 * did not take the mark in time, or with JobTakenOverError when another run owns the job.
 */
export async function markSent(
  redis: Redis,
  mark: SentMark,
  recipients: readonly string[],
  timeoutMs = SENT_MARK_TIMEOUT_MS,
): Promise<string[]> {
  if (recipients.length === 0) return [];
  let timer: NodeJS.Timeout | undefined;
  const write = (
    MARK.run(
      redis,
      [mark.key, mark.lock?.key ?? `${mark.key}:no-lock`],
      [SENT_MARK_TTL_SECONDS, mark.lock?.token ?? '', ...recipients],
    ) as Promise<number | number[]>
  ).then((result) => {
    if (result === -1) throw new JobTakenOverError();
    if (!Array.isArray(result)) throw new Error('the mark was not written');
    return recipients.filter((_, index) => result[index] === 1);
  });
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Redis did not record the send within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([write, late]);
  } finally {
    clearTimeout(timer);
    write.catch(() => {});
  }
}

/** KEYS: job hash (its `data` field is the payload), job lock. ARGV: this run's token, payload JSON. 1 = written, 0 = not the owner. */
const UPDATE_IF_OWNER = redisScript(`
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'data', ARGV[2])
return 1
`);

/**
 * Job.updateData without the lock check BullMQ's own moves make: a run that lost its job to
 * another run (a lock lapsed during a Redis outage) must not rewrite the payload the owner is
 * working from. Rejects with JobTakenOverError, writing nothing, unless this run holds the lock.
 */
export async function updateDeliveryDataIfOwner(
  redis: Redis,
  job: { id: string; token: string },
  data: unknown,
): Promise<void> {
  const written = await UPDATE_IF_OWNER.run(
    redis,
    [deliveryJobKey(job.id), deliveryLockKey(job.id)],
    [job.token, JSON.stringify(data)],
  );
  if (written !== 1) throw new JobTakenOverError();
}

/** Drops a mark once its attempt's outcome is safely recorded (best effort: the TTL is the net). */
export function clearSentMark(redis: Redis, key: string): void {
  redis.del(key).catch(() => {});
}
