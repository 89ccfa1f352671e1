import { isMessageId, messageIdTime } from '@outpost/core';
import type { Queue } from 'bullmq';

/** Jobs read from each end of the delivery queue's delayed set (ids only, no job is loaded). */
const DELAYED_SAMPLE = 100;

/**
 * The unfinished message that arrived first, from job ids alone: message ids are UUIDv7, so an id
 * tells its arrival time (delivery job ids are `<message id>.d<n>`). A flow's message job waits in
 * `waiting-children` in arrival order, so flows are exact; a solo delivery job (a one-domain
 * message) being retried sits in `delayed`, ordered by its next attempt. There the first and the
 * last DELAYED_SAMPLE jobs are read: exact up to twice that many retrying jobs, and beyond it the
 * long-retried jobs, which backoff puts last, are still seen.
 */
export async function oldestQueuedMessage(queues: {
  message: Queue;
  delivery: Queue;
}): Promise<{ messageId: string; arrivalTime: number } | undefined> {
  const ids = (
    await Promise.all([
      queues.message.getRanges(['waiting-children', 'waiting', 'delayed', 'active', 'failed'], 0, 0, true),
      queues.delivery.getRanges(['waiting', 'prioritized', 'active', 'failed'], 0, 0, true),
      queues.delivery.getRanges(['delayed'], 0, DELAYED_SAMPLE - 1, true),
      queues.delivery.getRanges(['delayed'], 0, DELAYED_SAMPLE - 1, false),
    ])
  ).flat();
  let oldest: { messageId: string; arrivalTime: number } | undefined;
  for (const id of ids) {
    const messageId = id.replace(/\.d\d+$/, '');
    if (!isMessageId(messageId)) continue;
    const arrivalTime = messageIdTime(messageId);
    if (!oldest || arrivalTime < oldest.arrivalTime) oldest = { messageId, arrivalTime };
  }
  return oldest;
}
