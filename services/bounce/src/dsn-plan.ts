import type { Redis } from 'ioredis';

/**
 * What becomes of a window's DSN: sent to the sender, recorded because the sender is over the
 * backscatter limit, or recorded as a double bounce (the sender is <>).
 */
export type DsnVerdict = 'send' | 'capped' | 'double-bounce';

export interface DsnPlan {
  verdict: DsnVerdict;
  /** The id the DSN (or the postmaster copy) gets as a message. */
  dsnId: string;
  /** The DSN was queued by an earlier run of the job (markPlan 'written'). */
  written: boolean;
  /** Its webhook events were queued by an earlier run (markPlan 'announced'). */
  announced: boolean;
}

/**
 * Decides once per window and keeps the decision: a retried send job (the write failed) neither
 * counts against the backscatter limit again nor writes the DSN under a new id, so the retry's
 * write is the same flow, which BullMQ ignores if the first write did land. Once the write has
 * landed it is marked (markPlan) and a retry (a later step failed, or the worker died) writes
 * nothing: the DSN may be delivered and its body gone by then, and a second write would store the
 * body again with no job to delete it, or queue the DSN twice. Its webhook events are marked the
 * same way, so that a retry does not send them again under new event ids.
 */
export async function planOnce(
  redis: Redis,
  key: string,
  ttlMs: number,
  decide: () => Promise<DsnVerdict>,
  newId: () => string,
): Promise<DsnPlan> {
  const stored = await redis.hgetall(key);
  if (isPlan(stored)) return planOf(stored);
  const verdict = await decide();
  await redis
    .multi()
    .hsetnx(key, 'verdict', verdict)
    .hsetnx(key, 'dsnId', newId())
    .pexpire(key, ttlMs)
    .exec();
  const plan = await redis.hgetall(key);
  if (!isPlan(plan)) throw new Error(`DSN plan ${key} could not be stored`);
  return planOf(plan);
}

/** Notes in the plan that a step is done: its DSN queued, or its webhook events. */
export async function markPlan(redis: Redis, key: string, step: 'written' | 'announced'): Promise<void> {
  await redis.hset(key, step, '1');
}

function planOf(stored: Record<string, string> & Pick<DsnPlan, 'verdict' | 'dsnId'>): DsnPlan {
  return {
    verdict: stored.verdict,
    dsnId: stored.dsnId,
    written: stored.written === '1',
    announced: stored.announced === '1',
  };
}

function isPlan(
  value: Record<string, string>,
): value is Record<string, string> & Pick<DsnPlan, 'verdict' | 'dsnId'> {
  return (
    (value.verdict === 'send' || value.verdict === 'capped' || value.verdict === 'double-bounce') &&
    typeof value.dsnId === 'string'
  );
}
