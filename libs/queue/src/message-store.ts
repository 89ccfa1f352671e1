import type { Message } from '@outpost/core';
import type { Cluster, Redis } from 'ioredis';
import { deliveryJobId, deliveryJobKey, messageBodyKey, messageJobKey } from './names.ts';
import {
  type DeliveryJobData,
  fromMessageJobData,
  isSoloDeliveryJob,
  type MessageJobData,
} from './payloads.ts';

/**
 * A queued message with its body: only the job's `data` field (not the whole job hash BullMQ's
 * getJob reads and parses) and the body as a Buffer. A message for one domain has no message job:
 * its solo delivery job carries the envelope (payloads.ts, DeliveryJobDataV2), read on a second
 * round trip. Undefined when the message is finished or was deleted by an operator.
 */
export async function loadQueuedMessage(
  redis: Redis | Cluster,
  messageId: string,
): Promise<Message | undefined> {
  const [data, body] = await Promise.all([
    redis.hget(messageJobKey(messageId), 'data'),
    redis.getBuffer(messageBodyKey(messageId)),
  ]);
  if (data !== null) return fromMessageJobData(JSON.parse(data) as MessageJobData, body);
  const solo = await redis.hget(deliveryJobKey(deliveryJobId(messageId, 0)), 'data');
  const delivery = solo === null ? undefined : (JSON.parse(solo) as DeliveryJobData);
  // A completed solo job stays a while (removeOnComplete), its body does not.
  if (!delivery || !isSoloDeliveryJob(delivery) || body === null) return undefined;
  return fromMessageJobData(delivery.message, body);
}

/**
 * The end of a message: its body goes, with any other keys that end with it, in one command (the
 * job itself goes with BullMQ's removeOnComplete). Run by the message job of a flow, or by a solo
 * delivery job as its last step.
 */
export async function deleteMessageBody(
  redis: Redis | Cluster,
  messageId: string,
  alsoKeys: readonly string[] = [],
): Promise<void> {
  await redis.del(messageBodyKey(messageId), ...alsoKeys);
}
