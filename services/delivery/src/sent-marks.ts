import { QUEUE_PREFIX } from '@outpost/queue';
import type { Redis } from 'ioredis';

/**
 * "The final dot went out" marks. Once the dot is sent the receiver may keep the message whatever
 * happens to the worker next (RFC 1047); if the worker or Redis dies before the outcome is
 * recorded, the job runs again and sends again. Each transaction adds its recipients to the mark of
 * the job's current attempt just before its dot; a run that finds its attempt already marked is a
 * rerun after such a loss, and a delivery to a marked recipient is counted a possible duplicate.
 * A normal retry runs under the next attempt number, so it never sees the mark of the last one.
 */
export const sentMarkKey = (jobId: string, attempt: number) => `${QUEUE_PREFIX}:sent:${jobId}:${attempt}`;

/** Marks outlive any rerun (a stalled job comes back within minutes unless every worker is down). */
const SENT_MARK_TTL_SECONDS = 7 * 86_400;

/** How long a dot may wait for its mark; past it the dot is withheld and the attempt deferred. */
export const SENT_MARK_TIMEOUT_MS = 5_000;

/** Adds the recipients to the mark; rejects when Redis did not take it in time. */
export async function markSent(
  redis: Redis,
  key: string,
  recipients: readonly string[],
  timeoutMs = SENT_MARK_TIMEOUT_MS,
): Promise<void> {
  if (recipients.length === 0) return;
  let timer: NodeJS.Timeout | undefined;
  const write = redis
    .multi()
    .sadd(key, ...recipients)
    .expire(key, SENT_MARK_TTL_SECONDS)
    .exec()
    .then((results) => {
      const failed = results?.find(([error]) => error)?.[0];
      if (!results || failed) throw failed ?? new Error('the mark was not written');
    });
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Redis did not record the send within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    await Promise.race([write, late]);
  } finally {
    clearTimeout(timer);
    write.catch(() => {});
  }
}

/** Drops a mark once its attempt's outcome is safely recorded (best effort: the TTL is the net). */
export function clearSentMark(redis: Redis, key: string): void {
  redis.del(key).catch(() => {});
}
