import { groupRecipientsByDomain } from '@outpost/core';
import {
  controlKeys,
  type DeliveryJobData,
  deliveryJobId,
  domainKeyPart,
  isSoloDeliveryJob,
  type MessageJobData,
  QUEUE_NAMES,
  QUEUE_PREFIX,
} from '@outpost/queue';
import { type Job, type JobState, Queue } from 'bullmq';
import type { Redis } from 'ioredis';

export interface OutpostQueues {
  message: Queue<MessageJobData>;
  delivery: Queue<DeliveryJobData>;
  bounce: Queue;
  webhook: Queue;
}

export function openQueues(redis: Redis): OutpostQueues {
  const open = (name: string) => {
    const queue = new Queue(name, { connection: redis, prefix: QUEUE_PREFIX });
    queue.on('error', () => {}); // connection trouble surfaces in the calls that need Redis
    return queue;
  };
  return {
    message: open(QUEUE_NAMES.message),
    delivery: open(QUEUE_NAMES.delivery),
    bounce: open(QUEUE_NAMES.bounce),
    webhook: open(QUEUE_NAMES.webhook),
  };
}

export async function closeQueues(queues: OutpostQueues): Promise<void> {
  await Promise.all(Object.values(queues).map((queue: Queue) => queue.close()));
}

export interface DeliveryJobState {
  job: Job<DeliveryJobData>;
  state: JobState | 'unknown';
}

/** A delivery job that still has work: anything but completed (failed ones are swept back). */
export const isPending = (entry: DeliveryJobState): boolean => entry.state !== 'completed';

/** A queued message: its envelope, and how to take it out of the queue with all its jobs. */
export interface QueuedMessage {
  data: MessageJobData;
  /** Removes the message's jobs; BullMQ refuses (throws) while one of them is locked. */
  remove(): Promise<void>;
}

/**
 * A message's jobs: the message (absent once it is finished) and its delivery jobs. A message for
 * several domains is a flow, the message job and one delivery job per domain with ids `<id>.d<n>`
 * in the envelope's first-seen domain order; a message for one domain is one solo delivery job
 * `<id>.d0` that carries the envelope (DeliveryJobDataV2). A completed solo job is kept a while
 * (removeOnComplete), but its message is finished.
 */
export async function findMessageJobs(
  queues: OutpostQueues,
  messageId: string,
): Promise<{ message?: QueuedMessage; deliveries: DeliveryJobState[] }> {
  const parent = await queues.message.getJob(messageId);
  if (!parent) {
    const job = await queues.delivery.getJob(deliveryJobId(messageId, 0));
    if (!job || !isSoloDeliveryJob(job.data)) return { deliveries: [] };
    const state = await job.getState();
    if (state === 'completed') return { deliveries: [{ job, state }] };
    return { message: { data: job.data.message, remove: () => job.remove() }, deliveries: [{ job, state }] };
  }
  const domains = groupRecipientsByDomain(parent.data.recipients).size;
  const jobs = await Promise.all(
    Array.from({ length: domains }, (_, index) => queues.delivery.getJob(deliveryJobId(messageId, index))),
  );
  const deliveries: DeliveryJobState[] = [];
  for (const job of jobs) if (job) deliveries.push({ job, state: await job.getState() });
  const message = { data: parent.data, remove: () => parent.remove({ removeChildren: true }) };
  return { message, deliveries };
}

/** Waiting and delayed delivery jobs of one domain (scanned: the queue has no index by domain). */
export async function findDomainJobs(queues: OutpostQueues, domain: string): Promise<Job<DeliveryJobData>[]> {
  return (await findJobsOfDomains(queues, [domain])).get(domainKeyPart(domain)) ?? [];
}

/** The pending delivery jobs of several domains, in one pass over the queue (it may be long). */
export async function findJobsOfDomains(
  queues: OutpostQueues,
  domains: readonly string[],
): Promise<Map<string, Job<DeliveryJobData>[]>> {
  // Keyed as jobs name their domain (lower-case A-labels), whatever form the operator typed.
  const found = new Map(domains.map((domain) => [domainKeyPart(domain), [] as Job<DeliveryJobData>[]]));
  if (found.size === 0) return found;
  for (let start = 0; ; start += 500) {
    const jobs = await queues.delivery.getJobs(['delayed', 'waiting', 'prioritized'], start, start + 499);
    for (const job of jobs) found.get(job?.data?.domain)?.push(job);
    // Pages are per state: keep going while any state may have more.
    if (jobs.length < 500) break;
  }
  return found;
}

/** When a delayed job is due: BullMQ scores delayed jobs as `due * 0x1000 + sequence`. */
export async function dueTime(
  redis: Redis,
  queues: OutpostQueues,
  jobId: string,
): Promise<number | undefined> {
  const score = await redis.zscore(queues.delivery.keys.delayed!, jobId);
  return score === null ? undefined : Math.floor(Number(score) / 0x1000);
}

export interface HoldMark {
  by: string;
  at: number;
}

/** Who holds a message or a domain; `{}` for a hold set by older tools that stored only a time. */
export async function holdOf(redis: Redis, key: string): Promise<HoldMark | undefined> {
  const value = await redis.get(key);
  if (value === null) return undefined;
  try {
    const parsed = JSON.parse(value) as Partial<HoldMark> | number;
    if (typeof parsed === 'number') return { by: 'unknown', at: parsed };
    return { by: parsed.by ?? 'unknown', at: parsed.at ?? 0 };
  } catch {
    return { by: value, at: 0 };
  }
}

export const messageHold = (redis: Redis, messageId: string) =>
  holdOf(redis, controlKeys.heldMessage(messageId));
export const domainHold = (redis: Redis, domain: string) => holdOf(redis, controlKeys.pausedDomain(domain));
