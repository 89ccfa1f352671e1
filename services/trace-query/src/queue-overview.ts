import { controlKeys, oldestQueuedMessage } from '@outpost/queue';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { OutpostQueues } from './message-jobs.ts';
import { scanKeySuffixes } from './scan-keys.ts';

const STATES = [
  'waiting',
  'active',
  'delayed',
  'prioritized',
  'waiting-children',
  'failed',
  'completed',
] as const;

export interface QueueOverview {
  /** The cluster-wide switch (`outpost delivery pause`): nothing is delivered while it is on. */
  deliveryPaused: boolean;
  /** Job counts by state, per queue. */
  queues: Record<keyof OutpostQueues, Record<string, number>>;
  /** The message waiting longest. */
  oldestMessage?: { messageId: string; arrivalTime: number; ageMs: number };
  heldMessages: number;
  heldDomains: string[];
}

export async function queueOverview(
  redis: Redis,
  queues: OutpostQueues,
  now = Date.now(),
): Promise<QueueOverview> {
  const counts = async (queue: Queue) => queue.getJobCounts(...STATES);
  const [message, delivery, bounce, webhook] = await Promise.all(
    [queues.message, queues.delivery, queues.bounce, queues.webhook].map(counts),
  );
  const oldest = await oldestQueuedMessage(queues);
  const heldMessages = (await scanKeySuffixes(redis, controlKeys.heldMessage(''))).length;
  const heldDomains = (await scanKeySuffixes(redis, controlKeys.pausedDomain(''))).sort();
  return {
    deliveryPaused: await queues.delivery.isPaused(),
    queues: { message: message!, delivery: delivery!, bounce: bounce!, webhook: webhook! },
    ...(oldest && { oldestMessage: { ...oldest, ageMs: Math.max(now - oldest.arrivalTime, 0) } }),
    heldMessages,
    heldDomains,
  };
}
