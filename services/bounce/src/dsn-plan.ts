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
}

/**
 * Decides once per window and keeps the decision: a retried send job (the write failed) neither
 * counts against the backscatter limit again nor writes the DSN under a new id, so the retry's
 * write is the same flow, which BullMQ ignores if the first write did land.
 */
export async function planOnce(
  redis: Redis,
  key: string,
  ttlMs: number,
  decide: () => Promise<DsnVerdict>,
  newId: () => string,
): Promise<DsnPlan> {
  const stored = await redis.hgetall(key);
  if (isPlan(stored)) return stored;
  const verdict = await decide();
  await redis
    .multi()
    .hsetnx(key, 'verdict', verdict)
    .hsetnx(key, 'dsnId', newId())
    .pexpire(key, ttlMs)
    .exec();
  const plan = await redis.hgetall(key);
  if (!isPlan(plan)) throw new Error(`DSN plan ${key} could not be stored`);
  return plan;
}

function isPlan(value: Record<string, string>): value is Record<string, string> & DsnPlan {
  return (
    (value.verdict === 'send' || value.verdict === 'capped' || value.verdict === 'double-bounce') &&
    typeof value.dsnId === 'string'
  );
}
