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
  // Plain commands, not a pipeline of their own: on an auto-pipelining connection they share a
  // write with whatever the other jobs send in the same turn.
  const [domainPaused, messageHeld, sent] = await Promise.all([
    redis.exists(controlKeys.pausedDomain(job.domain)),
    redis.exists(controlKeys.heldMessage(job.messageId)),
    redis.smembers(job.sentMarkKey),
  ]);
  return { held: domainPaused === 1 || messageHeld === 1, sentBefore: new Set(sent) };
}
