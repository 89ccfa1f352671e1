import { controlKeys, type DeliveryJobData, domainKeyPart, QUEUE_NAMES, QUEUE_PREFIX } from '@outpost/queue';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { createDestinationLimiter, type DestinationState } from './destination-limiter.ts';
import { releaseParked } from './parked-jobs.ts';

const pausedDomainKey = controlKeys.pausedDomain;
const destinationOfKey = (domain: string) => `${QUEUE_PREFIX}:dest-of:${domainKeyPart(domain)}`;

const DESTINATION_TTL_SECONDS = 7 * 86_400;
/** A destination this process wrote is written again only when it changes or after this long. */
const DESTINATION_REWRITE_MS = 3_600_000;
/** Domains remembered per connection; past this many the oldest are forgotten (and written again). */
const REMEMBERED_DOMAINS_MAX = 10_000;

/** Per connection (another Redis is another store): domain -> what was written, and when. */
const written = new WeakMap<Redis, Map<string, { destination: string; at: number }>>();

/**
 * Remembers which destination (MX set) a domain was last routed to, for the operator verbs. Every
 * attempt routes its domain, but the answer seldom changes: the SET goes out only when this
 * process has not written the same destination within the last hour (the key lives a week).
 */
export async function rememberDestination(
  redis: Redis,
  domain: string,
  destination: string,
  now = Date.now(),
): Promise<void> {
  const name = domain.toLowerCase();
  let domains = written.get(redis);
  if (!domains) {
    domains = new Map();
    written.set(redis, domains);
  }
  const last = domains.get(name);
  if (last?.destination === destination && now - last.at < DESTINATION_REWRITE_MS) return;
  // Noted before the write, so that concurrent jobs for the domain do not each write it too.
  const entry = { destination, at: now };
  domains.delete(name); // re-inserted last: the map's order is the order of writes
  domains.set(name, entry);
  if (domains.size > REMEMBERED_DOMAINS_MAX) domains.delete(domains.keys().next().value!);
  try {
    await redis.set(destinationOfKey(name), destination, 'EX', DESTINATION_TTL_SECONDS);
  } catch (error) {
    if (domains.get(name) === entry) domains.delete(name);
    throw error;
  }
}

/**
 * The operator verbs: the FAQ's "delivery is switched off" is a global pause of the delivery queue,
 * visible as such; a domain can be held and released; flush retries a domain's waiting jobs now.
 */
export function createOperatorControls(redis: Redis) {
  const deliveryQueue = new Queue<DeliveryJobData>(QUEUE_NAMES.delivery, {
    connection: redis,
    prefix: QUEUE_PREFIX,
  });
  deliveryQueue.on('error', () => {});
  const limiter = createDestinationLimiter(redis);
  /** Ends the domain's hold and its destination's pause; the jobs parked behind it come back now. */
  const resume = async (domain: string): Promise<number> => {
    await redis.del(pausedDomainKey(domain));
    const destination = await redis.get(destinationOfKey(domain));
    if (!destination) return 0;
    await limiter.resume(destination);
    return releaseParked(limiter, deliveryQueue, destination);
  };

  return {
    async destinations(): Promise<DestinationState[]> {
      return limiter.list();
    },

    async pauseDomain(domain: string): Promise<void> {
      await redis.set(pausedDomainKey(domain), String(Date.now()));
    },

    async resumeDomain(domain: string): Promise<void> {
      await resume(domain);
    },

    /**
     * Releases any pause of the domain and its destination, and moves its delayed jobs to now
     * (with the jobs parked behind the destination's pause, whatever their domain): how many moved.
     */
    async flushDomain(domain: string): Promise<number> {
      let promoted = await resume(domain);
      const wanted = domainKeyPart(domain);
      for (let start = 0; ; start += 500) {
        const jobs = await deliveryQueue.getDelayed(start, start + 499);
        for (const job of jobs) {
          if (job.data.domain === wanted) {
            await job.promote().then(
              () => promoted++,
              () => {},
            );
          }
        }
        if (jobs.length < 500) break;
      }
      return promoted;
    },

    async pauseDelivery(): Promise<void> {
      await deliveryQueue.pause();
    },

    async resumeDelivery(): Promise<void> {
      await deliveryQueue.resume();
    },

    async status(): Promise<{ paused: boolean; counts: Record<string, number> }> {
      return {
        paused: await deliveryQueue.isPaused(),
        counts: await deliveryQueue.getJobCounts(
          'waiting',
          'active',
          'delayed',
          'failed',
          'waiting-children',
        ),
      };
    },

    close: () => deliveryQueue.close(),
  };
}
