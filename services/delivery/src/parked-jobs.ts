import { Job, type Queue } from 'bullmq';
import type { DestinationLimiter } from './destination-limiter.ts';

const PROMOTE_AT_ONCE = 100;

/**
 * Brings back now the jobs parked behind a destination's pauses (destination-limiter.ts,
 * holdBack), once a definite answer there, or an operator's resume, says it takes mail again.
 * A parked job is an ordinary delayed job: one that already came back on its own, or was removed,
 * is skipped, and one this misses (a crash here) still comes back at its own time.
 */
export async function releaseParked(
  limiter: Pick<DestinationLimiter, 'takeParked'>,
  deliveryQueue: Queue,
  destination: string,
): Promise<number> {
  const ids = await limiter.takeParked(destination);
  let released = 0;
  for (let start = 0; start < ids.length; start += PROMOTE_AT_ONCE) {
    await Promise.all(
      ids.slice(start, start + PROMOTE_AT_ONCE).map(async (id) => {
        const job = await Job.fromId(deliveryQueue, id).catch(() => undefined);
        await job?.promote().then(
          () => released++,
          () => {},
        );
      }),
    );
  }
  return released;
}
