import { logKeys } from '@outpost/store';
import type { Redis } from 'ioredis';

/** The outcomes an attempt leaves in the delivery log, in the order the page stacks them. */
export const COUNTED_OUTCOMES = ['delivered', 'deferred', 'bounced', 'expired'] as const;
export type CountedOutcome = (typeof COUNTED_OUTCOMES)[number];

export const HOUR_MS = 3_600_000;

export interface OutcomeBucket {
  /** Start of the hour (epoch ms, UTC hour boundary); the last bucket is the hour running now. */
  start: number;
  counts: Record<CountedOutcome, number>;
}

export interface OutcomeCounts {
  bucketMs: number;
  from: number;
  until: number;
  buckets: OutcomeBucket[];
  totals: Record<CountedOutcome, number>;
}

const zeroCounts = (): Record<CountedOutcome, number> => ({
  delivered: 0,
  deferred: 0,
  bounced: 0,
  expired: 0,
});

/**
 * Recipient outcomes per hour over the last `hours` hours, counted on the delivery log's status
 * indexes (sorted sets scored by time): one ZCOUNT per hour and outcome, all in one round trip,
 * whatever the volume. An attempt for several recipients counts once per recipient.
 */
export async function outcomeCounts(redis: Redis, hours: number, now = Date.now()): Promise<OutcomeCounts> {
  const until = Math.floor(now / HOUR_MS) * HOUR_MS + HOUR_MS;
  const from = until - hours * HOUR_MS;
  const pipeline = redis.pipeline();
  for (let start = from; start < until; start += HOUR_MS)
    // `(end`: exclusive, so a record exactly on the hour counts once, in the hour it starts.
    for (const outcome of COUNTED_OUTCOMES)
      pipeline.zcount(logKeys.index('status', outcome), start, `(${start + HOUR_MS}`);
  const answers = (await pipeline.exec()) ?? [];
  const buckets: OutcomeBucket[] = [];
  const totals = zeroCounts();
  let answer = 0;
  for (let start = from; start < until; start += HOUR_MS) {
    const counts = zeroCounts();
    for (const outcome of COUNTED_OUTCOMES) {
      const [error, count] = answers[answer++] ?? [null, 0];
      if (error) throw error;
      counts[outcome] = Number(count);
      totals[outcome] += counts[outcome];
    }
    buckets.push({ start, counts });
  }
  return { bucketMs: HOUR_MS, from, until, buckets, totals };
}
