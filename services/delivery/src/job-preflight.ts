import { controlKeys } from '@outpost/queue';
import type { Redis } from 'ioredis';

export interface Preflight {
  /** An operator holds the domain or the message: the job waits (status `held`). */
  held: boolean;
  /** Recipients an earlier run of this same attempt sent the final dot for (see sent-marks.ts). */
  sentBefore: Set<string>;
}

/** What a delivery job must know before it starts, in one round trip to Redis. */
export async function preflight(
  redis: Redis,
  job: { domain: string; messageId: string; sentMarkKey: string },
): Promise<Preflight> {
  const results = await redis
    .pipeline()
    .exists(controlKeys.pausedDomain(job.domain))
    .exists(controlKeys.heldMessage(job.messageId))
    .smembers(job.sentMarkKey)
    .exec();
  if (!results) throw new Error('preflight: no reply from Redis');
  for (const [error] of results) if (error) throw error;
  const [[, domainPaused], [, messageHeld], [, sent]] = results as [
    [null, number],
    [null, number],
    [null, string[]],
  ];
  return { held: domainPaused === 1 || messageHeld === 1, sentBefore: new Set(sent) };
}
