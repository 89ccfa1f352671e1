import type { Message } from '@outpost/core';
import type { Cluster, Redis } from 'ioredis';
import { messageBodyKey, messageJobKey } from './names.ts';
import { fromMessageJobData, type MessageJobData } from './payloads.ts';

/**
 * A queued message with its body, in one round trip: only the job's `data` field (not the whole
 * job hash BullMQ's getJob reads and parses) and the body as a Buffer. Undefined when the message
 * job is gone (finished, or deleted by an operator).
 */
export async function loadQueuedMessage(
  redis: Redis | Cluster,
  messageId: string,
): Promise<Message | undefined> {
  const [data, body] = await Promise.all([
    redis.hget(messageJobKey(messageId), 'data'),
    redis.getBuffer(messageBodyKey(messageId)),
  ]);
  if (data === null) return undefined;
  return fromMessageJobData(JSON.parse(data) as MessageJobData, body);
}

/**
 * The end of a message: its body goes, with any other keys that end with it, in one command (the
 * job itself goes with BullMQ's removeOnComplete).
 */
export async function deleteMessageBody(
  redis: Redis | Cluster,
  messageId: string,
  alsoKeys: readonly string[] = [],
): Promise<void> {
  await redis.del(messageBodyKey(messageId), ...alsoKeys);
}
